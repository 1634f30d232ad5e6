"""Customer value: scoring the whole base into a run, and reading scores, segments and trends back.

``run_scoring`` reads the orders straight from the database into Arrow (PostgreSQL: ``COPY ... TO STDOUT``
parsed by Arrow's CSV reader; other databases: a cursor read in chunks), hands them to
``patron.analytics.scoring.score`` and writes one ``AccountScore`` per account with orders, all in one
transaction (PostgreSQL: ``COPY ... FROM STDIN``; others: ``bulk_create`` in batches). Everything a user
reads about single accounts goes through ``AccountScore.objects.restrict(user)``; aggregates of the
whole base (tier sizes, the Pareto curve, the fitted models) are company-level figures every signed-in
user may see.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import Avg, Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from patron.analytics import segments as seg
from patron.core.models import Role, User
from patron.core.pagination import Page
from patron.core.permissions import visibility_q
from patron.customers.models import Account, Order, OrderLine, Product, Subscription
from patron.errors import Conflict, Forbidden, Gone, Invalid, NotFound, PatronError
from patron.value.models import (
    AccountScore,
    LifecycleClass,
    RunStatus,
    ScoreRun,
    TimeUnit,
    ValueSettings,
)

logger = logging.getLogger(__name__)

Progress = Callable[[str, float], None]

ENGINES = ("duckdb", "spark")
# A queued or running run older than this is taken to be abandoned (a worker killed mid-run).
STALE_AFTER = dt.timedelta(hours=6)
READ_CHUNK_ROWS = 100_000
WRITE_BATCH_ROWS = 5_000
COPY_WRITE_ROWS = 200_000
DAYS_PER_MONTH = 30.4375
UNIT_DAYS = {TimeUnit.DAY: 1.0, TimeUnit.WEEK: 7.0, TimeUnit.MONTH: DAYS_PER_MONTH}
# The calibration/holdout check keeps back the last part of the history: at most half a year, at most a
# third of the whole span, and at least two time units.
HOLDOUT_MAX_DAYS = 182
SCORE_ORDERINGS = ("clv", "p_alive", "revenue", "account")
SCORE_FILTERS = ("tier", "lifecycle_class", "rfm_segment", "arpu_tier")
# Share of a scoring run's time each stage usually takes, for the progress bar.
_PROGRESS = {"read": (0.0, 0.1), "score": (0.1, 0.6), "diagnostics": (0.6, 0.7), "write": (0.7, 0.95)}

RFM_LABELS = {
    "champions": gettext_lazy("Champions"),
    "loyal_customers": gettext_lazy("Loyal customers"),
    "potential_loyalists": gettext_lazy("Potential loyalists"),
    "new_customers": gettext_lazy("New customers"),
    "promising": gettext_lazy("Promising"),
    "need_attention": gettext_lazy("Need attention"),
    "about_to_sleep": gettext_lazy("About to sleep"),
    "at_risk": gettext_lazy("At risk"),
    "cant_lose_them": gettext_lazy("Can't lose them"),
    "hibernating": gettext_lazy("Hibernating"),
    "lost": gettext_lazy("Lost"),
}
ARPU_LABELS = {"high": gettext_lazy("High"), "middle": gettext_lazy("Middle"), "low": gettext_lazy("Low")}


def rfm_label(segment: str) -> str:
    """Return the readable, translated name of an RFM segment."""
    return str(RFM_LABELS.get(segment, segment)) if segment else ""


def lifecycle_label(name: str) -> str:
    """Return the readable, translated name of a lifecycle class."""
    try:
        return str(LifecycleClass(name).label)
    except ValueError:
        return name


def lifecycle_choices() -> list[tuple[str, str]]:
    """Return (value, label) pairs of the lifecycle classes, for filter menus."""
    return [(str(c.value), str(c.label)) for c in LifecycleClass]


def tier_choices(values: ValueSettings | None = None) -> list[tuple[str, str]]:
    """Return (value, label) pairs of the ABC tiers the current settings make (A, B, ... : 2 to 6), for filters."""
    values = values or get_settings()
    shares = values.abc_shares if values.abc_method == "share" else values.abc_cumulative
    count = min(max(len(shares or ()), 1), len(seg.TIER_NAMES))
    return [(name, name) for name in seg.TIER_NAMES[:count]]


def rfm_choices() -> list[tuple[str, str]]:
    """Return (value, label) pairs of the RFM segments, for filter menus."""
    return [(name, str(label)) for name, label in RFM_LABELS.items()]


# --- runs ----------------------------------------------------------------------------------------------


def latest_run() -> ScoreRun | None:
    """Return the newest run that finished successfully, or None before the first one."""
    return ScoreRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-id").first()


def pending_run() -> ScoreRun | None:
    """Return the newest queued or running run that is not abandoned, if any."""
    since = timezone.now() - STALE_AFTER
    return (
        ScoreRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING], created_at__gte=since)
        .order_by("-id")
        .first()
    )


def can_recompute(user: User) -> bool:
    """Tell whether the user may start a scoring run (admins and managers)."""
    return bool(user.is_authenticated and user.is_active and (user.is_admin or user.role == Role.MANAGER))


def get_run(user: User, run_id: int) -> ScoreRun:
    """Return one run (runs are company-level: every signed-in user sees them), or raise NotFound."""
    run = ScoreRun.objects.restrict(user).filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("Scoring run %(id)s not found.") % {"id": run_id})
    return run


def get_finished_run(user: User, run_id: int) -> ScoreRun:
    """Return a run that finished successfully (one with results), or raise NotFound."""
    run = get_run(user, run_id)
    if run.status != RunStatus.SUCCEEDED:
        raise NotFound(
            _("Scoring run %(id)s has no results (it is %(status)s).") % {"id": run_id, "status": run.status}
        )
    return run


def list_runs(user: User, *, cursor: str | None = None, limit: int = 50) -> Page:
    """Return one page of runs, newest first."""
    from patron.core.pagination import keyset_page

    return keyset_page(ScoreRun.objects.restrict(user).defer(*_RUN_BIG_FIELDS), order="-id", cursor=cursor, limit=limit)


_RUN_BIG_FIELDS = ("fits", "pareto", "diagnostics", "summary")


def enqueue_scoring(user: User | None, *, engine: str | None = None) -> ScoreRun:
    """Queue a scoring run for the background worker and return it; 409 while another run is pending.

    ``user`` must be an admin or a manager; None means the system itself (``patron score --background``).
    """
    if user is not None and not can_recompute(user):
        raise Forbidden(_("Only admins and managers may recompute customer value."))
    engine = check_engine(engine)
    busy = pending_run()
    if busy is not None:
        raise Conflict(
            _("Scoring run %(id)s is already %(status)s; wait for it to finish.")
            % {"id": busy.pk, "status": busy.get_status_display().lower()}
        )
    run = ScoreRun.objects.create(status=RunStatus.QUEUED, requested_by=user, engine=engine)
    from patron.value.tasks import score_all

    score_all.enqueue(run_id=run.pk, engine=engine)
    run.refresh_from_db()
    return run


# --- the automatic schedule ------------------------------------------------------------------------------


def next_slot(schedule: str, hour: int, after: dt.datetime) -> dt.datetime | None:
    """Return the first scheduled time strictly after ``after`` (server time zone), or None when ``schedule`` is off."""
    if schedule == "off":
        return None
    local = timezone.localtime(after)
    slot = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if schedule == "daily":
        return slot if slot > local else slot + dt.timedelta(days=1)
    if schedule == "weekly":
        slot -= dt.timedelta(days=slot.weekday())  # Monday
        return slot if slot > local else slot + dt.timedelta(weeks=1)
    first = slot.replace(day=1)
    if first > local:
        return first
    return first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)


def schedule_next_run(now: dt.datetime | None = None) -> dt.datetime | None:
    """Queue the next automatic run for the background worker as the settings ask; return when (None: off).

    Idempotent: when the settings already hold that time, nothing more is queued. A run queued for a time the
    settings no longer hold (the schedule was changed or turned off) finds this out when it starts and does nothing.
    """
    values = get_settings()
    slot = next_slot(values.schedule, values.schedule_hour, now or timezone.now())
    if slot == values.next_scheduled_at:
        return slot
    ValueSettings.objects.filter(pk=values.pk).update(next_scheduled_at=slot)
    if slot is not None:
        from patron.value.tasks import scheduled_scoring

        scheduled_scoring.using(run_after=slot).enqueue(slot=slot.isoformat())
    return slot


def run_scheduled(slot: str) -> ScoreRun | None:
    """Score the base for the automatic run queued for ``slot``, then queue the next; None when it is not due.

    Not due: the settings moved on (another slot, or off), or a run is already queued or running, whose results
    this one would only repeat.
    """
    values = get_settings()
    due = dt.datetime.fromisoformat(slot)
    if values.next_scheduled_at is None or values.next_scheduled_at != due:
        return None
    # The next slot is queued first, so a failing run does not stop the schedule.
    schedule_next_run(due)
    if pending_run() is not None:
        return None
    return run_scoring()


def check_engine(engine: str | None) -> str:
    """Return the engine to score with: the argument, else Spark when a cluster is configured, else DuckDB."""
    if not engine:
        return "spark" if django_settings.PATRON_SPARK_MASTER else "duckdb"
    if engine not in ENGINES:
        raise Invalid(
            _("Unknown engine %(engine)s: choose one of %(choices)s.")
            % {"engine": engine, "choices": ", ".join(ENGINES)},
            field="engine",
        )
    return engine


# --- settings ------------------------------------------------------------------------------------------


def get_settings() -> ValueSettings:
    """Return the value settings (created with the defaults on first use)."""
    return ValueSettings.load()


def update_settings(user: User, data: Mapping[str, Any]) -> ValueSettings:
    """Change the value settings (admins only), refusing combinations the engine cannot use."""
    if not user.is_admin:
        raise Forbidden(_("Only admins may change the value settings."))
    current = get_settings()
    editable = {f.name for f in ValueSettings._meta.concrete_fields} - {"id", "updated_at", "updated_by"}
    unknown = sorted(set(data) - editable)
    if unknown:
        raise Invalid(_("Unknown settings: %(names)s.") % {"names": ", ".join(unknown)}, field=unknown[0])
    for name, value in data.items():
        setattr(current, name, value)
    check_settings(current)
    current.updated_by = user
    current.save()
    if {"schedule", "schedule_hour"} & set(data):
        schedule_next_run()
        current.refresh_from_db(fields=["next_scheduled_at"])
    return current


def check_settings(values: ValueSettings) -> None:
    """Raise Invalid naming the field when the settings cannot be used for scoring."""
    from django.core.exceptions import ValidationError

    from patron.core.services import invalid_from

    try:
        values.full_clean(exclude=["updated_by"])
    except ValidationError as exc:
        raise invalid_from(exc) from None
    checks = [
        ("margin_percent", 0 < values.margin_percent <= 1000, _("Margin must be above 0% and at most 1000%.")),
        (
            "annual_discount_rate",
            -1 < values.annual_discount_rate < 10,
            _("The discount rate must be above -1 and below 10."),
        ),
        ("horizon_months", 1 <= values.horizon_months <= 120, _("The horizon must be 1 to 120 months.")),
        ("runs_kept", 2 <= values.runs_kept <= 1000, _("Keep the account scores of 2 to 1000 runs.")),
    ]
    for name, ok, message in checks:
        if not ok:
            raise Invalid(message, field=name)
    for name in ("abc_shares", "abc_cumulative"):
        shares = getattr(values, name)
        if not isinstance(shares, list | tuple) or not all(isinstance(v, int | float) for v in shares):
            raise Invalid(_("Give a list of shares such as [0.2, 0.3, 0.5]."), field=name)
    try:
        values.segment_settings()
    except Invalid as exc:
        raise Invalid(exc.message, field=exc.field or _guess_field(exc.message)) from None


def _guess_field(message: str) -> str | None:
    for name in ("abc_shares", "abc_cumulative", "rfm_bins", "arpu", "sleeping", "nurture"):
        if name in message:
            return {"arpu": "arpu_low_below", "sleeping": "sleeping_p_alive", "nurture": "nurture_value_quantile"}.get(
                name, name
            )
    return None


def horizon_units(months: int, time_unit: str) -> int:
    """Return a horizon of ``months`` in whole time units (12 months = 52 weeks = 365 days)."""
    return max(1, round(months * DAYS_PER_MONTH / UNIT_DAYS[TimeUnit(time_unit)]))


# --- reading the CRM into Arrow ------------------------------------------------------------------------


ORDER_SCHEMA = pa.schema([("customer_id", pa.int64()), ("date", pa.date32()), ("amount", pa.float64())])
SPLIT_ORDER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("date", pa.date32()),
        ("amount", pa.float64()),
        ("product_group", pa.string()),
        ("first_part", pa.int8()),
    ]
)


def query_arrow(sql: str, params: list[Any], schema: pa.Schema) -> pa.Table:
    """Run a SELECT and return its rows as an Arrow table of ``schema``, without a Python object per value.

    PostgreSQL streams ``COPY (sql) TO STDOUT`` as CSV into Arrow's CSV reader; other databases are read
    with a cursor in chunks of ``READ_CHUNK_ROWS`` rows, one Arrow batch per chunk.
    """
    if connection.vendor == "postgresql":
        return _copy_to_arrow(sql, params, schema)
    batches = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(READ_CHUNK_ROWS):
            columns = list(zip(*rows, strict=True))
            arrays = [_column_array(values, target.type) for values, target in zip(columns, schema, strict=True)]
            batches.append(pa.record_batch(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def _column_array(values: tuple[Any, ...], target: pa.DataType) -> pa.Array:
    """Build one Arrow column from a chunk of cursor values (dates may arrive as text or date objects)."""
    if pa.types.is_date32(target) and values and isinstance(values[0], str):
        return pc.cast(pa.array(values, pa.string()), pa.date32())
    if pa.types.is_floating(target):
        return pa.array([None if v is None else float(v) for v in values], target)
    return pa.array(values, target)


def _copy_to_arrow(sql: str, params: list[Any], schema: pa.Schema) -> pa.Table:
    """Stream ``COPY (sql) TO STDOUT (FORMAT CSV)`` into Arrow (PostgreSQL)."""
    connection.ensure_connection()
    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT CSV)", params) as copy:
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:
        return schema.empty_table()
    buffer.seek(0)
    return pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(column_names=schema.names, block_size=16 << 20),
        convert_options=pa_csv.ConvertOptions(
            column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    ).cast(schema)


@dataclass
class OrdersRead:
    """The orders as transactions for the analytics engine, and what was needed to read them."""

    transactions: pa.Table
    order_counts: tuple[np.ndarray, np.ndarray]  # (account ids, orders) sorted by account id
    orders: int
    has_products: bool


def read_orders(observation_end: dt.date) -> OrdersRead:
    """Read every order up to ``observation_end`` as (customer_id, date, amount[, product_group]) in Arrow.

    When orders have lines with product groups, an order becomes one row per product group with its
    amount split in proportion to the lines (so revenue and purchase days are unchanged, and the summary
    can count the product groups each account buys).
    """
    order_table = Order._meta.db_table
    has_products = OrderLine.objects.filter(product__isnull=False).exclude(product__product_group="").exists()
    if not has_products:
        sql = (
            f"SELECT o.account_id, o.ordered_at, CAST(o.amount AS DOUBLE PRECISION) "
            f"FROM {order_table} o WHERE o.ordered_at <= %s"
        )
        table = query_arrow(sql, [observation_end], ORDER_SCHEMA)
        ids, counts = _counts_by_id(table.column("customer_id").to_numpy())
        return OrdersRead(table, (ids, counts), table.num_rows, False)
    line_table = OrderLine._meta.db_table
    product_table = Product._meta.db_table
    sql = f"""
        WITH line_groups AS (
            SELECT l.order_id, NULLIF(p.product_group, '') AS product_group, SUM(l.amount) AS amount
            FROM {line_table} l LEFT JOIN {product_table} p ON p.id = l.product_id
            GROUP BY l.order_id, NULLIF(p.product_group, '')
        ), shares AS (
            SELECT order_id, product_group, amount,
                   SUM(amount) OVER (PARTITION BY order_id) AS total,
                   COUNT(*) OVER (PARTITION BY order_id) AS parts,
                   ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY product_group) AS part
            FROM line_groups
        )
        SELECT o.account_id, o.ordered_at,
               CAST(CASE WHEN s.total = 0 THEN o.amount / s.parts
                         ELSE o.amount * s.amount / s.total END AS DOUBLE PRECISION),
               s.product_group,
               CASE WHEN s.part = 1 THEN 1 ELSE 0 END
        FROM shares s JOIN {order_table} o ON o.id = s.order_id
        WHERE o.ordered_at <= %s
        UNION ALL
        SELECT o.account_id, o.ordered_at, CAST(o.amount AS DOUBLE PRECISION), NULL, 1
        FROM {order_table} o
        WHERE o.ordered_at <= %s AND NOT EXISTS (SELECT 1 FROM {line_table} l WHERE l.order_id = o.id)
    """
    # Driving the join from the per-order shares (an order id lookup each) keeps SQLite from rescanning the
    # window query once per order, which took minutes on the demo database.
    table = query_arrow(sql, [observation_end, observation_end], SPLIT_ORDER_SCHEMA)
    first = table.column("first_part").to_numpy(zero_copy_only=False).astype(bool)
    ids, counts = _counts_by_id(table.column("customer_id").to_numpy()[first])
    return OrdersRead(table.drop_columns(["first_part"]), (ids, counts), int(first.sum()), True)


def _counts_by_id(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distinct, counts = np.unique(ids, return_counts=True)
    return distinct.astype(np.int64), counts.astype(np.int64)


def read_subscription_mrr(observation_end: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Return (account ids, monthly amount) of the subscriptions running on ``observation_end``."""
    sql = (
        f"SELECT account_id, CAST(SUM(monthly_amount) AS DOUBLE PRECISION) FROM {Subscription._meta.db_table} "
        "WHERE status IN ('active', 'past_due') AND started_on <= %s AND (ends_on IS NULL OR ends_on >= %s) "
        "GROUP BY account_id ORDER BY account_id"
    )
    schema = pa.schema([("account_id", pa.int64()), ("mrr", pa.float64())])
    table = query_arrow(sql, [observation_end, observation_end], schema).sort_by("account_id")
    return table.column("account_id").to_numpy(), table.column("mrr").to_numpy(zero_copy_only=False)


