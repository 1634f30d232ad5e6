#!/usr/bin/env bash
# Run the whole test suite on SQLite and then on PostgreSQL, browser tests included.
# Works on a fresh machine: it makes the virtualenv, installs Patron with its dev tools,
# starts the local PostgreSQL if it is down and installs Debian's chromium and gettext if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
if ! .venv/bin/python -c "import patron, pytest_django, playwright, pyspark" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e ".[dev]"
  touch .venv/.installed
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! command -v chromium >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
if ! command -v xgettext >/dev/null 2>&1; then
  # The translation tests check that every message in the code is in the catalogues (makemessages needs it).
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext) >/dev/null
fi
if ! command -v java >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless) >/dev/null
fi

export PATRON_DATA_DIR=${PATRON_DATA_DIR:-$(mktemp -d)}
PG_URL=${PATRON_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}

echo "== SQLite =="
env -u DATABASE_URL .venv/bin/pytest -n 2 --dist loadgroup "$@"
echo "== PostgreSQL ($PG_URL) =="
DATABASE_URL="$PG_URL" .venv/bin/pytest -n 2 --dist loadgroup -m "not spark" "$@"
