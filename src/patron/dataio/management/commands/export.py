"""``patron export KIND``: the API's CSV export of a list, and ``patron export contact-data ID``: all held about a contact.

A list's file is the one ``GET /api/v1/<kind>/export.csv`` sends the same user for the same filters, search and
sort: the same rows (the user's visibility), the same columns and the same CSV writer (:func:`export_rows`).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _
from ninja import FilterSchema, Schema
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from patron.core.api import filter_expression, schema_columns
from patron.core.models import User
from patron.core.services import Records, export_rows
from patron.customers import schemas as customer_schemas
from patron.customers import services as customers
from patron.dataio.services import import_user
from patron.engagement import schemas as engagement_schemas
from patron.engagement import services as engagement
from patron.errors import PatronError
from patron.feedback import schemas as feedback_schemas
from patron.feedback import services as feedback
from patron.pipeline import schemas as pipeline_schemas
from patron.pipeline import services as pipeline

#: Seconds an export to a file runs before its progress is shown: a quick one prints nothing.
PROGRESS_AFTER = 1.0

CONTACT_DATA = "contact-data"


@dataclass(frozen=True)
class ListExport:
    """One list the API exports as CSV: its records, the schema of its rows (the columns) and its filters."""

    records: Records[Any]
    out: type[Schema]
    filters: type[FilterSchema]

    def filters_from(self, given: dict[str, str]) -> FilterSchema:
        """Return the list's filters read from ``name=value`` text, or raise CommandError naming the bad one."""
        known = sorted(self.filters.model_fields)
        for name in given:
            if name not in self.filters.model_fields:
                raise CommandError(
                    _("Unknown filter “%(name)s”; this list takes %(names)s.")
                    % {"name": name, "names": ", ".join(known)}
                )
        try:
            return self.filters.model_validate(given)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0]) if error["loc"] else ""
            raise CommandError(
                _("Filter “%(name)s=%(value)s”: %(reason)s")
                % {"name": name, "value": given.get(name, ""), "reason": error["msg"]}
            ) from None

    def rows(self, user: User, filters: FilterSchema, search: str | None, order: str | None) -> Iterator[str]:
        """Yield the CSV lines of the rows ``user`` may see, as the API's export of this list does."""
        qs = self.records.sort(self.records.filtered(user, filters=filter_expression(filters), search=search), order)
        return export_rows(qs, schema_columns(self.out))


#: The lists the API exports (``/api/v1/<kind>/export.csv``), by the kind in their path.
EXPORTS: dict[str, ListExport] = {
    "accounts": ListExport(customers.accounts, customer_schemas.AccountOut, customer_schemas.AccountFilters),
    "contacts": ListExport(customers.contacts, customer_schemas.ContactOut, customer_schemas.ContactFilters),
    "products": ListExport(customers.products, customer_schemas.ProductOut, customer_schemas.ProductFilters),
    "orders": ListExport(customers.orders, customer_schemas.OrderOut, customer_schemas.OrderFilters),
    "order-lines": ListExport(customers.order_lines, customer_schemas.OrderLineOut, customer_schemas.OrderLineFilters),
    "subscriptions": ListExport(
        customers.subscriptions, customer_schemas.SubscriptionOut, customer_schemas.SubscriptionFilters
    ),
    "interactions": ListExport(
        engagement.interactions, engagement_schemas.InteractionOut, engagement_schemas.InteractionFilters
    ),
    "tickets": ListExport(engagement.tickets, engagement_schemas.TicketOut, engagement_schemas.TicketFilters),
    "campaigns": ListExport(pipeline.campaigns, pipeline_schemas.CampaignOut, pipeline_schemas.CampaignFilters),
    "leads": ListExport(pipeline.leads, pipeline_schemas.LeadOut, pipeline_schemas.LeadFilters),
    "deals": ListExport(pipeline.deals, pipeline_schemas.DealOut, pipeline_schemas.DealFilters),
    "survey-responses": ListExport(
        feedback.survey_responses, feedback_schemas.SurveyResponseOut, feedback_schemas.SurveyResponseFilters
    ),
}


def parse_filters(pairs: Iterable[str]) -> dict[str, str]:
    """Return ``name=value`` pairs as a mapping, or raise CommandError for one without ``=`` or given twice."""
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CommandError(_("Write a filter as NAME=VALUE, not “%(filter)s”.") % {"filter": pair})
        if name in given:
            raise CommandError(_("The filter “%(name)s” is given twice.") % {"name": name})
        given[name] = value
    return given


