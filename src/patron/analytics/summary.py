"""Per-customer summaries of transactions, written once as Ibis expressions and run by DuckDB or Spark.

Definitions (the ``lifetimes`` conventions, so fits match the literature and the lifetimes workflow):

* Purchases on the same day are one purchase (amounts summed per customer and day).
* ``frequency`` is the number of repeat purchase days (purchase days - 1); ``recency`` is the time from
  the first to the last purchase; ``T`` the time from the first purchase to the observation end.
* Time units: ``day``; ``week`` = days / 7; ``month`` = days / 30.4375 (the mean Gregorian month,
  365.25 / 12). This equals lifetimes' ``summary_data_from_transaction_data(freq="D")`` divided by 7
  (or 30.4375).
* ``integer_periods=True`` follows lifetimes with ``freq="W"`` (or ``"M"``, ``"D"``) instead: dates
  become calendar periods (weeks Monday to Sunday, calendar months), purchases in one period are
  merged, recency and T count whole periods, and — as lifetimes does — the whole period containing
  the observation end is included.
* ``monetary_value`` is the mean amount of the repeat purchases (the first purchase excluded), 0 for
  customers without repeat purchases; ``total_revenue`` and ``n_transactions`` count everything.
* ``arpu_3m`` / ``arpu_12m``: revenue in the 3 / 12 calendar months up to the observation end divided
  by 3 / 12; ``revenue_last_6m`` the last 6 months, ``revenue_prev_6m`` the 6 before;
  ``revenue_trend`` = last / previous - 1 (null when the previous 6 months had no revenue).
* Transactions after ``observation_end`` are left out (they are the holdout, see ``holdout_counts``).

The engine does the heavy part (two group-bys over the transactions) and returns integers, dates and
money sums; the few per-customer divisions are then done in NumPy. Money sums are rounded to 6 decimals
because engines add floating-point numbers in different orders; rounding makes DuckDB and Spark (and two
DuckDB runs) agree bit for bit. The output is sorted by ``customer_id``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from patron.analytics.engines import Materialized, to_arrow
from patron.analytics.sources import Transactions, check_values
from patron.errors import Invalid, PatronError

TIME_UNITS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 30.4375}
# Ibis truncation unit of each time unit for lifetimes' integer periods (a week starts on Monday, as a
# pandas "W" = "W-SUN" period does).
_PERIOD_UNITS = {"day": "D", "week": "W", "month": "M"}
MONEY_DECIMALS = 6
# Ibis types as objects: the first type written as a string makes Ibis build its type parser, 0.15 s of
# every fresh process that scores a file.
DATE = idt.date
INT64 = idt.int64
SUMMARY_COLUMNS = (
    "customer_id",
    "first_purchase",
    "last_purchase",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "total_revenue",
    "n_transactions",
    "days_since_last",
    "arpu_3m",
    "arpu_12m",
    "revenue_last_6m",
    "revenue_prev_6m",
    "revenue_trend",
    "product_groups",
)
_EPOCH = dt.date(1970, 1, 1)
T = TypeVar("T")


def check_time_unit(time_unit: str) -> float:
    """Return the length of ``time_unit`` in days, raising Invalid for an unknown unit."""
    try:
        return TIME_UNITS[time_unit]
    except KeyError:
        raise Invalid(
            f"Unknown time unit {time_unit!r}: choose one of {', '.join(TIME_UNITS)}.", field="time_unit"
        ) from None


def months_before(day: dt.date, months: int) -> dt.date:
    """Return the same day ``months`` calendar months earlier (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def period_start(day: dt.date, time_unit: str) -> dt.date:
    """Return the first day of the calendar period (day, Monday-week, month) containing ``day``."""
    if time_unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if time_unit == "month":
        return day.replace(day=1)
    return day


def period_end(day: dt.date, time_unit: str) -> dt.date:
    """Return the last day of the calendar period containing ``day``."""
    if time_unit == "week":
        return period_start(day, "week") + dt.timedelta(days=6)
    if time_unit == "month":
        return day.replace(day=calendar.monthrange(day.year, day.month)[1])
    return day


def as_date(value: Any, *, field: str = "observation_end") -> dt.date:
    """Return a date from a date, datetime or 'YYYY-MM-DD' / 'YYYYMMDD' string, raising Invalid otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise Invalid(f"{field} must be a date like 2024-03-31, not {text!r}.", field=field)


def run(transactions: Transactions | None, action: Callable[[], T]) -> T:
    """Run an engine query, turning engine errors caused by bad input into Invalid with the line/value."""
    try:
        return action()
    except PatronError:
        raise
    except Exception as error:
        if transactions is None:
            raise
        raise transactions.explain(error) from error


def _table(source: Transactions | ir.Table) -> tuple[ir.Table, Transactions | None]:
    if isinstance(source, Transactions):
        return source.table, source
    return source, None


def observation_end_of(source: Transactions | ir.Table) -> dt.date:
    """Return the last transaction date (the default observation end)."""
    table, transactions = _table(source)
    value = run(transactions, lambda: table.date.max().to_pyarrow().as_py())
    if value is None:
        raise Invalid("There are no transactions.")
    return as_date(value)


# --- the Ibis expressions --------------------------------------------------------------------------


@ibis.udf.agg.builtin(name="min_by")
def _min_by(arg: float, key: dt.date) -> float:  # type: ignore[empty-body]
    """The value of ``arg`` on the row with the smallest ``key`` (DuckDB arg_min, Spark min_by).

    Ibis's own argmin compiles to FIRST(arg ORDER BY key) on DuckDB, an ordered aggregate that sorts
    every group and makes the whole summary several times slower.
    """


def purchase_periods(
    table: ir.Table,
    *,
    observation_end: dt.date | None,
    time_unit: str = "week",
    integer_periods: bool = False,
    windows_at: dt.date | None = None,
    check_missing: bool = True,
) -> ir.Table:
    """Ibis expression: one row per customer and purchase day (or period) up to the observation end.

    Columns: customer_id, period (the day, or the period's first day), amount, n (transactions),
    first_date/last_date (integer periods only) and, with ``check_missing``, n_amount (non-null amounts).
    With ``integer_periods`` and ``windows_at`` the revenue windows are summed here, from exact dates.
    """
    check_time_unit(time_unit)
    if observation_end is not None:
        end = period_end(observation_end, time_unit) if integer_periods else observation_end
        table = table.filter(table.date <= ibis.literal(end, DATE))
    period = table.date.truncate(_PERIOD_UNITS[time_unit]) if integer_periods and time_unit != "day" else table.date
    metrics: dict[str, ir.Value] = {"amount": table.amount.sum(), "n": table.count()}
    if check_missing:
        metrics["n_amount"] = table.amount.count()
    if integer_periods:
        metrics["first_date"] = table.date.min()
        metrics["last_date"] = table.date.max()
        if windows_at is not None:
            metrics["window_part"] = table.amount.sum(where=table.date > _cutoff_in(period, windows_at, time_unit))
    return table.group_by(customer_id=table.customer_id, period=period).aggregate(**metrics)


def _cutoff_in(period: ir.Value, observation_end: dt.date, time_unit: str) -> ir.Value:
    """Ibis expression: the revenue window cutoff that falls in ``period``, null in every other period.

    A window counts whole periods after its cutoff's period plus, of that period, the amount after the cutoff
    date. The three cutoffs are months apart, so each period holds at most one of them, and one sum per
    customer and period (``window_part``) serves all three windows: three filtered sums cost the aggregation a
    quarter more time.
    """
    return ibis.cases(
        *(
            (period == ibis.literal(period_start(cutoff, time_unit), DATE), ibis.literal(cutoff, DATE))
            for cutoff in _window_cutoffs(observation_end).values()
        ),
    )


def _window_cutoffs(observation_end: dt.date) -> dict[str, dt.date]:
    """Return the exclusive start date of each revenue window ending at the observation end."""
    return {months_to_name(k): months_before(observation_end, k) for k in (3, 6, 12)}


def months_to_name(months: int) -> str:
    """Return the raw column name of the revenue window of ``months`` months."""
    return f"revenue_{months}m"


def customer_aggregates(
    periods: ir.Table,
    *,
    observation_end: dt.date,
    time_unit: str = "week",
    integer_periods: bool = False,
    check_missing: bool = True,
) -> ir.Table:
    """Ibis expression: one row per customer with the raw sums and dates the summary is derived from."""
    metrics: dict[str, ir.Value] = {"n_periods": periods.count()}
    if not integer_periods:
        # With integer periods the first and last period follow from the first and last purchase dates.
        metrics["first_period"] = periods.period.min()
        metrics["last_period"] = periods.period.max()
    metrics |= {
        # Sums of counts are HUGEINT in DuckDB (decimal in Arrow): keep them int64 on every engine.
        "n_transactions": periods.n.sum().cast(INT64),
        "total_revenue": periods.amount.sum(),
        # One row per period and customer, so "the amount of the earliest period" is well defined.
        "first_revenue": _min_by(periods.amount, periods.period),
    }
    if integer_periods:
        metrics["first_purchase"] = periods.first_date.min()
        metrics["last_purchase"] = periods.last_date.max()
        for name, cutoff in _window_cutoffs(observation_end).items():
            cutoff_period = ibis.literal(period_start(cutoff, time_unit), DATE)
            metrics[name] = ibis.cases(
                (periods.period > cutoff_period, periods.amount),
                (periods.period == cutoff_period, periods.window_part),
            ).sum()
    else:
        for name, cutoff in _window_cutoffs(observation_end).items():
            metrics[name] = periods.amount.sum(where=periods.period > ibis.literal(cutoff, DATE))
    if check_missing:
        metrics["n_dated"] = periods.period.count()
        metrics["n_amount"] = periods.n_amount.sum().cast(INT64)
    return periods.group_by("customer_id").aggregate(**metrics)


def product_group_counts(table: ir.Table, *, observation_end: dt.date, integer_periods: bool, time_unit: str) -> ir.Table:
    """Ibis expression: distinct product groups bought by each customer up to the observation end."""
    end = period_end(observation_end, time_unit) if integer_periods else observation_end
    table = table.filter(table.date <= ibis.literal(end, DATE))
    return table.group_by("customer_id").aggregate(product_groups=table.product_group.nunique().cast(INT64))


# --- running and finishing ---------------------------------------------------------------------------


def summarize(
    source: Transactions | ir.Table,
    *,
    observation_end: Any = None,
    time_unit: str = "week",
    integer_periods: bool = False,
) -> pa.Table:
    """Return the per-customer summary (``SUMMARY_COLUMNS``) as a pyarrow Table sorted by customer_id."""
    raw, end = summary_aggregates(
        source, observation_end=observation_end, time_unit=time_unit, integer_periods=integer_periods
    )
    return finish_summary(raw, observation_end=end, time_unit=time_unit, integer_periods=integer_periods)


def summary_aggregates(
    source: Transactions | ir.Table,
    *,
    observation_end: Any = None,
    time_unit: str = "week",
    integer_periods: bool = False,
) -> tuple[pa.Table, dt.date]:
    """Run the engine part of the summary; return the raw per-customer table and the observation end."""
    table, transactions = _table(source)
    check_time_unit(time_unit)
    end = as_date(observation_end) if observation_end is not None else None
    # Sources read through a validating reader cannot hold missing dates or amounts; others are checked
    # inside the same aggregation at the cost of two counts.
    check_missing = transactions is None or not getattr(transactions, "validated", False)
    backend = table._find_backend(use_default=True)

    def compute(table: ir.Table) -> pa.Table:
        """Aggregate ``table``, first finding the observation end when it was not given."""
        nonlocal end
        if end is None:
            # The default end (last date) is needed before the windows can be written; keep the
            # per-day table in the engine so the file is read once.
            periods_expr = purchase_periods(
                table, observation_end=None, time_unit=time_unit, integer_periods=integer_periods,
                check_missing=check_missing,
            )
            if integer_periods:
                # Windows need exact dates: with integer periods they are summed per period, so the
                # end must be known first; one scan for the last date is the price.
                end = _last_date(table)
                return _aggregate_once(table, end, time_unit, integer_periods, check_missing)
            with Materialized(backend, periods_expr, prefix="patron_days") as periods:
                last = periods.period.max().to_pyarrow().as_py()
                if last is None:
                    raise Invalid("There are no transactions.")
                end = as_date(last)
                aggregates = customer_aggregates(
                    periods, observation_end=end, time_unit=time_unit, integer_periods=False,
                    check_missing=check_missing,
                )
                return to_arrow(_with_products(aggregates, table, transactions, end, time_unit, integer_periods))
        return _aggregate_once(table, end, time_unit, integer_periods, check_missing)

    def _aggregate_once(
        table: ir.Table, end: dt.date, time_unit: str, integer_periods: bool, check_missing: bool
    ) -> pa.Table:
        periods = purchase_periods(
            table,
            observation_end=end,
            time_unit=time_unit,
            integer_periods=integer_periods,
            windows_at=end,
            check_missing=check_missing,
        )
        aggregates = customer_aggregates(
            periods, observation_end=end, time_unit=time_unit, integer_periods=integer_periods,
            check_missing=check_missing,
        )
        return to_arrow(_with_products(aggregates, table, transactions, end, time_unit, integer_periods))

    untrimmed = transactions.untrimmed if transactions is not None else None
    # Ids as read group the same customers as trimmed ids unless some id is padded with spaces, and such an id
    # would be among the results: only then is the query run again on trimmed ids.
    raw = run(transactions, lambda: compute(table if untrimmed is None else untrimmed))
    if untrimmed is not None and _has_padded_ids(raw.column("customer_id")):
        raw = run(transactions, lambda: compute(table))
    assert end is not None
    _check_raw(raw, transactions, check_missing)
    return raw, end


def _has_padded_ids(ids: pa.ChunkedArray) -> bool:
    """Return True when an id starts or ends with a space (what the engines' trim removes)."""
    padded = pc.or_kleene(pc.starts_with(ids, " "), pc.ends_with(ids, " "))
    return bool(pc.any(padded).as_py())


def _last_date(table: ir.Table) -> dt.date:
    value = table.date.max().to_pyarrow().as_py()
    if value is None:
        raise Invalid("There are no transactions.")
    return as_date(value)


def _with_products(
    aggregates: ir.Table,
    table: ir.Table,
    transactions: Transactions | None,
    end: dt.date,
    time_unit: str,
    integer_periods: bool,
) -> ir.Table:
    has_product = "product_group" in table.columns
    if has_product:
        products = product_group_counts(table, observation_end=end, integer_periods=integer_periods, time_unit=time_unit)
        aggregates = aggregates.left_join(products, "customer_id").drop("customer_id_right")
    return aggregates.order_by("customer_id")


def _check_raw(raw: pa.Table, transactions: Transactions | None, check_missing: bool) -> None:
    """Raise Invalid for missing customer ids, dates or amounts found by the aggregation."""
    if raw.num_rows == 0:
        raise Invalid("There are no transactions up to the observation end.")
    ids = raw.column("customer_id")
    problem = ids.null_count > 0 or pc.any(pc.equal(ids, "")).as_py()
    if check_missing and not problem:
        problem = (
            pc.sum(pc.subtract(raw.column("n_periods"), raw.column("n_dated"))).as_py() != 0
            or pc.sum(pc.subtract(raw.column("n_transactions"), raw.column("n_amount"))).as_py() != 0
        )
    if not problem:
        return
    if transactions is not None and transactions.diagnose is not None:
        found = transactions.diagnose()
        if found is not None:
            raise found
    labels = transactions.labels if transactions is not None else {}
    if ids.null_count > 0 or pc.any(pc.equal(ids, "")).as_py():
        found = check_values({"customer_id": None}, None, labels, where="some rows")
    elif pc.sum(pc.subtract(raw.column("n_periods"), raw.column("n_dated"))).as_py():
        found = check_values({"customer_id": "x", "date": None}, None, labels, where="some rows")
    else:
        found = check_values({"customer_id": "x", "date": _EPOCH, "amount": None}, None, labels, where="some rows")
    assert found is not None
    raise found


def _days(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Return a date32 column as int64 days since 1970-01-01."""
    return np.asarray(pc.cast(column, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _money(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Return a money sum column as float64 (nulls as 0), rounded so every engine gives the same bits."""
    values = np.asarray(pc.fill_null(column, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.round(values, MONEY_DECIMALS)


def _period_index(days: np.ndarray, time_unit: str) -> np.ndarray:
    """Return the calendar period number of each day (days since epoch) for integer periods."""
    if time_unit == "week":
        # 1970-01-01 was a Thursday; shift so weeks start on Monday.
        return (days + 3) // 7
    if time_unit == "month":
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return days


def finish_summary(
    raw: pa.Table, *, observation_end: dt.date, time_unit: str = "week", integer_periods: bool = False
) -> pa.Table:
    """Derive the summary columns from the engine's raw aggregates (NumPy, identical for every engine)."""
    unit_days = check_time_unit(time_unit)
    end_day = (observation_end - _EPOCH).days
    n_periods = np.asarray(raw.column("n_periods").to_numpy(), dtype=np.int64)
    frequency = (n_periods - 1).astype(np.float64)
    if integer_periods:
        first_purchase = raw.column("first_purchase")
        last_purchase = raw.column("last_purchase")
        first_index = _period_index(_days(first_purchase), time_unit)
        recency = (_period_index(_days(last_purchase), time_unit) - first_index).astype(np.float64)
        age = (_period_index(np.array([end_day]), time_unit)[0] - first_index).astype(np.float64)
    else:
        first_purchase = raw.column("first_period")
        last_purchase = raw.column("last_period")
        first_period = _days(first_purchase)
        recency = (_days(last_purchase) - first_period) / unit_days
        age = (end_day - first_period) / unit_days
    last_day = _days(last_purchase)
    total = _money(raw.column("total_revenue"))
    first_revenue = _money(raw.column("first_revenue"))
    repeat = frequency > 0
    # A plain division and a fill are several times faster than a masked division (same values).
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.round(total - first_revenue, MONEY_DECIMALS) / frequency
    monetary[~repeat] = 0.0
    last_3m = _money(raw.column(months_to_name(3)))
    last_6m = _money(raw.column(months_to_name(6)))
    last_12m = _money(raw.column(months_to_name(12)))
    previous_6m = np.round(last_12m - last_6m, MONEY_DECIMALS)
    has_previous = previous_6m > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = last_6m / previous_6m
    trend -= 1.0
    if "product_groups" in raw.column_names:
        products = pc.cast(pc.fill_null(raw.column("product_groups"), 0), pa.int64())
    else:
        products = pa.nulls(raw.num_rows, pa.int64())
    columns = {
        "customer_id": raw.column("customer_id"),
        "first_purchase": first_purchase,
        "last_purchase": last_purchase,
        "frequency": frequency,
        "recency": recency,
        "T": age,
        "monetary_value": monetary,
        "total_revenue": total,
        "n_transactions": pc.cast(raw.column("n_transactions"), pa.int64()),
        "days_since_last": pa.array(end_day - last_day, pa.int64()),
        "arpu_3m": last_3m / 3.0,
        "arpu_12m": last_12m / 12.0,
        "revenue_last_6m": last_6m,
        "revenue_prev_6m": previous_6m,
        "revenue_trend": pa.array(trend, pa.float64(), mask=~has_previous),
        "product_groups": products,
    }
    return pa.table(columns)


# --- holdout and monthly revenue ---------------------------------------------------------------------


def holdout_counts(
    source: Transactions | ir.Table,
    *,
    calibration_end: Any,
    holdout_end: Any,
    time_unit: str = "week",
    integer_periods: bool = False,
) -> pa.Table:
    """Per calibration customer: purchases (days or periods) and revenue between the two ends.

    Columns: customer_id, frequency_holdout, revenue_holdout, monetary_value_holdout (mean per purchase,
    0 without purchases) and duration_holdout (holdout length in time units); as lifetimes'
    ``calibration_and_holdout_data``, only customers who bought by the calibration end are included.
    """
    table, transactions = _table(source)
    unit_days = check_time_unit(time_unit)
    calibration = as_date(calibration_end, field="calibration_end")
    holdout = as_date(holdout_end, field="holdout_end")
    if holdout <= calibration:
        raise Invalid("holdout_end must be after calibration_end.", field="holdout_end")
    periods = purchase_periods(
        table, observation_end=holdout, time_unit=time_unit, integer_periods=integer_periods, check_missing=False
    )
    split = period_end(calibration, time_unit) if integer_periods else calibration
    later = periods.period > ibis.literal(split, DATE)
    expr = (
        periods.group_by("customer_id")
        .aggregate(
            first_period=periods.period.min(),
            frequency_holdout=periods.count(where=later).cast(INT64),
            revenue_holdout=periods.amount.sum(where=later),
        )
        .filter(lambda t: t.first_period <= ibis.literal(split, DATE))
        .drop("first_period")
        .order_by("customer_id")
    )
    raw = run(transactions, lambda: to_arrow(expr))
    count = np.asarray(pc.fill_null(raw.column("frequency_holdout"), 0).to_numpy(zero_copy_only=False), np.int64)
    revenue = _money(raw.column("revenue_holdout"))
    mean = np.zeros_like(revenue)
    np.divide(revenue, count, out=mean, where=count > 0)
    if integer_periods:
        end_index = _period_index(np.array([(holdout - _EPOCH).days]), time_unit)[0]
        start_index = _period_index(np.array([(calibration - _EPOCH).days]), time_unit)[0]
        duration = float(end_index - start_index)
    else:
        duration = (holdout - calibration).days / unit_days
    return pa.table(
        {
            "customer_id": raw.column("customer_id"),
            "frequency_holdout": count.astype(np.float64),
            "revenue_holdout": revenue,
            "monetary_value_holdout": mean,
            "duration_holdout": np.full(raw.num_rows, duration),
        }
    )


def monthly_revenue(source: Transactions | ir.Table, *, observation_end: Any = None) -> pa.Table:
    """Revenue per customer and calendar month up to the observation end, sorted by customer and month."""
    table, transactions = _table(source)
    if observation_end is not None:
        table = table.filter(table.date <= ibis.literal(as_date(observation_end), DATE))
    expr = (
        table.group_by(customer_id=table.customer_id, month=table.date.truncate("M"))
        .aggregate(revenue=table.amount.sum())
        .order_by(["customer_id", "month"])
    )
    raw = run(transactions, lambda: to_arrow(expr))
    return raw.set_column(raw.column_names.index("revenue"), "revenue", pa.array(_money(raw.column("revenue"))))