def read_previous_scores(run: ScoreRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (account ids, ABC tiers, CLV) of a run's scores, sorted by account id."""
    sql = f"SELECT account_id, abc_tier, clv FROM {AccountScore._meta.db_table} WHERE run_id = %s"
    schema = pa.schema([("account_id", pa.int64()), ("abc_tier", pa.string()), ("clv", pa.float64())])
    table = query_arrow(sql, [run.pk], schema).sort_by("account_id")
    tiers = pc.fill_null(table.column("abc_tier"), "").to_numpy(zero_copy_only=False)
    clv = table.column("clv").to_numpy(zero_copy_only=False).astype(np.float64)
    return table.column("account_id").to_numpy(), tiers, clv


def _lookup(keys: np.ndarray, sorted_ids: np.ndarray, values: np.ndarray, missing: Any) -> np.ndarray:
    """Return ``values`` of ``sorted_ids`` at ``keys`` (``missing`` where a key is absent)."""
    result = np.full(len(keys), missing, dtype=values.dtype if len(values) else object)
    if not len(sorted_ids):
        return result
    position = np.clip(np.searchsorted(sorted_ids, keys), 0, len(sorted_ids) - 1)
    found = sorted_ids[position] == keys
    result[found] = values[position[found]]
    return result


# --- scoring -------------------------------------------------------------------------------------------


@dataclass
class _Clock:
    """Wall time per stage of a scoring run, and the progress callback."""

    progress: Progress | None
    timings: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str, fraction: float = 0.0) -> _Stage:
        """Start timing ``name`` and report progress at ``fraction`` through that stage's band."""
        if self.progress is not None:
            low, high = _PROGRESS.get(name, (0.95, 1.0))
            self.progress(name, low + (high - low) * fraction)
        return _Stage(self, name)


