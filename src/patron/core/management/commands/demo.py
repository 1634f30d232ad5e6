"""``patron demo``: make a database full of realistic customers, print the demo logins and serve the app.

See :mod:`patron.demo` for how the database is chosen. An existing demo database is reused as it is;
``--reset`` builds it again from scratch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, cast

import dj_database_url
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from patron.demo import SIZES, demo_database_url


def same_database(url: str, current: Mapping[str, Any]) -> bool:
    """Tell whether ``url`` names the database the settings already use."""
    wanted = dj_database_url.parse(url)
    if wanted["ENGINE"] != current["ENGINE"]:
        return False
    if wanted["ENGINE"].endswith("sqlite3"):
        return Path(str(wanted["NAME"])).resolve() == Path(str(current["NAME"])).resolve()
    return all(str(wanted.get(k) or "") == str(current.get(k) or "") for k in ("NAME", "HOST", "PORT", "USER"))


def describe(url: str) -> str:
    """Return a database URL fit to print (no password)."""
    parsed = dj_database_url.parse(url)
    if parsed["ENGINE"].endswith("sqlite3"):
        return str(parsed["NAME"])
    return f"PostgreSQL {parsed.get('USER') or ''}@{parsed.get('HOST') or 'localhost'}:{parsed.get('PORT') or 5432}/{parsed['NAME']}"


class Command(BaseCommand):
    help = (
        "Fill a demo database with realistic generated customers (orders, subscriptions, interactions on every "
        "channel, tickets, surveys, campaigns, leads and deals), print the demo logins and serve Patron on it."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the demo's options."""
        parser.add_argument(
            "--db", metavar="PATH", help="SQLite file to use (default: demo.sqlite3 in the data folder)"
        )
        parser.add_argument("--size", choices=SIZES, default="small", help="small: 2,000 B2B accounts; large: 1M B2C")
        parser.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same data")
        parser.add_argument("--accounts", type=int, help="number of accounts instead of the size's default")
        parser.add_argument("--no-serve", action="store_true", help="make the database, print the logins and stop")
        parser.add_argument("--port", type=int, default=8000, help="port to serve on at 127.0.0.1 (default 8000)")
        parser.add_argument("--reset", action="store_true", help="throw the demo database away and build it again")

    def handle(self, *args: Any, **options: Any) -> None:
        """Choose the database, fill it if needed, print the logins and serve."""
        url = demo_database_url(options["db"], options["size"])
        if not same_database(url, settings.DATABASES["default"]):
            self._run_again(url, options)
            return
        from rich.console import Console

        console = Console(file=cast(IO[str], self.stdout), highlight=False)
        where = describe(url)
        if options["reset"]:
            self._reset(console, where)
        console.print(f"Demo database: [bold]{where}[/]")
        call_command("migrate", interactive=False, verbosity=0)
        if options["reset"] and connection.vendor != "sqlite":
            call_command("flush", interactive=False, verbosity=0)
        state = self._state()
        if state == "foreign":
            raise CommandError(
                f"{where} already holds customer data the demo did not make (or an earlier demo run stopped "
                "part-way). Give --db PATH for a separate demo database, or --reset to wipe this one."
            )
        if state == "ready":
            console.print("It already holds the demo data; reusing it ([bold]--reset[/] builds it again).")
        else:
            self._generate(console, options)
        self._score_once(console)
        self._print_logins(console)
        if not options["no_serve"]:
            console.print(f"Serving Patron on [bold]http://127.0.0.1:{options['port']}/[/] (Ctrl-C stops it).")
            call_command("runserver", f"127.0.0.1:{options['port']}", use_reloader=False, use_threading=True)

    # Steps

    def _run_again(self, url: str, options: dict[str, Any]) -> None:
        """Run ``patron demo`` again in a process whose settings load with ``DATABASE_URL`` set."""
        argv = [sys.executable, "-m", "patron", "demo", "--size", options["size"], "--seed", str(options["seed"])]
        argv += ["--port", str(options["port"])]
        if options["db"]:
            argv += ["--db", options["db"]]
        if options["accounts"]:
            argv += ["--accounts", str(options["accounts"])]
        argv += [flag for flag, on in (("--no-serve", options["no_serve"]), ("--reset", options["reset"])) if on]
        env = {**os.environ, "DATABASE_URL": url}
        if sys.argv[1:2] == ["demo"]:  # started from the command line: become the new process
            sys.stdout.flush()
            os.execve(sys.executable, argv, env)
        code = subprocess.call(argv, env=env)
        if code:
            raise CommandError(f"patron demo stopped with exit status {code}.")

    def _reset(self, console: Any, where: str) -> None:
        """Delete the SQLite demo file (PostgreSQL is flushed after migrating)."""
        if connection.vendor != "sqlite":
            console.print(f"Wiping every row in {where} (--reset).")
            return
        connection.close()
        name = Path(str(settings.DATABASES["default"]["NAME"]))
        for path in (name, Path(f"{name}-wal"), Path(f"{name}-shm"), Path(f"{name}-journal")):
            path.unlink(missing_ok=True)
        console.print(f"Removed the old demo database {where} (--reset).")

    @staticmethod
    def _state() -> str:
        """Return 'ready' (a finished demo), 'foreign' (other data or a half-made demo) or 'empty'."""
        from patron.core.models import User
        from patron.customers.models import Account
        from patron.demo.catalog import DEMO_EMAIL_DOMAIN, DEMO_LOGINS

        has_data = Account.objects.exists()
        marker = DEMO_LOGINS[-1].username
        finished = User.objects.filter(username=marker, email=f"{marker}@{DEMO_EMAIL_DOMAIN}").exists()
        if finished and has_data:
            return "ready"
        return "foreign" if has_data else "empty"

    def _generate(self, console: Any, options: dict[str, Any]) -> None:
        """Generate the data with a progress bar and print what was made."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from patron.demo.generator import generate, resolve_scale

        scale = {"accounts": options["accounts"]} if options["accounts"] else None
        planned = resolve_scale(options["size"], scale)
        console.print(
            f"Generating a {options['size']} demo: {planned['accounts']:,} {planned['kind']} accounts, "
            f"about {planned['orders']:,} orders and {planned['interactions']:,} interactions (seed {options['seed']})."
        )
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("Accounts", total=planned["accounts"])

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=stage.capitalize())

            summary = generate(options["size"], options["seed"], progress=progress, scale=scale)
        table = Table(title=f"Generated in {summary.seconds:.1f} s", show_edge=False)
        table.add_column("records")
        table.add_column("rows", justify="right")
        for label, count in summary.counts.items():
            table.add_row(label.split(".")[-1], f"{count:,}")
        console.print(table)

    def _score_once(self, console: Any) -> None:
        """Score the demo base once, so the value pages and account tiers have something to show."""
        from patron.value.models import RunStatus, ScoreRun

        if ScoreRun.objects.filter(status=RunStatus.SUCCEEDED).exists():
            return
        console.print("Scoring the demo customers (tiers, lifecycle classes, lifetime value)…")
        call_command("score", "--quiet", stdout=self.stdout, stderr=self.stderr)

    @staticmethod
    def _print_logins(console: Any) -> None:
        """Print the demo users and their password."""
        from rich.table import Table

        from patron.demo.catalog import DEMO_LOGINS, DEMO_PASSWORD

        table = Table(title="Demo logins (sign in at /login/)", show_edge=False)
        for column in ("username", "password", "who"):
            table.add_column(column)
        for login in DEMO_LOGINS:
            table.add_row(login.username, DEMO_PASSWORD, f"{login.first_name} {login.last_name}, {login.what}")
        console.print(table)
        console.print("Every other generated staff user has the same password.")
