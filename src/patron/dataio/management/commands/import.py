"""``patron import KIND FILE``: import a CSV or XLSX file of records, all or nothing, with a progress bar."""

from __future__ import annotations

from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from patron.dataio import services
from patron.dataio.cells import DATE_ORDERS
from patron.dataio.kinds import KINDS
from patron.dataio.models import ImportRun
from patron.dataio.presets import PRESETS
from patron.errors import PatronError

SHOWN_PROBLEMS = 20


class Command(BaseCommand):
    help = (
        "Import a CSV or XLSX file of records (accounts, contacts, deals, ...), all or nothing: any error and "
        "nothing is written. Rows are matched on external_id (contacts also on e-mail), so importing the same "
        "file again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare KIND, FILE and the options."""
        parser.add_argument("kind", help=f"what the file holds: {', '.join(KINDS)}")
        parser.add_argument("file", help="a .csv (UTF-8; comma, semicolon or tab) or .xlsx file")
        parser.add_argument("--preset", choices=sorted(PRESETS), help="the CRM the file was exported from")
        parser.add_argument(
            "--map",
            dest="mapping",
            nargs="+",
            action="extend",
            default=[],
            metavar="COLUMN=FIELD",
            help="map a column to a field (an empty FIELD ignores the column); repeatable",
        )
        parser.add_argument("--user", help="the username to import as (default: the first admin)")
        parser.add_argument(
            "--date-order", choices=DATE_ORDERS, help="how to read dates like 03/04/2025 (day or month first)"
        )
        parser.add_argument("--dry-run", action="store_true", help="check the whole file but write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the import in one transaction and print its summary, or its row errors and fail."""
        console = Console(file=cast(IO[str], self.stdout), highlight=False, soft_wrap=True)
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        task = progress.add_task(f"Importing {options['kind']}", total=None, rows=0)

        def advance(rows: int, position: int, total: int | None, stage: str) -> None:
            if stage == "indexes":
                # The rows are in; building the indexes again has no measure of its own to show.
                progress.update(task, description="Building indexes", completed=position, total=total, rows=rows)
                return
            progress.update(task, completed=position, total=total, rows=rows)

        failure: PatronError | None = None
        run: ImportRun | None = None
        user = None
        with transaction.atomic():
            try:
                user = services.import_user(options["user"])
                with progress:
                    run = services.import_path(
                        user,
                        options["kind"],
                        options["file"],
                        preset=options["preset"],
                        mapping=options["mapping"],
                        date_order=options["date_order"],
                        dry_run=options["dry_run"],
                        progress=advance,
                    )
            except PatronError as exc:
                failure = exc  # the failed run is recorded; the records it touched were rolled back
        if failure is not None:
            self._problems(console, failure.details)
            failed = ImportRun.objects.filter(user=user).order_by("-id").first() if user is not None else None
            if failed is not None:
                console.print(f"Recorded as import run {failed.pk}: /import/runs/{failed.pk}/ lists every problem.")
            raise CommandError(failure.message)
        assert run is not None
        self._summary(console, run)

    def _summary(self, console: Console, run: ImportRun) -> None:
        verb = "Checked (dry run, nothing written)" if run.dry_run else "Imported"
        seconds = f"{run.seconds:.1f} s" if run.seconds is not None else ""
        console.print(
            f"{verb} {run.file_name} as {run.kind}: {run.rows:,} rows, {run.created:,} created, "
            f"{run.updated:,} updated, {run.unchanged:,} unchanged (run {run.pk}, {seconds})."
        )
        if run.warning_count:
            console.print(f"{run.warning_count:,} warning(s):")
            self._problems(console, run.warnings)
        ignored = [column for column, field in run.mapping.items() if not field]
        if ignored:
            console.print(f"Columns left out: {', '.join(ignored)}.")

    def _problems(self, console: Console, problems: list[dict[str, Any]]) -> None:
        if not problems:
            return
        table = Table("Row", "Column", "Problem", show_lines=False)
        for problem in problems[:SHOWN_PROBLEMS]:
            row = problem.get("row")
            where = str(row) if row is not None else f"line {problem.get('line', '?')}"
            table.add_row(where, str(problem.get("column") or ""), str(problem.get("message", "")))
        console.print(table)
        if len(problems) > SHOWN_PROBLEMS:
            console.print(f"… and {len(problems) - SHOWN_PROBLEMS} more.")
