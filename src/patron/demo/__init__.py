"""The demo: a database full of realistic customers, made and served by ``patron demo``.

Which database the demo uses, in order:

1. ``--db PATH``: a SQLite file at PATH;
2. ``DATABASE_URL``, when it is set (PostgreSQL, say) and ``--db`` is not given;
3. otherwise its own SQLite file in the data folder: ``demo.sqlite3`` (``demo-large.sqlite3`` for ``--size large``),
   so the demo never mixes with the ``patron.sqlite3`` a real installation keeps there.

Django reads ``DATABASE_URL`` once, when its settings load, so the choice must be made before that. The console
script calls :func:`prepare_environment` first; when it has not (``python -m django``, ``call_command``), the demo
command sees the settings point elsewhere and runs itself again with ``DATABASE_URL`` set.

This module imports nothing from Django, so it is safe to use before settings exist.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

import platformdirs

SIZES = ("small", "large")


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return the user's Patron data folder, as the settings compute it."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("PATRON_DATA_DIR") or platformdirs.user_data_dir("patron"))


def default_demo_path(size: str = "small", environ: Mapping[str, str] | None = None) -> Path:
    """Return the demo's own SQLite file for ``size`` in the data folder."""
    return data_dir(environ) / ("demo.sqlite3" if size == "small" else f"demo-{size}.sqlite3")


def demo_database_url(db: str | None, size: str = "small", environ: Mapping[str, str] | None = None) -> str:
    """Return the database URL the demo uses for ``--db`` (or None) and ``--size``."""
    environ = os.environ if environ is None else environ
    if db:
        return f"sqlite:///{Path(db).expanduser().resolve()}"
    if environ.get("DATABASE_URL"):
        return environ["DATABASE_URL"]
    path = default_demo_path(size, environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def demo_options(argv: list[str]) -> tuple[str | None, str]:
    """Read ``--db`` and ``--size`` from a ``patron demo ...`` command line (other options are ignored)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    parser.add_argument("--size", default="small")
    known, _ = parser.parse_known_args(argv[2:] if len(argv) > 1 and argv[1] == "demo" else argv)
    return known.db, known.size


def prepare_environment(argv: list[str], environ: MutableMapping[str, str] | None = None) -> str:
    """Point ``DATABASE_URL`` at the demo database before Django's settings load; return the URL."""
    environ = os.environ if environ is None else environ
    db, size = demo_options(argv)
    url = demo_database_url(db, size if size in SIZES else "small", environ)
    environ["DATABASE_URL"] = url
    return url