class _Stage:
    def __init__(self, clock: _Clock, name: str) -> None:
        self.clock, self.name, self.started = clock, name, time.perf_counter()

    def __enter__(self) -> _Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.clock.timings[self.name] = self.clock.timings.get(self.name, 0.0) + time.perf_counter() - self.started


def run_scoring(
    user: User | None = None,
    *,
    run: ScoreRun | int | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
    observation_end: dt.date | None = None,
) -> ScoreRun:
    """Score every account with orders into a new run (or the given queued run) and return it.

    The scores and the run's results are written in one transaction; if anything fails, no score is
    kept and the run is marked failed with the reason (then the error is raised again). A model that
    cannot be fitted is not a failure: the run succeeds with a warning and empty predictions.
    """
    run = _start_run(user, run, engine)
    clock = _Clock(progress)
    try:
        with transaction.atomic():
            _score_into(run, clock, observation_end or timezone.localdate())
            committing = time.perf_counter()
    except Exception as exc:
        if isinstance(exc, PatronError):
            message = exc.message
        else:
            message = f"{type(exc).__name__}: {exc}"
            logger.exception("Scoring run %s failed", run.pk)
        ScoreRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=message[:5000], timings=clock.timings
        )
        run.refresh_from_db()
        raise
    # The commit (inside a caller's transaction: a savepoint release) is timed after the run was saved.
    run.timings["commit"] = round(time.perf_counter() - committing, 4)
    removing = time.perf_counter()
    remove_old_scores()
    run.timings["retention"] = round(time.perf_counter() - removing, 4)
    ScoreRun.objects.filter(pk=run.pk).update(timings=run.timings)
    if progress is not None:
        progress("done", 1.0)
    return run


def remove_old_scores(keep: int | None = None) -> list[int]:
    """Delete the account scores of successful runs older than the newest ``keep`` (the settings' runs_kept).

    The runs themselves stay, with their summaries, fits, Pareto curve and diagnostics, so trends of the
    whole base remain; only what needs one row per account goes. Returns the ids of the runs emptied.
    """
    keep = get_settings().runs_kept if keep is None else keep
    finished = ScoreRun.objects.filter(status=RunStatus.SUCCEEDED, scores_removed_at__isnull=True).order_by("-id")
    old = list(finished.values_list("id", flat=True)[keep:])
    if old:
        # Nothing refers to a score row and no signal listens, so Django issues one DELETE (no fetching).
        AccountScore.objects.filter(run_id__in=old).delete()
        ScoreRun.objects.filter(id__in=old).update(scores_removed_at=timezone.now())
    return old


def with_scores(run: ScoreRun) -> ScoreRun:
    """Return the run if it still holds its account scores, else raise Gone saying why."""
    if run.scores_removed_at is not None:
        raise Gone(
            _(
                "The account scores of scoring run %(id)s were removed on %(date)s by the retention setting "
                "(runs kept with account scores); its summaries are still shown."
            )
            % {"id": run.pk, "date": run.scores_removed_at.date().isoformat()}
        )
    return run


