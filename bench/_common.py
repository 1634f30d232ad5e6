"""Helpers shared by the CRM benches: their own databases, seeding with the demo generator, a WSGI server.

Every bench prints the command line that made its figures. PostgreSQL benches use a database of their own
(created when missing), so they never touch the test database or anyone's data.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
_GIVEN_ENV = {k: os.environ[k] for k in ("DATABASE_URL",) if os.environ.get(k)}


def command_line() -> str:
    """Return the command that started this bench, to print beside its figures."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in _GIVEN_ENV.items())
    return " ".join(p for p in (env, ".venv/bin/python", *map(shlex.quote, sys.argv)) if p)


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database ``url`` names if it does not exist yet."""
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    if not cfg["ENGINE"].endswith("postgresql"):
        return
    admin = psycopg.connect(
        host=cfg.get("HOST") or "127.0.0.1",
        port=cfg.get("PORT") or 5432,
        user=cfg.get("USER") or "postgres",
        password=cfg.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cfg["NAME"],)).fetchone()
        if not found:
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def drop_postgres_database(url: str) -> None:
    """Drop the PostgreSQL database ``url`` names (a bench's own database only)."""
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    if not cfg["NAME"].startswith("patron_bench_"):
        raise SystemExit(f"Refusing to drop {cfg['NAME']}: bench databases are named patron_bench_*.")
    with psycopg.connect(
        host=cfg.get("HOST") or "127.0.0.1", port=cfg.get("PORT") or 5432, user=cfg.get("USER") or "postgres",
        dbname="postgres", autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute(f'DROP DATABASE IF EXISTS "{cfg["NAME"]}" WITH (FORCE)')


def setup_django(url: str, *, migrate: bool = True) -> None:
    """Point Django at ``url``, start it and bring the schema up to date."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    os.environ.setdefault("PATRON_DATA_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "patron-bench"))
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0, skip_checks=True)


def seed(scale: dict[str, Any], seed: int = 42) -> dict[str, int]:
    """Fill the database with the demo generator at ``scale`` unless it already holds that many accounts."""
    from django.db import connection

    from patron.customers.models import Account
    from patron.demo.generator import generate

    have = Account.objects.count()
    if have >= scale["accounts"]:
        print(f"Already seeded ({have:,} accounts); skipping generation.")
        return {}
    if have:
        raise SystemExit(
            f"The bench database holds {have:,} accounts, fewer than {scale['accounts']:,}; rerun with --reseed."
        )
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("Seeding", total=scale["accounts"])
        summary = generate(
            "small", seed, scale=scale,
            progress=lambda stage, done, total: bar.update(task, completed=done, total=total, description=stage),
        )  # fmt: skip
    print(f"Seeded {summary.rows:,} rows in {summary.seconds:.0f} s ({summary.rows / summary.seconds:,.0f} rows/s).")
    if connection.vendor == "postgresql":
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"VACUUM ANALYZE took {time.perf_counter() - started:.0f} s.")
    return summary.counts


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values`` by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=1000, method="inclusive")[max(0, min(998, round(q * 1000) - 1))]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The server did not start on port {port} within {timeout:.0f} s.")


def serve(url: str, port: int, workers: int = 2, threads: int = 8, persistent: bool = False) -> None:
    """Serve Patron on 127.0.0.1:``port``: ``workers`` forked processes, each with a pool of ``threads``.

    The standard library's WSGI server, pre-forked like gunicorn's sync workers and with a thread pool per
    process, so Django's per-thread database connections live as long as the thread (with ``persistent``).
    It answers one request per connection (HTTP/1.0). Responses carry ``Server-Timing: app;dur=<ms>``.
    Kept for comparison: ``patron serve`` (gunicorn) is how Patron is served in production.
    """
    import signal
    from concurrent.futures import ThreadPoolExecutor
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

    setup_django(url, migrate=False)
    if persistent:
        from django.db import connections

        connections.settings["default"]["CONN_MAX_AGE"] = 600
    from django.core.wsgi import get_wsgi_application
    from django.urls import get_resolver

    from patron.core.http import with_server_timing

    app = with_server_timing(get_wsgi_application())
    get_resolver().url_patterns  # import every URL module before forking  # noqa: B018

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    class PooledServer(WSGIServer):
        request_queue_size = 512
        pool: ThreadPoolExecutor | None = None

        def process_request(self, request: Any, client_address: Any) -> None:
            assert self.pool is not None
            self.pool.submit(self._handle, request, client_address)

        def _handle(self, request: Any, client_address: Any) -> None:
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    server = PooledServer(("127.0.0.1", port), QuietHandler)
    server.set_app(app)
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            server.pool = ThreadPoolExecutor(threads)
            try:
                server.serve_forever(poll_interval=0.2)
            finally:
                os._exit(0)
        children.append(pid)

    def stop(signum: int, frame: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve Patron with a pre-forked, thread-pooled WSGI server.")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--persistent", action="store_true", help="keep database connections open (CONN_MAX_AGE)")
    args = parser.parse_args()
    serve(args.url, args.port, args.workers, args.threads, args.persistent)
