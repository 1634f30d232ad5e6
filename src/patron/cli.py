"""The ``patron`` console script: Django's management commands beside Patron's own.

``patron clv ...`` and ``patron score FILE ...`` run the analytics engine on a plain file and need no
database, so they skip Django's start-up entirely. ``patron serve`` runs Patron in production with gunicorn.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def _is_file_scoring(argv: list[str]) -> bool:
    """Tell whether ``patron score`` was given a transactions file rather than asked to score the CRM."""
    return len(argv) > 2 and argv[1] == "score" and not argv[2].startswith("-")


def serve_options(argv: list[str]) -> dict[str, Any]:
    """Return gunicorn's settings for ``patron serve`` with ``argv`` (the arguments after ``serve``)."""
    parser = argparse.ArgumentParser(
        prog="patron serve",
        description="Serve Patron with gunicorn: pre-forked worker processes, each with a pool of threads that "
        "keep client connections alive. Put a reverse proxy (TLS, static files) in front in production.",
    )
    parser.add_argument(
        "--bind", default=os.environ.get("PATRON_BIND", "127.0.0.1:8000"), help="address:port (env PATRON_BIND)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("PATRON_WORKERS") or os.cpu_count() or 1),
        help="worker processes (env PATRON_WORKERS; default: one per CPU)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("PATRON_THREADS", "8")),
        help="threads per worker (env PATRON_THREADS; each may hold a database connection)",
    )
    parser.add_argument(
        "--timeout", type=int, default=60, help="seconds a request may take before its worker is restarted"
    )
    parser.add_argument(
        "--server-timing",
        action="store_true",
        help="add a Server-Timing header with the time Django took (for benchmarks and browser dev tools)",
    )
    args = parser.parse_args(argv)
    return {
        "bind": [args.bind],
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": "gthread",
        "timeout": args.timeout,
        # Clients that reuse their connection skip a TCP handshake and a worker hand-off per request.
        "keepalive": 30,
        "preload_app": True,
        "accesslog": os.environ.get("PATRON_ACCESS_LOG") or None,
        "errorlog": "-",
        "server_timing": args.server_timing,
    }


def serve(argv: list[str]) -> int:
    """Run Patron under gunicorn until stopped (``patron serve --help`` lists the options)."""
    options = serve_options(argv)
    timing = options.pop("server_timing")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            from patron.core.http import with_server_timing
            from patron.wsgi import application

            return with_server_timing(application) if timing else application

    Server(prog="patron serve").run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run a Patron command and return its exit status."""
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and (argv[1] == "clv" or _is_file_scoring(argv)):
        from patron.analytics.cli import main as analytics_main

        return analytics_main(argv[1:])
    if len(argv) > 1 and argv[1] == "serve":
        return serve(argv[2:])
    if len(argv) > 1 and argv[1] == "demo":
        # The demo picks its own database, which must be known before Django reads its settings.
        from patron.demo import prepare_environment

        prepare_environment(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