def contact_json(user: User, contact_id: int) -> str:
    """Return everything held about a contact as the JSON file the contact's page downloads."""
    data = customers.contact_data(user, contact_id)
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)


class Command(BaseCommand):
    help = (
        "Export a list as CSV, the same file as the API's /api/v1/<kind>/export.csv for the same user, filters, "
        "search and sort; or, with contact-data CONTACT_ID, everything held about one contact as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare KIND, the contact id of contact-data, and the options."""
        parser.add_argument("kind", help=f"what to export: {', '.join(EXPORTS)}, or {CONTACT_DATA}")
        parser.add_argument("contact_id", nargs="?", type=int, help=f"the contact, for {CONTACT_DATA}")
        parser.add_argument("--out", default="-", help="the file to write (default -, the standard output)")
        parser.add_argument("--user", help="the username whose visibility applies (default: the first admin)")
        parser.add_argument(
            "--filter",
            dest="filters",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="one of the list's API filters (such as status=open); repeatable",
        )
        parser.add_argument("--search", help="text to search for, as the API's q")
        parser.add_argument("--order", help="the sort, as the API's order; descending as --order=-opened_at")

    def handle(self, *args: Any, **options: Any) -> None:
        """Check everything asked for, then stream the export to the file or the standard output."""
        kind = options["kind"].replace("_", "-")
        try:
            user = import_user(options["user"])
            if kind == CONTACT_DATA:
                self._contact_data(user, options)
                return
            export = EXPORTS.get(kind)
            if export is None:
                raise CommandError(
                    _("Cannot export “%(kind)s”; choose one of %(kinds)s.")
                    % {"kind": options["kind"], "kinds": ", ".join([*EXPORTS, CONTACT_DATA])}
                )
            if options["contact_id"] is not None:
                raise CommandError(
                    _("Only %(kind)s takes a contact id; filter a list with --filter.") % {"kind": CONTACT_DATA}
                )
            filters = export.filters_from(parse_filters(options["filters"]))
            export.records.check_order(options["order"])  # a bad sort fails before any file is written
            lines = export.rows(user, filters, options["search"], options["order"])
            rows = self._write(options["out"], lines, progress=kind)
        except PatronError as exc:
            raise CommandError(exc.message) from None
        if options["out"] != "-":
            self.stderr.write(
                _("Exported %(rows)s %(kind)s to %(file)s.")
                % {"rows": f"{rows:,}", "kind": kind, "file": options["out"]},
                style_func=self.style.SUCCESS,
            )

    def _contact_data(self, user: User, options: dict[str, Any]) -> None:
        if options["contact_id"] is None:
            raise CommandError(_("Name the contact: patron export contact-data CONTACT_ID."))
        if options["filters"] or options["search"] or options["order"]:
            raise CommandError(_("contact-data takes no --filter, --search or --order."))
        body = contact_json(user, options["contact_id"])
        self._write(options["out"], [body if options["out"] != "-" else body + "\n"])

    def _write(self, out: str, lines: Iterable[str], *, progress: str | None = None) -> int:
        """Write ``lines`` to the file ``out`` (all or nothing) or the standard output; return the lines written."""
        if out == "-":
            written = 0
            for line in lines:
                self.stdout.write(line, ending="")
                written += 1
            return max(written - 1, 0)
        target = Path(out)
        if not target.parent.is_dir():
            raise CommandError(_("There is no folder %(folder)s to write into.") % {"folder": target.parent})
        # Written beside the target and moved into place at the end, so a failed export leaves no partial file;
        # like any temporary file it is readable by its owner only, which suits a file of personal data.
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
                written = self._copy(lines, file, progress)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return written

    def _copy(self, lines: Iterable[str], file: IO[str], label: str | None) -> int:
        """Copy the lines into ``file``, showing the rows written on a terminal once the export takes a while."""
        # Rich draws on the real standard error: Django's wrapper would end each redraw with a new line.
        console = Console(stderr=True, highlight=False)
        bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=label is None or not console.is_terminal,
        )
        task = bar.add_task(_("Exporting %(kind)s") % {"kind": label}, total=None, rows=0)
        started = time.monotonic()
        shown = False
        rows = 0
        try:
            # The header is line 0, so a line's index is the number of rows written once it is.
            for rows, line in enumerate(lines):
                file.write(line)
                if rows and rows % 1000 == 0:
                    if not shown and time.monotonic() - started > PROGRESS_AFTER:
                        bar.start()
                        shown = True
                    bar.update(task, rows=rows)
        finally:
            if shown:
                bar.stop()
        return max(rows, 0)