def _start_run(user: User | None, run: ScoreRun | int | None, engine: str | None) -> ScoreRun:
    """Mark the queued run (or a new one) as running; refuse when another run is already running."""
    if run is not None and not isinstance(run, ScoreRun):
        found = ScoreRun.objects.filter(pk=run).first()
        if found is None:
            raise NotFound(_("Scoring run %(id)s not found.") % {"id": run})
        run = found
    since = timezone.now() - STALE_AFTER
    # A run still "running" long after it started was cut short (worker killed, machine restarted).
    ScoreRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=since).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        error=_("Abandoned: the run did not finish within %(hours)s hours.")
        % {"hours": int(STALE_AFTER.total_seconds() // 3600)},
    )
    busy = ScoreRun.objects.filter(status=RunStatus.RUNNING, started_at__gte=since)
    if run is not None:
        busy = busy.exclude(pk=run.pk)
        if run.status != RunStatus.QUEUED:
            raise Conflict(_("Scoring run %(id)s has already run.") % {"id": run.pk})
    other = busy.first()
    if other is not None:
        raise Conflict(_("Scoring run %(id)s is running; wait for it to finish.") % {"id": other.pk})
    if run is None:
        run = ScoreRun(requested_by=user if user is not None and user.is_authenticated else None)
    run.engine = check_engine(engine or (run.engine if run.pk else None))
    run.status = RunStatus.RUNNING
    run.started_at = timezone.now()
    run.save()
    return run


def _score_into(run: ScoreRun, clock: _Clock, observation_end: dt.date) -> None:
    """Read, score, check and write one run (inside the caller's transaction)."""
    from patron.analytics.scoring import score
    from patron.analytics.sources import read_transactions

    value_settings = get_settings()
    segment_settings = value_settings.segment_settings()
    time_unit = value_settings.time_unit
    horizon = horizon_units(value_settings.horizon_months, time_unit)
    margin = value_settings.margin_percent / 100.0

    with clock.stage("read"):
        orders = read_orders(observation_end)
        if orders.orders == 0:
            raise Invalid(_("There are no orders up to %(date)s to score.") % {"date": observation_end.isoformat()})
        mrr_ids, mrr = read_subscription_mrr(observation_end)
        previous = latest_run()
        previous_scores = read_previous_scores(previous) if previous is not None else None
        transactions = read_transactions(
            orders.transactions, product_col="product_group" if orders.has_products else None, engine=run.engine
        )

    def score_progress(stage: str, fraction: float) -> None:
        clock.stage("score", fraction)

    with clock.stage("score"):
        result = score(
            transactions,
            observation_end=observation_end,
            time_unit=time_unit,
            horizon=horizon,
            discount_rate=value_settings.annual_discount_rate,
            margin=margin,
            settings=segment_settings,
            monthly=True,
            progress=score_progress,
        )
    for name, seconds in result.timings.items():
        clock.timings[f"score.{name}"] = seconds

    with clock.stage("diagnostics"):
        diagnostics, diagnostic_warnings = compute_diagnostics(transactions, result, orders.transactions)

    with clock.stage("write"):
        customers = result.customers
        account_ids = pc.cast(customers.column("customer_id"), pa.int64()).to_numpy()
        order_ids, order_counts = orders.order_counts
        extra: dict[str, Any] = {
            "account_id": account_ids,
            "orders": _lookup(account_ids, order_ids, order_counts, 0),
        }
        order_arpu = customers.column("arpu_3m").to_numpy(zero_copy_only=False)
        subscription_arpu = _lookup(account_ids, mrr_ids, mrr.astype(np.float64), 0.0)
        # Invoices of subscriptions are often recorded as orders too: take the larger, never the sum.
        arpu = np.maximum(order_arpu, subscription_arpu)
        extra["arpu"] = arpu
        extra["arpu_tier"] = _arpu_tiers(account_ids, arpu, observation_end, segment_settings)
        if previous_scores is not None:
            prev_ids, prev_tiers, prev_clv = previous_scores
            extra["previous_abc_tier"] = _lookup(account_ids, prev_ids, prev_tiers.astype(object), "")
            extra["previous_clv"] = _lookup(account_ids, prev_ids, prev_clv, np.nan)
        else:
            extra["previous_abc_tier"] = np.full(len(account_ids), "", dtype=object)
            extra["previous_clv"] = np.full(len(account_ids), np.nan)
        write_scores(run, customers, extra)

    with clock.stage("aggregate"):
        run.previous_run = previous
        run.observation_end = result.observation_end
        run.time_unit = time_unit
        run.settings = {
            **value_settings.as_dict(),
            "horizon": horizon,
            "model": result.parameters.get("model", "bgnbd"),
            "engine": result.engine,
        }
        run.fits = _jsonable(result.fits)
        run.pareto = [
            {"top_percent": p, "customers": c, "value_share": s}
            for p, c, s in zip(
                result.pareto.column("top_percent").to_pylist(),
                result.pareto.column("customers").to_pylist(),
                result.pareto.column("value_share").to_pylist(),
                strict=True,
            )
        ]
        run.diagnostics = _jsonable(diagnostics)
        run.warnings = list(result.warnings) + diagnostic_warnings
        run.customers_scored = len(account_ids)
        run.orders_read = orders.orders
        scores = AccountScore.objects.filter(run=run)
        summary = segment_summary(scores, run)
        if previous is not None:
            summary["transitions"] = tier_transitions(previous, run)
        if result.arpu_monthly is not None and result.arpu_monthly.num_rows:
            monthly = monthly_arpu_summary(result.arpu_monthly, result.observation_end)
            if monthly is not None:
                summary["arpu_transitions"] = monthly
        run.summary = _jsonable(summary)
    run.status = RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.timings = {name: round(seconds, 4) for name, seconds in clock.timings.items()}
    run.save()


def _arpu_tiers(
    account_ids: np.ndarray, arpu: np.ndarray, observation_end: dt.date, settings: seg.SegmentSettings
) -> np.ndarray:
    """Return the ARPU tier (high/middle/low) of each paying account; '' for accounts paying nothing now."""
    tiers = np.full(len(account_ids), "", dtype=object)
    paying = arpu > 0
    if not paying.any():
        return tiers
    month = np.datetime64(observation_end.replace(day=1), "D")
    monthly = pa.table(
        {
            "customer_id": pa.array(account_ids[paying].astype(str)),
            "month": pa.array(np.full(int(paying.sum()), month), pa.date32()),
            "revenue": pa.array(arpu[paying]),
        }
    )
    tiers[paying] = (
        seg.arpu_tiers(monthly, thresholds=settings.arpu_thresholds).column("tier").to_numpy(zero_copy_only=False)
    )
    return tiers


def last_complete_month(observation_end: dt.date) -> dt.date:
    """Return the first day of the last calendar month that ended on or before ``observation_end``."""
    if (observation_end + dt.timedelta(days=1)).month != observation_end.month:
        return observation_end.replace(day=1)
    return (observation_end.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def monthly_arpu_summary(arpu_monthly: pa.Table, observation_end: dt.date) -> dict[str, Any] | None:
    """Return the ARPU tier moves into the last complete calendar month and the tier sizes in that month.

    A month still running on the observation end is left out: early in a month most customers have not
    bought yet, and counting them as "no purchase" would tell users the base stopped buying. Tiers are
    those of ``seg.arpu_tiers`` (calendar-month revenue); the states follow ``seg.arpu_transitions``:
    from "new" in a customer's first month, from "gone" when coming back, to "gone" when not buying.
    Returns None when nobody bought in that month or the month before.
    """
    month = last_complete_month(observation_end)
    previous = (month - dt.timedelta(days=1)).replace(day=1)
    target = np.datetime64(month, "M").astype(np.int64)
    months = np.asarray(pc.cast(arpu_monthly.column("month"), pa.int32()).to_numpy(zero_copy_only=False))
    months = months.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    in_month, in_previous = months == target, months == target - 1
    if not (in_month.any() or in_previous.any()):
        return None
    ids = np.asarray(arpu_monthly.column("customer_id").to_numpy(zero_copy_only=False))
    _unique, customer = np.unique(ids, return_inverse=True)
    tiers = np.asarray(arpu_monthly.column("tier").to_numpy(zero_copy_only=False), dtype=object)
    revenue = np.asarray(arpu_monthly.column("revenue").to_numpy(zero_copy_only=False), dtype=np.float64)
    count = len(_unique)
    tier_now = np.full(count, "", dtype=object)
    tier_before = np.full(count, "", dtype=object)
    bought_earlier = np.zeros(count, dtype=bool)
    tier_now[customer[in_month]] = tiers[in_month]
    tier_before[customer[in_previous]] = tiers[in_previous]
    bought_earlier[customer[months < target - 1]] = True
    moved = (tier_now != "") | (tier_before != "")
    source = np.where(tier_before != "", tier_before, np.where(bought_earlier, "gone", "new"))[moved]
    destination = np.where(tier_now != "", tier_now, "gone")[moved]
    states = ("new", *seg.ARPU_TIERS, "gone")
    code = {name: index for index, name in enumerate(states)}
    pairs = np.array([code[name] for name in source], dtype=np.int64) * len(states) + np.array(
        [code[name] for name in destination], dtype=np.int64
    )
    counted = np.bincount(pairs, minlength=len(states) ** 2)
    matrix = {
        state: {to: int(counted[code[state] * len(states) + code[to]]) for to in (*seg.ARPU_TIERS, "gone")}
        for state in states
    }
    month_revenue = float(revenue[in_month].sum())
    tier_rows = []
    for name in seg.ARPU_TIERS:
        rows = in_month & (tiers == name)
        tier_revenue = float(revenue[rows].sum())
        tier_rows.append(
            {
                "name": name,
                "accounts": int(rows.sum()),
                "revenue": tier_revenue,
                "revenue_share": tier_revenue / month_revenue if month_revenue else 0.0,
            }
        )
    return {
        "month": month.isoformat(),
        "previous_month": previous.isoformat(),
        "matrix": matrix,
        "tiers": tier_rows,
    }


def write_scores(run: ScoreRun, customers: pa.Table, extra: Mapping[str, Any]) -> None:
    """Insert one AccountScore per row of the scored customers (COPY on PostgreSQL, else bulk_create)."""
    table = _score_rows(run, customers, extra)
    if connection.vendor == "postgresql":
        _copy_scores(table)
        return
    names = table.column_names
    for batch in table.to_batches(WRITE_BATCH_ROWS):
        data = batch.to_pydict()
        rows = [AccountScore(**dict(zip(names, values, strict=True))) for values in zip(*data.values(), strict=True)]
        AccountScore.objects.bulk_create(rows, batch_size=WRITE_BATCH_ROWS)


def _float_column(values: Any) -> pa.Array:
    """Return a float64 column with NaN and infinities as null (the database gets NULL, not NaN)."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    array = np.asarray(values, dtype=np.float64)
    return pa.array(array, pa.float64(), mask=~np.isfinite(array))


def _text_column(values: Any) -> pa.Array:
    """Return a string column with nulls as '' (the text columns are NOT NULL)."""
    if not isinstance(values, pa.ChunkedArray | pa.Array):
        values = pa.array(values, pa.string())
    return pc.fill_null(pc.cast(values, pa.string()), "")


def _score_rows(run: ScoreRun, customers: pa.Table, extra: Mapping[str, Any]) -> pa.Table:
    """Return the AccountScore rows as an Arrow table named by model attribute."""
    count = customers.num_rows
    column = customers.column
    product_groups = pc.cast(column("product_groups"), pa.int64())
    rows = {
        "run_id": pa.array(np.full(count, run.pk, dtype=np.int64)),
        "account_id": pa.array(extra["account_id"], pa.int64()),
        "orders": pa.array(extra["orders"], pa.int64()),
        "frequency": pc.cast(column("frequency"), pa.int64()),
        "recency": _float_column(column("recency")),
        "age": _float_column(column("T")),
        "revenue": _float_column(column("total_revenue")),
        "monetary_value": _float_column(column("monetary_value")),
        "first_order": column("first_purchase"),
        "last_order": column("last_purchase"),
        "revenue_trend": _float_column(column("revenue_trend")),
        "product_groups": product_groups,
        "arpu": _float_column(extra["arpu"]),
        "abc_tier": _text_column(column("abc_tier")),
        "arpu_tier": _text_column(extra["arpu_tier"]),
        "rfm_r": pc.cast(column("rfm_r"), pa.int64()),
        "rfm_f": pc.cast(column("rfm_f"), pa.int64()),
        "rfm_m": pc.cast(column("rfm_m"), pa.int64()),
        "rfm_segment": _text_column(column("rfm_segment")),
        "lifecycle_class": _text_column(column("lifecycle_class")),
        "p_alive": _float_column(column("p_alive")),
        "expected_purchases": _float_column(column("expected_purchases")),
        "expected_spend": _float_column(column("expected_spend")),
        "clv": _float_column(column("clv")),
        "previous_abc_tier": _text_column(extra["previous_abc_tier"]),
        "previous_clv": _float_column(extra["previous_clv"]),
    }
    return pa.table(rows)


def _copy_scores(table: pa.Table) -> None:
    """Write score rows with ``COPY ... FROM STDIN (FORMAT CSV)`` in slices (PostgreSQL)."""
    column_of = {f.attname: str(f.column) for f in AccountScore._meta.concrete_fields}
    columns = [column_of[name] for name in table.column_names]
    sql = f"COPY {AccountScore._meta.db_table} ({', '.join(columns)}) FROM STDIN (FORMAT CSV)"
    # Arrow writes nulls as empty fields and empty strings as "" (quoted), which is exactly how COPY's
    # CSV format tells NULL from ''.
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    connection.ensure_connection()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for start in range(0, table.num_rows, COPY_WRITE_ROWS):
            chunk = io.BytesIO()
            pa_csv.write_csv(table.slice(start, COPY_WRITE_ROWS), chunk, options)
            copy.write(chunk.getvalue())


def _jsonable(value: Any) -> Any:
    """Return ``value`` with NumPy scalars, dates and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# --- diagnostics ---------------------------------------------------------------------------------------


def compute_diagnostics(transactions: Any, result: Any, orders: pa.Table) -> tuple[dict[str, Any], list[str]]:
    """Check the transaction model against a holdout: refit on the history before it, compare by frequency.

    Returns the diagnostics (holdout window, calibration fit, predicted vs actual holdout purchases by
    calibration frequency, and the tracking curve of repeat purchases per period) and any warnings.
    """
    from patron.analytics.diagnostics import calibration_holdout_by_frequency, tracking_curve
    from patron.analytics.lifetime import BetaGeo
    from patron.analytics.summary import holdout_counts, summarize

    end: dt.date = result.observation_end
    time_unit: str = result.time_unit
    unit_days = UNIT_DAYS[TimeUnit(time_unit)]
    first_day = pc.min(orders.column("date")).as_py()
    if first_day is None:
        return {}, []
    span_days = (end - first_day).days
    holdout_days = min(HOLDOUT_MAX_DAYS, span_days // 3)
    if holdout_days < 2 * unit_days:
        return {}, [_("Diagnostics: the history is too short to keep a holdout period back.")]
    calibration_end = end - dt.timedelta(days=holdout_days)
    try:
        calibration = summarize(transactions, observation_end=calibration_end, time_unit=time_unit)
        holdout = holdout_counts(transactions, calibration_end=calibration_end, holdout_end=end, time_unit=time_unit)
        x = calibration.column("frequency").to_numpy()
        t_x = calibration.column("recency").to_numpy()
        age = calibration.column("T").to_numpy()
        model = BetaGeo().fit(x, t_x, age)
        by_frequency = calibration_holdout_by_frequency(
            model, x, t_x, age, holdout.column("frequency_holdout").to_numpy(), holdout_days / unit_days
        )
        tracking = _tracking(model, orders, first_day, end, unit_days, tracking_curve)
    except PatronError as exc:
        return {}, [_("Diagnostics: %(message)s") % {"message": exc.message}]
    return {
        "model": model.kind,
        "calibration_end": calibration_end.isoformat(),
        "holdout_end": end.isoformat(),
        "holdout_units": holdout_days / unit_days,
        "time_unit": time_unit,
        "calibration_fit": model.as_dict(),
        "by_frequency": by_frequency,
        "tracking": tracking,
    }, []


def _tracking(
    model: Any, orders: pa.Table, first_day: dt.date, end: dt.date, unit_days: float, curve: Callable[..., Any]
) -> list[dict[str, Any]]:
    """Return the tracking curve: repeat purchase days per period, actual vs the model's expectation."""
    ids = orders.column("customer_id").to_numpy().astype(np.int64)
    days = pc.cast(orders.column("date"), pa.int32()).to_numpy().astype(np.int64)
    # One purchase per customer and day, as the summary counts them: one int64 key per (customer, day)
    # (days since 1970 stay below 2**17 until the year 2328), sorted once.
    keys = np.unique(ids * (1 << 17) + days)
    customer, day = keys >> 17, keys & ((1 << 17) - 1)
    first_of_customer = np.r_[True, customer[1:] != customer[:-1]]
    start = (first_day - dt.date(1970, 1, 1)).days
    offsets = (day[first_of_customer] - start) / unit_days
    repeats = (day[~first_of_customer] - start) / unit_days
    periods = max(1, math.ceil(((end - first_day).days + 1) / unit_days))
    return curve(model, offsets, repeats, periods)


# --- aggregates ----------------------------------------------------------------------------------------


def segment_summary(scores: QuerySet[AccountScore], run: ScoreRun) -> dict[str, Any]:
    """Return tier sizes and revenue shares, lifecycle, RFM and ARPU counts and the CLV histogram of ``scores``."""
    found_totals = scores.aggregate(
        n=Count("id"),
        revenue_sum=Sum("revenue"),
        clv_sum=Sum("clv"),
        with_clv=Count("clv"),
        p_alive_mean=Avg("p_alive"),
    )
    totals = {
        "accounts": found_totals["n"] or 0,
        "revenue": found_totals["revenue_sum"] or 0.0,
        "clv": found_totals["clv_sum"],
        "with_clv": found_totals["with_clv"] or 0,
        "p_alive": found_totals["p_alive_mean"],
    }
    revenue_total = totals["revenue"]
    clv_total = totals["clv"] or 0.0
    accounts_total = totals["accounts"]

    def rows(key: str) -> list[dict[str, Any]]:
        found = scores.values(key).annotate(n=Count("id"), revenue_sum=Sum("revenue"), clv_sum=Sum("clv")).order_by(key)
        return [
            {
                "name": row[key],
                "accounts": row["n"],
                "account_share": row["n"] / accounts_total if accounts_total else 0.0,
                "revenue": row["revenue_sum"] or 0.0,
                "revenue_share": (row["revenue_sum"] or 0.0) / revenue_total if revenue_total else 0.0,
                "clv": row["clv_sum"],
                "clv_share": (row["clv_sum"] or 0.0) / clv_total if clv_total else None,
            }
            for row in found
        ]

    strategies = run.settings.get("lifecycle_strategies") or {}
    lifecycle = {row["name"]: row for row in rows("lifecycle_class")}
    return {
        "totals": totals,
        "tiers": rows("abc_tier"),
        "lifecycle": [
            {
                **lifecycle.get(
                    name,
                    {
                        "name": name,
                        "accounts": 0,
                        "account_share": 0.0,
                        "revenue": 0.0,
                        "revenue_share": 0.0,
                        "clv": None,
                        "clv_share": None,
                    },
                ),
                "strategy": strategies.get(name, ""),
            }
            for name in seg.LIFECYCLE_CLASSES
        ],
        "rfm": sorted(rows("rfm_segment"), key=lambda row: _rfm_position(row["name"])),
        "arpu": sorted((row for row in rows("arpu_tier") if row["name"]), key=lambda row: _arpu_position(row["name"])),
        "clv_histogram": clv_histogram(scores),
    }


def _arpu_position(name: str) -> int:
    return seg.ARPU_TIERS.index(name) if name in seg.ARPU_TIERS else len(seg.ARPU_TIERS)


def _rfm_position(name: str) -> int:
    return seg.RFM_SEGMENTS.index(name) if name in seg.RFM_SEGMENTS else len(seg.RFM_SEGMENTS)


def histogram_edges(largest: float) -> list[float]:
    """Return log-spaced bin edges 1, 3, 10, 30, 100… (two bins a decade) up to the first edge above ``largest``."""
    edges = [1.0]
    while edges[-1] <= largest:
        edges.append(round(edges[-1] * (3.0 if len(edges) % 2 else 10.0 / 3.0)))
    return edges


def clv_histogram(scores: QuerySet[AccountScore]) -> dict[str, Any]:
    """Count accounts per log-spaced CLV bin (below 1, 1–2, 2–5, 5–10, …) and those without a CLV."""
    largest = scores.aggregate(top_clv=Max("clv"))["top_clv"]
    if largest is None:
        return {"bins": [], "without_clv": scores.count()}
    edges = histogram_edges(float(largest))
    metrics = {
        "n_below": Count("id", filter=Q(clv__lt=edges[0])),
        "n_without": Count("id", filter=Q(clv__isnull=True)),
    }
    for index in range(len(edges) - 1):
        metrics[f"n_bin{index}"] = Count("id", filter=Q(clv__gte=edges[index], clv__lt=edges[index + 1]))
    counts = scores.aggregate(**metrics)
    bins = [{"low": 0.0, "high": edges[0], "accounts": counts["n_below"]}]
    bins += [
        {"low": edges[index], "high": edges[index + 1], "accounts": counts[f"n_bin{index}"]}
        for index in range(len(edges) - 1)
    ]
    return {"bins": bins, "without_clv": counts["n_without"]}


def tier_transitions(run_a: ScoreRun, run_b: ScoreRun, *, user: User | None = None) -> dict[str, Any]:
    """Return how accounts moved between ABC tiers from ``run_a`` to ``run_b`` (new and lost included).

    ``matrix[from][to]`` counts accounts; ``from`` is "new" for accounts first scored in ``run_b`` and
    ``to`` is "lost" for accounts scored in ``run_a`` but not in ``run_b``. With ``user``, only the
    accounts the user may see are counted.
    """
    scores_b = AccountScore.objects.filter(run=with_scores(run_b))
    scores_a = AccountScore.objects.filter(run=with_scores(run_a))
    if user is not None:
        scores_a, scores_b = scores_a.restrict(user), scores_b.restrict(user)
    pairs: Any
    if run_b.previous_run_id == run_a.pk:
        pairs = scores_b.values(source=F("previous_abc_tier"), target=F("abc_tier")).annotate(n=Count("id"))
    else:
        earlier = AccountScore.objects.filter(run=run_a, account=OuterRef("account")).values("abc_tier")[:1]
        pairs = (
            scores_b.annotate(source=Subquery(earlier)).values("source", target=F("abc_tier")).annotate(n=Count("id"))
        )
    lost = (
        scores_a.filter(~Exists(AccountScore.objects.filter(run=run_b, account=OuterRef("account"))))
        .values(source=F("abc_tier"))
        .annotate(n=Count("id"))
    )
    matrix: dict[str, dict[str, int]] = {}
    tiers: set[str] = set()
    for row in pairs:
        source = row["source"] or "new"
        matrix.setdefault(source, {})[row["target"]] = matrix.get(source, {}).get(row["target"], 0) + row["n"]
        tiers.add(row["target"])
        if source != "new":
            tiers.add(source)
    for row in lost:
        matrix.setdefault(row["source"], {})["lost"] = row["n"]
        tiers.add(row["source"])
    ordered = sorted(t for t in tiers if t)
    return {
        "from_run": run_a.pk,
        "to_run": run_b.pk,
        "tiers": ordered,
        "rows": [*ordered, "new"],
        "columns": [*ordered, "lost"],
        "matrix": {
            source: {target: matrix.get(source, {}).get(target, 0) for target in [*ordered, "lost"]}
            for source in [*ordered, "new"]
        },
    }


def pareto_points(values: np.ndarray, points: int = 100) -> list[dict[str, Any]]:
    """Return the Pareto curve (share of value held by the top x% of accounts) of some values."""
    curve = seg.pareto_curve(values, points=points)
    return [
        {"top_percent": p, "customers": c, "value_share": s}
        for p, c, s in zip(
            curve.column("top_percent").to_pylist(),
            curve.column("customers").to_pylist(),
            curve.column("value_share").to_pylist(),
            strict=True,
        )
    ]


def is_unrestricted(user: User) -> bool:
    """Tell whether the user sees every account (admins), so whole-base figures are theirs as they are."""
    q = visibility_q(user, Account, "view")
    return q is not None and not q


def segments(user: User, *, run: ScoreRun | None = None, scope: str = "all") -> dict[str, Any] | None:
    """Return tier, lifecycle, RFM and ARPU figures of a run (latest by default) for the whole base or
    (``scope="visible"``) for the accounts the user may see; None before the first run."""
    if scope not in ("all", "visible"):
        raise Invalid(_("scope must be 'all' or 'visible'."), field="scope")
    run = run or latest_run()
    if run is None:
        return None
    if scope == "all" or is_unrestricted(user):
        summary = dict(run.summary)
        summary["scope"] = "all"
        summary["pareto"] = run.pareto
        return summary
    scores = AccountScore.objects.restrict(user).filter(run=with_scores(run))
    summary = segment_summary(scores, run)
    summary["scope"] = "visible"
    previous = run.previous_run
    if previous is not None:
        summary["transitions"] = tier_transitions(previous, run, user=user)
    values = np.asarray([v or 0.0 for v in scores.values_list(_value_field(run), flat=True)], dtype=np.float64)
    summary["pareto"] = pareto_points(values) if len(values) else []
    return _jsonable(summary)


def _value_field(run: ScoreRun) -> str:
    """Return the score field that ranks accounts in a run's ABC tiers (margin ranks like revenue)."""
    basis = (run.settings.get("segments") or {}).get("abc_value", "revenue")
    return "clv" if basis == "clv" and run.fits.get("gammagamma") else "revenue"


# --- scores --------------------------------------------------------------------------------------------


@dataclass
class ScoreFilters:
    """What the scores list is narrowed to."""

    tier: str | None = None
    lifecycle_class: str | None = None
    rfm_segment: str | None = None
    arpu_tier: str | None = None
    run: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> ScoreFilters:
        """Build filters from query parameters, ignoring empty values."""
        data = data or {}
        values = {name: (data.get(name) or None) for name in (*SCORE_FILTERS, "run")}
        if values["run"] is not None:
            try:
                values["run"] = int(values["run"])
            except (TypeError, ValueError):
                raise Invalid(_("run must be a run id."), field="run") from None
        return cls(**values)

    def q(self) -> Q:
        """Return the filter as a Q object on AccountScore."""
        q = Q()
        if self.tier:
            q &= Q(abc_tier=self.tier)
        for name in ("lifecycle_class", "rfm_segment", "arpu_tier"):
            if getattr(self, name):
                q &= Q(**{name: getattr(self, name)})
        return q


def _scores_run(filters: ScoreFilters) -> ScoreRun | None:
    if filters.run is None:
        return latest_run()
    run = ScoreRun.objects.filter(pk=filters.run, status=RunStatus.SUCCEEDED).first()
    if run is None:
        raise NotFound(_("Scoring run %(id)s not found.") % {"id": filters.run})
    return with_scores(run)


def check_score_order(order: str | None) -> str:
    """Return a permitted scores ordering (default -clv), or raise Invalid naming the ones allowed."""
    order = order or "-clv"
    if order.lstrip("-") not in SCORE_ORDERINGS:
        allowed = ", ".join(SCORE_ORDERINGS)
        raise Invalid(
            _("Cannot sort by '%(order)s'; choose one of %(allowed)s (prefix - for descending).")
            % {"order": order, "allowed": allowed},
            field="order",
        )
    return order


def scores_query(
    user: User, filters: ScoreFilters | Mapping[str, Any] | None = None
) -> tuple[ScoreRun | None, QuerySet]:
    """Return the run shown and the visible, filtered scores of it (unsorted)."""
    if not isinstance(filters, ScoreFilters):
        filters = ScoreFilters.from_mapping(filters)
    run = _scores_run(filters)
    if run is None:
        return None, AccountScore.objects.none()
    return run, AccountScore.objects.restrict(user).filter(filters.q(), run=run)


def latest_scores(
    user: User,
    filters: ScoreFilters | Mapping[str, Any] | None = None,
    order: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    *,
    account_filters: Mapping[str, Any] | None = None,
    search: str | None = None,
) -> Page:
    """Return one keyset page of the visible accounts' scores in the latest run (or ``filters.run``).

    Sorts put accounts without a value (no CLV when the model could not be fitted) last either way.
    The cursor remembers its run, so paging goes on over the same snapshot when a new run finishes.
    """
    order = check_score_order(order)
    if not isinstance(filters, ScoreFilters):
        filters = ScoreFilters.from_mapping(filters)
    decoded = _decode_cursor(cursor, order) if cursor else None
    if decoded is not None:
        filters = ScoreFilters(**{**filters.__dict__, "run": decoded[2]})
    run, qs = scores_query(user, filters)
    if run is None:
        return Page([], None)
    if account_filters:
        qs = qs.filter(**{f"account__{k}": v for k, v in account_filters.items() if v is not None and v != ""})
    if search and search.strip():
        text = search.strip()
        qs = qs.filter(Q(account__name__icontains=text) | Q(account__external_id__icontains=text))
    # The run is already loaded: join only the account (the run's JSON results would come once per row).
    qs = qs.select_related("account")
    name = "account_id" if order.lstrip("-") == "account" else order.lstrip("-")
    descending = order.startswith("-")
    page = _keyset_nulls_last(qs, order, name, descending, decoded, limit, run.pk)
    for score in page.items:
        score.run = run
    return page


def _keyset_nulls_last(
    qs: QuerySet, order: str, name: str, descending: bool, decoded: tuple[Any, int, int] | None, limit: int, run_id: int
) -> Page:
    """Keyset page sorted by ``name`` then id, non-null values first, nulls after them (one query per part)."""
    direction = "lt" if descending else "gt"
    sort = [f"-{name}", "-id"] if descending else [name, "id"]
    rows: list[AccountScore] = []
    in_nulls = decoded is not None and decoded[0] is None
    if not in_nulls:
        part = qs.filter(**{f"{name}__isnull": False})
        if decoded is not None:
            value, pk = decoded[0], decoded[1]
            # The redundant bound (value <= v) lets the database start the index scan at the cursor.
            bound = "lte" if descending else "gte"
            part = part.filter(Q(**{f"{name}__{bound}": value})).filter(
                Q(**{f"{name}__{direction}": value}) | Q(**{name: value, f"id__{direction}": pk})
            )
        rows = list(part.order_by(*sort)[: limit + 1])
    if len(rows) <= limit and name != "account_id":
        part = qs.filter(**{f"{name}__isnull": True})
        if in_nulls:
            part = part.filter(**{f"id__{direction}": decoded[1]})  # type: ignore[index]
        rows += list(part.order_by("-id" if descending else "id")[: limit + 1 - len(rows)])
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    return Page(rows, _encode_cursor(order, getattr(last, name), last.pk, run_id))


def _encode_cursor(order: str, value: Any, pk: int, run_id: int) -> str:
    raw = json.dumps([order, value, pk, run_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str) -> tuple[Any, int, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        got_order, value, pk, run_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if got_order != order or not isinstance(pk, int) or not isinstance(run_id, int):
            raise ValueError("cursor was made for another ordering")
        if value is not None and not isinstance(value, int | float):
            raise ValueError("bad value")
        return value, pk, run_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise Invalid(
            _("The cursor is not one this list handed out; start again without it."), field="cursor"
        ) from None


EXPORT_COLUMNS = (
    "account_id",
    "account_name",
    "abc_tier",
    "previous_abc_tier",
    "lifecycle_class",
    "lifecycle_strategy",
    "rfm_segment",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "arpu_tier",
    "arpu",
    "orders",
    "frequency",
    "revenue",
    "monetary_value",
    "first_order",
    "last_order",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    "previous_clv",
    "run_id",
    "observation_end",
)


def export_scores(
    user: User, filters: ScoreFilters | Mapping[str, Any] | None = None, order: str | None = None
) -> Iterator[list[Any]]:
    """Yield the header and one row per visible, filtered score of the run, page by page (no big query)."""
    order = check_score_order(order)
    if not isinstance(filters, ScoreFilters):
        filters = ScoreFilters.from_mapping(filters)
    run = _scores_run(filters)
    yield list(EXPORT_COLUMNS)
    if run is None:
        return
    filters = ScoreFilters(**{**filters.__dict__, "run": run.pk})
    strategies = run.settings.get("lifecycle_strategies") or {}
    cursor = None
    while True:
        page = latest_scores(user, filters, order, cursor, 2000)
        for score in page.items:
            yield [
                score.account_id,
                score.account.name,
                score.abc_tier,
                score.previous_abc_tier,
                score.lifecycle_class,
                strategies.get(score.lifecycle_class, ""),
                score.rfm_segment,
                score.rfm_r,
                score.rfm_f,
                score.rfm_m,
                score.arpu_tier,
                _round(score.arpu),
                score.orders,
                score.frequency,
                _round(score.revenue),
                _round(score.monetary_value),
                score.first_order.isoformat(),
                score.last_order.isoformat(),
                _round(score.p_alive, 4),
                _round(score.expected_purchases, 4),
                _round(score.expected_spend),
                _round(score.clv),
                _round(score.previous_clv),
                run.pk,
                run.observation_end.isoformat() if run.observation_end else "",
            ]
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def _round(value: float | None, digits: int = 2) -> float | str:
    return "" if value is None else round(value, digits)


# --- one account ---------------------------------------------------------------------------------------


HISTORY_RUNS = 12


def account_value(user: User, account_id: int) -> dict[str, Any] | None:
    """Return an account's latest score with its strategy and trend, and its history over recent runs.

    Raises NotFound when the account does not exist or the user may not see it; returns None when it
    has not been scored yet (no orders, or no run since its first order).
    """
    if not Account.objects.restrict(user).filter(pk=account_id).exists():
        raise NotFound(_("Account %(id)s not found.") % {"id": account_id})
    history = list(
        AccountScore.objects.filter(account_id=account_id, run__status=RunStatus.SUCCEEDED)
        .select_related("run")
        .defer(*(f"run__{name}" for name in _RUN_BIG_FIELDS))
        .order_by("-run_id")[:HISTORY_RUNS]
    )
    if not history:
        return None
    latest = history[0]
    newest_run = latest_run()
    clv_change = None
    if latest.clv is not None and latest.previous_clv is not None:
        clv_change = latest.clv - latest.previous_clv
    return {
        "account_id": account_id,
        "score": latest,
        "run": latest.run,
        "is_current": newest_run is not None and latest.run_id == newest_run.pk,
        "strategy": latest.lifecycle_strategy,
        "lifecycle_label": lifecycle_label(latest.lifecycle_class),
        "rfm_label": rfm_label(latest.rfm_segment),
        "tier_change": latest.tier_change,
        "clv_change": clv_change,
        "horizon_months": latest.run.settings.get("horizon_months"),
        # The units of the CLV shown: what share of revenue counts and how the future is discounted.
        "margin_percent": latest.run.settings.get("margin_percent"),
        "annual_discount_rate": latest.run.settings.get("annual_discount_rate"),
        "history": [
            {
                "run_id": row.run_id,
                "observation_end": row.run.observation_end,
                "abc_tier": row.abc_tier,
                "lifecycle_class": row.lifecycle_class,
                "clv": row.clv,
                "p_alive": row.p_alive,
                "revenue": row.revenue,
            }
            for row in history
        ],
    }


def account_value_q(
    filters: Mapping[str, Any] | None = None,
    *,
    tier: str | None = None,
    lifecycle_class: str | None = None,
    rfm_segment: str | None = None,
) -> Q:
    """Return a Q on Account: ``filters`` (field lookups) and, when given, a tier, lifecycle class or RFM
    segment in the latest run (for the accounts list: ``Records.list(user, filters=account_value_q(...))``)."""
    q = Q(**{k: v for k, v in (filters or {}).items() if v is not None and v != ""})
    narrowed = ScoreFilters(tier=tier, lifecycle_class=lifecycle_class, rfm_segment=rfm_segment).q()
    if not narrowed:
        return q
    run = latest_run()
    if run is None:
        return q & Q(pk__in=[])
    return q & Q(Exists(AccountScore.objects.filter(narrowed, run=run, account=OuterRef("pk"))))


def accounts_by_value(
    user: User,
    *,
    order: str = "-clv",
    cursor: str | None = None,
    limit: int = 50,
    account_filters: Mapping[str, Any] | None = None,
    search: str | None = None,
    tier: str | None = None,
    lifecycle_class: str | None = None,
    rfm_segment: str | None = None,
) -> Page:
    """Return one keyset page of visible accounts sorted by CLV, P(alive) or revenue in the latest run.

    Each account carries its score as ``account.value_score``. ``account_filters`` are Account field
    lookups (owner_id, team_id, industry, ...) and ``search`` matches the name or external id, so the
    accounts list can offer these sorts with its own filters. Accounts never scored are not listed.
    """
    filters = ScoreFilters(tier=tier, lifecycle_class=lifecycle_class, rfm_segment=rfm_segment)
    page = latest_scores(user, filters, order, cursor, limit, account_filters=account_filters, search=search)
    accounts = []
    for score in page.items:
        account = score.account
        account.value_score = score
        accounts.append(account)
    return Page(accounts, page.next_cursor)


def latest_scores_for(account_ids: list[int]) -> dict[int, AccountScore]:
    """Return the latest run's score of each of these accounts (for the columns of a list page)."""
    run = latest_run()
    if run is None or not account_ids:
        return {}
    found = AccountScore.objects.filter(run=run, account_id__in=account_ids)
    scores = {}
    for score in found:
        score.run = run
        scores[score.account_id] = score
    return scores


# --- pages ---------------------------------------------------------------------------------------------


def dashboard_data(user: User, *, scope: str | None = None) -> dict[str, Any]:
    """Return everything the customer-value dashboard shows: the run, its segments, trends and top accounts."""
    run = latest_run()
    unrestricted = is_unrestricted(user)
    scope = scope or ("all" if unrestricted else "visible")
    latest_attempt = ScoreRun.objects.order_by("-id").only("id", "status", "error", "finished_at").first()
    data: dict[str, Any] = {
        "run": run,
        "pending": pending_run(),
        "next_scheduled_at": get_settings().next_scheduled_at,
        "failed": latest_attempt if latest_attempt is not None and latest_attempt.status == RunStatus.FAILED else None,
        "can_recompute": can_recompute(user),
        "scope": "all" if unrestricted else scope,
        "can_choose_scope": not unrestricted,
        "segments": None,
        "top_accounts": [],
        "recent_runs": list(ScoreRun.objects.defer(*_RUN_BIG_FIELDS).order_by("-id")[:5]),
    }
    if run is None:
        return data
    data["segments"] = segments(user, run=run, scope=data["scope"])
    data["top_accounts"] = latest_scores(user, ScoreFilters(run=run.pk), "-clv", None, 10).items
    if not run.fits.get("gammagamma") or not any(s.clv is not None for s in data["top_accounts"]):
        data["top_accounts"] = latest_scores(user, ScoreFilters(run=run.pk), "-revenue", None, 10).items
        data["top_by"] = "revenue"
    else:
        data["top_by"] = "clv"
    return data


def diagnostics_data(user: User, run_id: int | None = None) -> dict[str, Any]:
    """Return the run whose model checks are shown (latest by default) and its fits and diagnostics."""
    run = get_finished_run(user, run_id) if run_id is not None else latest_run()
    return {
        "run": run,
        "fits": run.fits if run else {},
        "diagnostics": run.diagnostics if run else {},
        "runs": list(ScoreRun.objects.filter(status=RunStatus.SUCCEEDED).defer(*_RUN_BIG_FIELDS).order_by("-id")[:20]),
    }


# --- subscription retention (sBG by cohort) -------------------------------------------------------------


RETENTION_MIN_SUBSCRIBERS = 10  # a smaller cohort's churn is mostly noise
RETENTION_MIN_PERIODS = 3  # two parameters need at least three observed renewals to be told apart
RETENTION_MAX_PROJECTED = 36
COHORT_KINDS = ("auto", "month", "quarter")
# Cancelled or expired subscriptions without an end date cannot say when they were lost.
_ENDED_STATUSES = ("cancelled", "expired")


def add_months(day: dt.date, months: int) -> dt.date:
    """Return ``day`` moved by whole calendar months (the 31st becomes the month's last day when needed)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return min(dt.date(year, month, 1) + dt.timedelta(days=day.day - 1), following - dt.timedelta(days=1))


def full_months(start: dt.date, end: dt.date, *, strictly_before: bool) -> int:
    """Return how many whole months after ``start`` fit before ``end`` (``strictly_before``) or up to it."""
    months = (end.year - start.year) * 12 + end.month - start.month
    while months > 0 and (add_months(start, months) >= end if strictly_before else add_months(start, months) > end):
        months -= 1
    return max(months, 0)


def cohort_key(started_on: dt.date, kind: str) -> str:
    """Return the cohort a start date belongs to: "2025-03" (month) or "2025-Q1" (quarter)."""
    if kind == "quarter":
        return f"{started_on.year}-Q{(started_on.month - 1) // 3 + 1}"
    return f"{started_on.year}-{started_on.month:02d}"


def _cohort_start(key: str) -> dt.date:
    year, part = key.split("-")
    if part.startswith("Q"):
        return dt.date(int(year), (int(part[1:]) - 1) * 3 + 1, 1)
    return dt.date(int(year), int(part), 1)


def check_cohort(key: str) -> tuple[str, dt.date]:
    """Return (kind, first day) of a cohort name like 2025-03 or 2025-Q1, or raise Invalid naming the form."""
    import re

    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", key):
        return "month", _cohort_start(key)
    if re.fullmatch(r"\d{4}-Q[1-4]", key):
        return "quarter", _cohort_start(key)
    raise Invalid(
        _("Cohort '%(cohort)s' is not a month (2025-03) or a quarter (2025-Q1).") % {"cohort": key}, field="cohort"
    )


def _fit_failure_reason(message: str) -> str:
    """Return the first sentence of a model's CannotFit message, without the estimates it may go on to print."""
    reason = message.split(". ")[0].rstrip(".")
    for prefix in ("sBG cannot be fitted: ", "sBG cannot be fitted"):
        if reason.startswith(prefix) and len(reason) > len(prefix):
            reason = reason[len(prefix) :]
            break
    return f"{reason[:1].upper()}{reason[1:]}."


def subscription_retention(
    user: User,
    *,
    cohort_by: str = "auto",
    periods: int = 6,
    observation_end: dt.date | None = None,
    cohort: str | None = None,
) -> dict[str, Any]:
    """Fit the shifted-beta-geometric model to each start cohort of the subscriptions the user may see.

    Computed on request, not kept in the scoring snapshot: what a user sees depends on their accounts, and
    one aggregate query plus a two-parameter fit per cohort is quick. Periods are months since each
    subscription's start; a subscription is still a customer after ``k`` periods when it has no end date or
    ends later than ``k`` months after its start. A cohort is observed for as many whole months as its
    latest subscription has had by the observation end (today by default); later periods are not yet known
    (right-censored). ``cohort_by`` is month, quarter, or auto (months when at least half of the monthly
    cohorts have ``RETENTION_MIN_SUBSCRIBERS`` subscriptions, else quarters). Cohorts too small, observed
    too briefly, or that the model cannot fit carry a status and a message and no parameters. With
    ``cohort`` only that cohort is returned (NotFound when none of the user's subscriptions started in it).
    """
    from patron.analytics.lifetime import ShiftedBetaGeometric
    from patron.errors import CannotFit

    if cohort_by not in COHORT_KINDS:
        raise Invalid(
            _("cohort_by must be one of %(choices)s.") % {"choices": ", ".join(COHORT_KINDS)}, field="cohort_by"
        )
    if not 1 <= periods <= RETENTION_MAX_PROJECTED:
        raise Invalid(_("periods must be between 1 and %(max)s.") % {"max": RETENTION_MAX_PROJECTED}, field="periods")
    if cohort is not None:
        cohort_by, _first = check_cohort(cohort)
    end = observation_end or timezone.localdate()
    visible = Subscription.objects.restrict(user).filter(started_on__lte=end)
    unknown_end = visible.filter(status__in=_ENDED_STATUSES, ends_on__isnull=True).count()
    groups = list(
        visible.exclude(status__in=_ENDED_STATUSES, ends_on__isnull=True)
        .values("started_on", "ends_on")
        .annotate(n=Count("id"))
        .order_by("started_on")
    )
    if cohort_by == "auto":
        sizes: dict[str, int] = {}
        for row in groups:
            key = cohort_key(row["started_on"], "month")
            sizes[key] = sizes.get(key, 0) + row["n"]
        large = sum(1 for size in sizes.values() if size >= RETENTION_MIN_SUBSCRIBERS)
        cohort_by = "month" if sizes and large * 2 >= len(sizes) else "quarter"
    members: dict[str, list[tuple[int, int, int]]] = {}
    for row in groups:
        key = cohort_key(row["started_on"], cohort_by)
        if cohort is not None and key != cohort:
            continue
        observed = full_months(row["started_on"], end, strictly_before=False)
        ends = row["ends_on"]
        # Ends after the observation end are not yet known: the subscription is alive in every observed period.
        lasted = observed if ends is None or ends > end else full_months(row["started_on"], ends, strictly_before=True)
        members.setdefault(key, []).append((observed, min(lasted, observed), row["n"]))
    if cohort is not None and cohort not in members:
        raise NotFound(_("No subscription you may see started in cohort %(cohort)s.") % {"cohort": cohort})
    cohorts = []
    for key in sorted(members):
        rows = members[key]
        observed_periods = min(observed for observed, _lasted, _n in rows)
        lifetimes = np.array([months for _o, months, _n in rows])
        weights = np.array([n for _o, _l, n in rows])
        survivors = [int(weights[lifetimes >= k].sum()) for k in range(observed_periods + 1)]
        item: dict[str, Any] = {
            "cohort": key,
            "start": _cohort_start(key),
            "subscribers": survivors[0],
            "observed_periods": observed_periods,
            "survivors": survivors,
            "observed_retention": [
                survivors[k] / survivors[k - 1] if survivors[k - 1] else None for k in range(1, len(survivors))
            ],
            "status": "fitted",
            "message": "",
            "params": None,
            "log_likelihood": None,
            "fitted_survival": [],
            "projected": [],
        }
        if survivors[0] < RETENTION_MIN_SUBSCRIBERS:
            item["status"] = "too_few_subscribers"
            item["message"] = ngettext(
                "Not fitted: %(n)s subscription started in this cohort; the model needs at least %(min)s.",
                "Not fitted: %(n)s subscriptions started in this cohort; the model needs at least %(min)s.",
                survivors[0],
            ) % {"n": survivors[0], "min": RETENTION_MIN_SUBSCRIBERS}
        elif observed_periods < RETENTION_MIN_PERIODS:
            item["status"] = "too_few_periods"
            item["message"] = ngettext(
                "Not fitted: %(n)s whole month observed so far; the model needs at least %(min)s.",
                "Not fitted: %(n)s whole months observed so far; the model needs at least %(min)s.",
                observed_periods,
            ) % {"n": observed_periods, "min": RETENTION_MIN_PERIODS}
        else:
            try:
                model = ShiftedBetaGeometric().fit(survivors)
            except CannotFit as exc:
                item["status"] = "cannot_fit"
                item["message"] = _("Not fitted: %(reason)s") % {"reason": _fit_failure_reason(exc.message)}
            else:
                item["params"] = {"alpha": model.params["alpha"], "beta": model.params["beta"]}
                item["log_likelihood"] = float(model.log_likelihood)
                item["fitted_survival"] = [float(v) for v in model.survival(np.arange(observed_periods + 1))]
                ahead = np.arange(observed_periods + 1, observed_periods + periods + 1)
                item["projected"] = [
                    {
                        "period": int(t),
                        "survival": float(s),
                        "retention": float(r),
                        "subscribers": float(s) * survivors[0],
                    }
                    for t, s, r in zip(ahead, model.survival(ahead), model.retention(ahead), strict=True)
                ]
        cohorts.append(item)
    return {
        "observation_end": end,
        "cohort_by": cohort_by,
        "periods": periods,
        "period_unit": "month",
        "min_subscribers": RETENTION_MIN_SUBSCRIBERS,
        "min_periods": RETENTION_MIN_PERIODS,
        "without_end_date": unknown_end,
        "cohorts": cohorts,
    }
