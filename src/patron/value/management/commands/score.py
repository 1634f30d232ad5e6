"""``patron score``: recompute tiers, lifecycle classes and lifetime value for the whole base.

``patron score FILE ...`` (a transactions file, no database) is the analytics CLI and never gets here.
Schedule it nightly with cron (``0 2 * * * patron score --quiet``) or enqueue for the worker
(``patron score --background`` with ``patron db_worker`` running).
"""

from __future__ import annotations

from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from patron.errors import PatronError
from patron.value import services
from patron.value.models import ScoreRun

STAGE_NAMES = {
    "read": "Reading orders",
    "score": "Scoring",
    "diagnostics": "Checking the models",
    "write": "Writing scores",
    "aggregate": "Summing up",
    "done": "Done",
}


class Command(BaseCommand):
    help = (
        "Recompute customer value (ABC tiers, RFM, lifecycle classes, P(alive), CLV) for every account with "
        "orders, as a new scoring run. To score a transactions file instead, use: patron score FILE --help."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--engine",
            choices=services.ENGINES,
            help="Where the aggregation runs (default: duckdb, or spark when PATRON_SPARK_MASTER is set).",
        )
        parser.add_argument(
            "--background", action="store_true", help="Queue the run for the background worker (patron db_worker)."
        )
        parser.add_argument("--quiet", action="store_true", help="No progress bar, only the summary.")

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(file=cast(IO[str], self.stdout), highlight=False, soft_wrap=True)
        try:
            if options["background"]:
                run = services.enqueue_scoring(None, engine=options["engine"])
                console.print(f"Scoring run {run.pk} is {run.get_status_display().lower()}.")
                if run.is_pending:
                    console.print("Run `patron db_worker` (it may be running already) to compute it.")
                return
            run = self._score(console, options["engine"], quiet=options["quiet"] or options["verbosity"] == 0)
        except PatronError as exc:
            raise CommandError(exc.message) from None
        self._summary(console, run)

    def _score(self, console: Console, engine: str | None, *, quiet: bool) -> ScoreRun:
        if quiet:
            return services.run_scoring(engine=engine)
        columns = (
            TextColumn("{task.description:<22}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task(STAGE_NAMES["read"], total=1.0)

            def report(stage: str, fraction: float) -> None:
                progress.update(bar, completed=fraction, description=STAGE_NAMES.get(stage, stage))

            return services.run_scoring(engine=engine, progress=report)

    def _summary(self, console: Console, run: ScoreRun) -> None:
        console.print(
            f"Run {run.pk}: {run.customers_scored:,} accounts and {run.orders_read:,} orders up to "
            f"{run.observation_end}, {run.duration or 0:.1f} s on {run.engine}."
        )
        for warning in run.warnings:
            console.print(f"[yellow]Warning:[/yellow] {warning}")
        tiers = Table(title="ABC tiers", title_justify="left")
        for name in ("Tier", "Accounts", "Share", "Revenue share", "CLV"):
            tiers.add_column(name, justify="left" if name == "Tier" else "right")
        for row in run.summary.get("tiers", []):
            clv = "–" if row["clv"] is None else f"{row['clv']:,.0f}"
            tiers.add_row(
                row["name"], f"{row['accounts']:,}", f"{row['account_share']:.1%}", f"{row['revenue_share']:.1%}", clv
            )
        console.print(tiers)
        classes = Table(title="Lifecycle classes", title_justify="left")
        for name in ("Class", "Accounts", "Strategy"):
            classes.add_column(name, justify="right" if name == "Accounts" else "left")
        for row in run.summary.get("lifecycle", []):
            classes.add_row(services.lifecycle_label(row["name"]), f"{row['accounts']:,}", row["strategy"])
        console.print(classes)
        fits = ", ".join(
            f"{name}: {'LL ' + format(fit['log_likelihood'], ',.1f') if fit else 'not fitted'}"
            for name, fit in run.fits.items()
        )
        console.print(f"Models: {fits}")
        timings = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in run.timings.items() if "." not in name)
        console.print(f"Stages: {timings}")
