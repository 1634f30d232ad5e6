"""Score a customer base from its transactions: summary, lifetime models, CLV, tiers, RFM, lifecycle.

``score()`` is the one entry point for the CLI, the CRM's scoring task and notebooks. Its stages:

1. read: the source becomes an Ibis table (a file is read by the engine, never loaded into Python);
2. summary: one engine aggregation to one row per customer (``patron.analytics.summary``);
3. fit: BG/NBD (or Pareto/NBD) on the compressed (x, t_x, T) rows and Gamma-Gamma on repeat buyers;
4. predict: P(alive), expected purchases, expected spend and CLV, vectorised over distinct rows;
5. segments: ABC tiers, Pareto curve, RFM, lifecycle classes (``patron.analytics.segments``);
   Gamma-Gamma (3) and the ranking of customers (5) run on helper threads while the transaction model is
   fitted;
6. monthly (optional): monthly ARPU tiers and their transitions.

A model that cannot be fitted leaves its columns null and says why in ``warnings``: numbers from a
failed fit are never returned.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from patron.analytics import segments as seg
from patron.analytics.engines import release, single_threaded_blas
from patron.analytics.lifetime import BetaGeo, GammaGamma, ParetoNBD, clv, clv_lifetimes_compatible, compress
from patron.analytics.sources import Transactions, read_transactions
from patron.analytics.summary import (
    check_time_unit,
    finish_summary,
    monthly_revenue,
    summary_aggregates,
)
from patron.errors import CannotFit, Invalid

Progress = Callable[[str, float], None]
TRANSACTION_MODELS: dict[str, type[BetaGeo] | type[ParetoNBD]] = {"bgnbd": BetaGeo, "paretonbd": ParetoNBD}
# Default yearly discount rate of each CLV convention: 10% a year, or lifetimes' 1% a month.
CLV_CONVENTIONS = {"patron": 0.10, "lifetimes": 1.01**12 - 1}
_LIFETIMES_FREQ = {"day": "D", "week": "W", "month": "M"}
DAYS_PER_YEAR = 365.25
# The default CLV horizon, a year in each time unit (a whole number of steps: CLV is summed unit by unit).
YEAR_IN_UNITS = {"day": 365, "week": 52, "month": 12}
# Share of the total run time each stage usually takes, so a progress bar moves evenly.
_STAGE_WEIGHTS = {"read": 0.05, "summary": 0.5, "monthly": 0.1, "fit": 0.2, "predict": 0.1, "segments": 0.05}

SCORE_COLUMNS = (
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    "abc_tier",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "rfm_segment",
    "lifecycle_class",
    "lifecycle_strategy",
)


@dataclass
class ScoreResult:
    """What ``score`` returns: one row per customer plus the fits, the Pareto curve and timings."""

    customers: pa.Table
    fits: dict[str, dict[str, Any] | None]
    pareto: pa.Table
    timings: dict[str, float]
    warnings: list[str]
    observation_end: dt.date
    time_unit: str
    horizon: float
    engine: str
    settings: seg.SegmentSettings
    arpu_monthly: pa.Table | None = None
    arpu_transitions: pa.Table | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    # True when a model could not be fitted or some predictions overflowed: columns have gaps they
    # should not have (customers left out of Gamma-Gamma on purpose do not count).
    incomplete: bool = False

    def units(self) -> dict[str, Any]:
        """Return what the CLV and expected purchases columns mean: time unit, horizon, discount, margin."""
        unit_days = check_time_unit(self.time_unit)
        horizon_days = self.horizon * unit_days
        discount = float(self.parameters.get("discount_rate", math.nan))
        units: dict[str, Any] = {
            "time_unit": self.time_unit,
            "horizon": self.horizon,
            "horizon_days": horizon_days,
            "horizon_weeks": horizon_days / 7.0,
            "horizon_months": horizon_days / (DAYS_PER_YEAR / 12),
            "discount_rate_per_year": discount,
            "discount_rate_per_period": per_unit_discount_rate(discount, self.time_unit),
            "margin": self.parameters.get("margin"),
            "clv_convention": self.parameters.get("clv_convention"),
            "observation_end": self.observation_end.isoformat(),
            "transaction_model": self.parameters.get("model"),
        }
        if units["clv_convention"] == "lifetimes":
            units["clv_months"] = round(horizon_days / (DAYS_PER_YEAR / 12))
            units["discount_rate_per_month"] = (1.0 + discount) ** (1 / 12) - 1.0
        return units

    def describe_units(self) -> str:
        """Return the units in one sentence, e.g. "CLV over 52 weeks (364 days, 12.0 months), ..."."""
        units = self.units()
        plural = "" if units["horizon"] == 1 else "s"
        return (
            f"expected purchases and CLV over {units['horizon']:g} {units['time_unit']}{plural} "
            f"({units['horizon_days']:g} days, {units['horizon_weeks']:.1f} weeks, {units['horizon_months']:.1f} months) "
            f"after {units['observation_end']}; CLV discounted at {units['discount_rate_per_year']:.2%} a year "
            f"({units['discount_rate_per_period']:.4%} per {units['time_unit']}), margin {units['margin']:g}"
        )

    def to_pandas(self) -> Any:
        """Return the customers as a pandas DataFrame."""
        return self.customers.to_pandas()

    def tier_summary(self) -> list[dict[str, Any]]:
        """Return customers and revenue per ABC tier (for the CLI's summary and the value page)."""
        tiers = self.customers.column("abc_tier").to_numpy(zero_copy_only=False)
        revenue = self.customers.column("total_revenue").to_numpy()
        total = float(revenue.sum()) or 1.0
        rows = []
        for tier in sorted(set(tiers.tolist())):
            chosen = tiers == tier
            rows.append(
                {
                    "tier": tier,
                    "customers": int(chosen.sum()),
                    "revenue": float(revenue[chosen].sum()),
                    "revenue_share": float(revenue[chosen].sum()) / total,
                }
            )
        return rows

    def counts(self, column: str) -> dict[str, int]:
        """Return how many customers have each value of a label column (e.g. lifecycle_class)."""
        counted = pc.value_counts(self.customers.column(column)).to_pylist()
        return {row["values"]: int(row["counts"]) for row in sorted(counted, key=lambda row: str(row["values"]))}


class _UnitSpend:
    """A spend model that expects one currency unit per purchase: CLV per unit of spend."""

    def conditional_expected_spend(self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> np.ndarray:
        """Return 1 for every customer."""
        return np.ones(np.shape(frequency))


def per_unit_discount_rate(annual_rate: float, time_unit: str) -> float:
    """Convert a yearly discount rate to the rate per time unit (week: 10%/year -> about 0.18%)."""
    unit_days = check_time_unit(time_unit)
    if annual_rate <= -1:
        raise Invalid("discount_rate must be more than -100% a year.", field="discount_rate")
    return float((1.0 + annual_rate) ** (unit_days / DAYS_PER_YEAR) - 1.0)


def score(
    table_or_source: Any,
    *,
    customer_col: str | int = "customer_id",
    date_col: str | int = "date",
    amount_col: str | int | None = "amount",
    product_col: str | int | None = None,
    no_header: bool = False,
    sep: str | None = None,
    date_format: str | None = None,
    observation_end: Any = None,
    time_unit: str = "week",
    integer_periods: bool = False,
    horizon: float | None = None,
    discount_rate: float | None = None,
    margin: float = 1.0,
    clv_convention: str = "patron",
    model: str = "bgnbd",
    settings: seg.SegmentSettings | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    backend: BaseBackend | None = None,
    monthly: bool = False,
    progress: Progress | None = None,
) -> ScoreResult:
    """Score every customer of a transactions source (file path, Arrow/pandas table or Ibis table).

    ``observation_end`` defaults to the last transaction date; ``horizon`` is a whole number of
    ``time_unit``s (default a year: 365 days, 52 weeks or 12 months); ``discount_rate`` is a yearly rate
    (default 10%), converted to the time unit; ``margin`` turns revenue into profit for CLV and the
    "margin" ABC value. ``ScoreResult.units()`` states all of them with the result.
    Negative amounts (refunds) are kept and counted in revenue, with a warning naming how many and an
    example customer; repeat buyers whose mean repeat spend is 0 or less are left out of the Gamma-Gamma
    fit (it needs positive spend), with a warning, and get no expected spend or CLV.
    ``clv_convention="lifetimes"`` computes CLV as lifetimes' ``customer_lifetime_value`` does (monthly
    steps of 4.345 weeks / 30 days, ``horizon`` rounded to whole months, default 1% a month).
    ``monthly=True`` also computes monthly ARPU tiers and their transitions (one more aggregation).
    ``progress(stage, fraction)`` is called as stages start, with the share of the work done so far.
    """
    settings = settings or seg.SegmentSettings()
    check_time_unit(time_unit)
    if model not in TRANSACTION_MODELS:
        raise Invalid(f"model must be one of {', '.join(TRANSACTION_MODELS)}.", field="model")
    if horizon is None:
        horizon = YEAR_IN_UNITS[time_unit]
    if horizon < 0 or not math.isfinite(horizon):
        raise Invalid("horizon must be 0 or more time units.", field="horizon")
    if clv_convention == "patron" and horizon != round(horizon):
        raise Invalid(
            f"horizon must be a whole number of {time_unit}s (CLV is summed {time_unit} by {time_unit}), "
            f"not {horizon:g}.",
            field="horizon",
        )
    if not 0 < margin <= 1e6 or not math.isfinite(margin):
        raise Invalid("margin must be a positive share of revenue (e.g. 0.3).", field="margin")
    if clv_convention not in CLV_CONVENTIONS:
        raise Invalid(f"clv_convention must be one of {', '.join(CLV_CONVENTIONS)}.", field="clv_convention")
    if discount_rate is None:
        discount_rate = CLV_CONVENTIONS[clv_convention]
    timings: dict[str, float] = {}
    warnings: list[str] = []
    done = 0.0

    def stage(name: str) -> Callable[[], None]:
        """Report a stage's start to ``progress``; return the function that records its time."""
        nonlocal done
        if progress is not None:
            progress(name, min(done, 1.0))
        started = time.perf_counter()

        def finish() -> None:
            """Record the stage's time and move the progress on."""
            nonlocal done
            timings[name] = time.perf_counter() - started
            done += _STAGE_WEIGHTS.get(name, 0.0)

        return finish

    finish = stage("read")
    # A connection made here is closed once the engine's work is done: its hash tables would otherwise
    # stay in this process's memory while the models are fitted.
    owns_backend = backend is None and not isinstance(table_or_source, ir.Table | Transactions)
    transactions = read_transactions(
        table_or_source,
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        product_col=product_col,
        no_header=no_header,
        sep=sep,
        date_format=date_format,
        engine=engine,
        backend=backend,
        spark_master=spark_master,
    )
    finish()

    try:
        finish = stage("summary")
        raw, end = summary_aggregates(
            transactions, observation_end=observation_end, time_unit=time_unit, integer_periods=integer_periods
        )
        summary = finish_summary(raw, observation_end=end, time_unit=time_unit, integer_periods=integer_periods)
        refund_warning = negative_amount_warning(raw)
        if refund_warning:
            warnings.append(refund_warning)
        del raw
        finish()

        arpu_monthly = arpu_transitions = None
        if monthly:
            finish = stage("monthly")
            monthly_table = monthly_revenue(transactions, observation_end=end)
            arpu_monthly = seg.arpu_tiers(monthly_table, thresholds=settings.arpu_thresholds)
            arpu_transitions = seg.arpu_transitions(arpu_monthly)
            finish()
        engine_name = transactions.engine
    finally:
        if owns_backend:
            release(transactions.backend)

    # The work after the summary is NumPy and SciPy on one thread each, so it is spread over two helper threads
    # and this one (their array loops release the GIL): Gamma-Gamma is fitted, and customers are ranked into
    # tiers, RFM scores and the Pareto curve (none of which needs a model unless tiers rank by CLV), while this
    # thread fits the transaction model. Each result is the same as when run one after the other.
    with single_threaded_blas(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="patron-score") as helpers:
        finish = stage("fit")
        frequency = summary.column("frequency").to_numpy()
        recency = summary.column("recency").to_numpy()
        age = summary.column("T").to_numpy()
        monetary = summary.column("monetary_value").to_numpy()
        spend_fit = helpers.submit(
            _fit_spend, frequency, monetary, summary.column("customer_id"), has_amount=transactions.has_amount
        )
        ranking = helpers.submit(
            _ranks, summary, _value_of(summary, None, settings=settings, margin=margin, warnings=warnings),
            settings=settings,
        )
        rows = distinct_rows(frequency, recency, age, scale=1.0 if integer_periods else check_time_unit(time_unit))
        transaction_model, transaction_fit, transaction_warning = _fit_transactions(model, rows)
        spend_model, spend_fit_dict, spend_warnings, spend_excluded = spend_fit.result()
        fits = {model: transaction_fit, "gammagamma": spend_fit_dict}
        warnings.extend(warning for warning in (transaction_warning, *spend_warnings) if warning)
        finish()

        finish = stage("predict")
        predictions = _predict(
            transaction_model,
            spend_model,
            rows,
            frequency,
            monetary,
            horizon=horizon,
            discount_rate=discount_rate,
            margin=margin,
            time_unit=time_unit,
            convention=clv_convention,
            warnings=warnings,
            spend_excluded=spend_excluded,
        )
        finish()

        finish = stage("segments")
        columns, pareto = _segments(
            summary, predictions, ranking.result(), settings=settings, margin=margin, warnings=warnings
        )
        finish()

    incomplete = any(fit is None for fit in fits.values()) or _has_gaps(predictions, spend_excluded)
    customers = summary
    for name in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        customers = customers.append_column(name, predictions[name])
    for name, column in columns.items():
        customers = customers.append_column(name, column)
    if progress is not None:
        progress("done", 1.0)
    return ScoreResult(
        customers=customers,
        fits=fits,
        pareto=pareto,
        timings=timings,
        warnings=warnings,
        observation_end=end,
        time_unit=time_unit,
        horizon=horizon,
        engine=engine_name,
        settings=settings,
        arpu_monthly=arpu_monthly,
        arpu_transitions=arpu_transitions,
        parameters={
            "model": model,
            "integer_periods": integer_periods,
            "discount_rate": discount_rate,
            "margin": margin,
            "clv_convention": clv_convention,
            "source": transactions.origin,
        },
        incomplete=incomplete,
    )


def _has_gaps(predictions: dict[str, pa.Array], spend_excluded: np.ndarray | None) -> bool:
    """Return True when a prediction is empty for a customer who should have one."""
    excluded = int(spend_excluded.sum()) if spend_excluded is not None else 0
    return any(
        predictions[name].null_count > (excluded if name in ("expected_spend", "clv") else 0) for name in predictions
    )


def negative_amount_warning(raw: pa.Table) -> str | None:
    """Say how many customers start with a negative purchase or have negative revenue in all, naming one.

    Refunds are kept (they lower revenue and mean spend). Counting every negative purchase would cost the
    summary one more aggregate over all purchases (6-8% of its time); what a model can trip on is a negative
    first purchase or a negative total, which the summary already holds.
    """
    first = _money_values(raw.column("first_revenue"))
    total = _money_values(raw.column("total_revenue"))
    negative_first = first < 0
    negative_total = total < 0
    if not (negative_first.any() or negative_total.any()):
        return None
    example = raw.column("customer_id")[int(np.argmax(negative_first | negative_total))].as_py()
    return (
        f"{int(np.count_nonzero(negative_first)):,} customers have a negative first purchase and "
        f"{int(np.count_nonzero(negative_total)):,} a negative revenue in all (refunds?); e.g. customer {example}. "
        "Negative amounts are kept: they lower the customer's revenue and mean repeat spend."
    )


def _money_values(column: pa.ChunkedArray) -> np.ndarray:
    """Return a money column as floats, nulls as 0."""
    return np.asarray(pc.fill_null(column, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)


def spend_exclusions(
    frequency: np.ndarray, monetary: np.ndarray, customer_ids: pa.ChunkedArray | pa.Array
) -> tuple[np.ndarray, str | None]:
    """Return which customers Gamma-Gamma must leave out (repeat buyers with mean repeat spend <= 0) and why."""
    excluded = (frequency > 0) & (monetary <= 0)
    if not excluded.any():
        return excluded, None
    example = customer_ids[int(np.argmax(excluded))].as_py()
    return excluded, (
        f"Gamma-Gamma needs positive spend: {int(excluded.sum()):,} repeat buyers with a mean repeat spend of 0 "
        f"or less (e.g. customer {example}) are left out of the fit and get no expected spend or CLV."
    )


@dataclass
class DistinctRows:
    """Customers' (x, t_x, T) collapsed to distinct rows: ``column[inverse]`` rebuilds every customer."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    counts: np.ndarray
    inverse: np.ndarray


def distinct_rows(frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, *, scale: float) -> DistinctRows:
    """Collapse identical (x, t_x, T) rows with a hash of exact integer keys (days or periods).

    ``scale`` turns recency and T back into whole days (the time unit's length) or periods (1). This is
    linear time, where a generic float row de-duplication needs several sorts of a million rows.
    """
    days_recency = np.rint(recency * scale)
    days_age = np.rint(age * scale)
    exact = (
        len(frequency) > 0
        and np.array_equal(days_recency / scale, recency)
        and np.array_equal(days_age / scale, age)
        and float(days_age.min()) >= 0
        and float(frequency.min()) >= 0
    )
    if not exact:
        x, t_x, big_t, counts, inverse = compress(frequency, recency, age, return_inverse=True)
        return DistinctRows(x, t_x, big_t, counts, inverse)
    width = int(days_age.max()) + 1
    keys = (frequency.astype(np.int64) * width + days_recency.astype(np.int64)) * width + days_age.astype(np.int64)
    encoded = pc.dictionary_encode(pa.array(keys))
    inverse = encoded.indices.to_numpy().astype(np.int64)
    unique = encoded.dictionary.to_numpy()
    unique_age = unique % width
    unique_recency = (unique // width) % width
    unique_x = unique // (width * width)
    return DistinctRows(
        x=unique_x.astype(np.float64),
        t_x=unique_recency / scale,
        T=unique_age / scale,
        counts=np.bincount(inverse, minlength=len(unique)).astype(np.float64),
        inverse=inverse,
    )


def _fit_transactions(model: str, rows: DistinctRows) -> tuple[Any, dict[str, Any] | None, str | None]:
    """Fit the transaction model; return (model, its fit, None) or (None, None, why it failed)."""
    try:
        fitted = TRANSACTION_MODELS[model]().fit(rows.x, rows.t_x, rows.T, weights=rows.counts)
    except CannotFit as error:
        label = TRANSACTION_MODELS[model].label
        return None, None, f"{label}: {error.message} P(alive), expected purchases and CLV are empty."
    return fitted, fitted.as_dict(), None


def _fit_spend(
    frequency: np.ndarray, monetary: np.ndarray, customer_ids: pa.ChunkedArray, *, has_amount: bool
) -> tuple[GammaGamma | None, dict[str, Any] | None, list[str], np.ndarray | None]:
    """Fit Gamma-Gamma to repeat buyers with positive mean spend.

    Returns (model or None, its fit or None, warnings, the customers left out of the fit or None).
    """
    if not has_amount:
        return None, None, ["Gamma-Gamma: no amount column, so expected spend and CLV are empty."], None
    excluded, warning = spend_exclusions(frequency, monetary, customer_ids)
    notes = [warning] if warning else []
    chosen = (frequency > 0) & ~excluded
    try:
        fitted = GammaGamma().fit(frequency[chosen], monetary[chosen])
    except (CannotFit, Invalid) as error:
        return None, None, [*notes, f"Gamma-Gamma: {error.message} Expected spend and CLV are empty."], excluded
    return fitted, fitted.as_dict(), notes, excluded


def _predict(
    transaction_model: Any,
    spend_model: GammaGamma | None,
    rows: DistinctRows,
    frequency: np.ndarray,
    monetary: np.ndarray,
    *,
    horizon: float,
    discount_rate: float,
    margin: float,
    time_unit: str,
    convention: str,
    warnings: list[str],
    spend_excluded: np.ndarray | None = None,
) -> dict[str, pa.Array]:
    """Return p_alive, expected_purchases, expected_spend and clv columns (null where a fit failed).

    Customers in ``spend_excluded`` (left out of Gamma-Gamma) get no expected spend or CLV.
    """
    count = len(frequency)
    empty = pa.nulls(count, pa.float64())
    result = {"p_alive": empty, "expected_purchases": empty, "expected_spend": empty, "clv": empty}
    if count == 0:
        return result
    spend = None
    left_out = spend_excluded if spend_excluded is not None and spend_excluded.any() else None
    if spend_model is not None:
        if left_out is None:
            spend = spend_model.conditional_expected_spend(frequency, monetary)
        else:
            spend = np.full(count, np.nan)
            spend[~left_out] = spend_model.conditional_expected_spend(frequency[~left_out], monetary[~left_out])
        result["expected_spend"] = pa.array(spend, mask=left_out)
    if transaction_model is None:
        return result
    # Predictions depend on (x, t_x, T) only: evaluate once per distinct row (far fewer than customers).
    x, t_x, big_t, inverse = rows.x, rows.t_x, rows.T, rows.inverse
    result["p_alive"] = pa.array(transaction_model.p_alive(x, t_x, big_t)[inverse])
    result["expected_purchases"] = pa.array(transaction_model.expected_purchases(horizon, x, t_x, big_t)[inverse])
    if spend is not None:
        # CLV = discounted purchases x expected spend x margin; the purchases part per unit of spend is
        # computed per distinct row, then scaled by each customer's own expected spend.
        if convention == "lifetimes":
            per_unit = clv_lifetimes_compatible(
                transaction_model, _UnitSpend(), x, t_x, big_t, np.ones_like(x),
                months=round(horizon * check_time_unit(time_unit) / 30.4375),
                freq=_LIFETIMES_FREQ[time_unit],
                monthly_discount=(1.0 + discount_rate) ** (1 / 12) - 1.0,
            )
        else:
            per_unit = clv(
                transaction_model, _UnitSpend(), x, t_x, big_t, np.ones_like(x),
                horizon=round(horizon), discount_rate=per_unit_discount_rate(discount_rate, time_unit), margin=1.0,
            )
        result["clv"] = pa.array(per_unit[inverse] * spend * margin, mask=left_out)
    for name, column in result.items():
        # A model can be fitted and still overflow for some customers (e.g. a and b at 1e7 when nobody
        # drops out); such values are left empty rather than passed on as NaN or infinity.
        values = column.to_numpy(zero_copy_only=False)
        broken = ~np.isfinite(values) & ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if broken.any():
            result[name] = pa.array(values, pa.float64(), mask=~np.isfinite(values))
            warnings.append(f"{name} could not be computed for {int(broken.sum()):,} customers (numerical overflow); "
                            "those values are empty.")
    return result


def _value_of(
    summary: pa.Table,
    predictions: dict[str, pa.Array] | None,
    *,
    settings: seg.SegmentSettings,
    margin: float,
    warnings: list[str],
) -> np.ndarray | None:
    """Return the value ABC tiers and the Pareto curve rank by; None while a CLV value awaits ``predictions``."""
    revenue = summary.column("total_revenue").to_numpy()
    if settings.abc_value == "margin":
        return revenue * margin
    if settings.abc_value != "clv":
        return revenue
    if predictions is None:
        return None
    if predictions["clv"].null_count == len(predictions["clv"]) and len(revenue):
        warnings.append("ABC tiers use revenue because CLV could not be computed.")
        return revenue
    return np.nan_to_num(predictions["clv"].to_numpy(zero_copy_only=False), nan=0.0)


@dataclass
class _Ranks:
    """What segments need of customers ranked: RFM scores and segments, revenue sorted, and (unless they wait
    for CLV) ABC tier codes and the Pareto curve."""

    rfm: tuple[np.ndarray, np.ndarray, np.ndarray]
    rfm_codes: np.ndarray
    revenue_ascending: np.ndarray
    tier_codes: np.ndarray | None = None
    pareto: pa.Table | None = None


def _ranks(summary: pa.Table, value: np.ndarray | None, *, settings: seg.SegmentSettings) -> _Ranks:
    """Return RFM scores and segment codes, and (given ``value``) ABC tier codes and the Pareto curve.

    None of this needs a model unless the value is CLV, so ``score`` runs it on a second thread while the
    models are fitted: NumPy's sorts and array loops release the GIL.
    """
    revenue = summary.column("total_revenue").to_numpy()
    # Share tiers, the Pareto curve and the RFM monetary score need only cut values: one plain sort of revenue
    # serves all three (when the value is revenue), where partitions would cost three times as much.
    revenue_ascending = seg.sorted_values(revenue)
    r, f, m = seg.rfm_scores(
        summary.column("days_since_last").to_numpy(),
        summary.column("frequency").to_numpy(),
        revenue,
        bins=settings.rfm_bins,
        monetary_ascending=revenue_ascending,
    )
    ranks = _Ranks((r, f, m), seg.rfm_segment_codes(r, f, bins=settings.rfm_bins), revenue_ascending)
    if value is not None:
        ascending = revenue_ascending if settings.abc_value == "revenue" else None
        ranks.tier_codes, ranks.pareto = _tiers(value, settings=settings, ascending=ascending)
    return ranks


def _tiers(
    value: np.ndarray, *, settings: seg.SegmentSettings, ascending: np.ndarray | None
) -> tuple[np.ndarray, pa.Table]:
    """Return ABC tier codes and the Pareto curve of ``value`` (``ascending``: its values already sorted)."""
    # Only cumulative ABC tiers need every customer ranked (a stable sort); share tiers cut a plain sort.
    order = seg.rank_by_value(value) if settings.abc_method == "cumulative" else None
    if order is None and ascending is None:
        ascending = seg.sorted_values(value)
    tier_codes = seg.abc_tier_codes(
        value,
        method=settings.abc_method,
        shares=settings.abc_shares,
        cumulative=settings.abc_cumulative,
        order=order,
        ascending=ascending,
    )
    return tier_codes, seg.pareto_curve(value, points=settings.pareto_points, order=order, ascending=ascending)


def _segments(
    summary: pa.Table,
    predictions: dict[str, pa.Array],
    ranks: _Ranks,
    *,
    settings: seg.SegmentSettings,
    margin: float,
    warnings: list[str],
) -> tuple[dict[str, pa.Array], pa.Table]:
    """Return the segment columns (as Arrow columns) and the Pareto curve, completing ``ranks``."""
    tier_codes, pareto = ranks.tier_codes, ranks.pareto
    if tier_codes is None or pareto is None:
        value = _value_of(summary, predictions, settings=settings, margin=margin, warnings=warnings)
        assert value is not None
        tier_codes, pareto = _tiers(value, settings=settings, ascending=None)
    revenue = summary.column("total_revenue").to_numpy()
    frequency = summary.column("frequency").to_numpy()
    first = pc.cast(summary.column("first_purchase"), pa.int32()).to_numpy()
    last = pc.cast(summary.column("last_purchase"), pa.int32()).to_numpy()
    p_alive = predictions["p_alive"]
    predicted = predictions["clv"] if predictions["clv"].null_count < len(predictions["clv"]) else predictions[
        "expected_purchases"
    ]
    rules = settings.lifecycle
    lifecycle_codes = seg.lifecycle_class_codes(
        frequency=frequency,
        recency_days=(last - first).astype(np.float64),
        days_since_last=summary.column("days_since_last").to_numpy(),
        total_revenue=revenue,
        revenue_last_6m=summary.column("revenue_last_6m").to_numpy(),
        revenue_prev_6m=summary.column("revenue_prev_6m").to_numpy(),
        p_alive=None if p_alive.null_count == len(p_alive) else p_alive.to_numpy(zero_copy_only=False),
        predicted_value=None if predicted.null_count == len(predicted) else predicted.to_numpy(zero_copy_only=False),
        rules=rules,
        revenue_ascending=ranks.revenue_ascending,
    )
    strategies = [rules.strategies[name] for name in seg.LIFECYCLE_CLASSES]
    r, f, m = ranks.rfm
    columns = {
        "abc_tier": _labels(tier_codes, seg.TIER_NAMES),
        "rfm_r": pa.array(r, pa.int8()),
        "rfm_f": pa.array(f, pa.int8()),
        "rfm_m": pa.array(m, pa.int8()),
        "rfm_segment": _labels(ranks.rfm_codes, seg.RFM_SEGMENTS),
        "lifecycle_class": _labels(lifecycle_codes, seg.LIFECYCLE_CLASSES),
        "lifecycle_strategy": _labels(lifecycle_codes, strategies),
    }
    return columns, pareto


def _labels(codes: np.ndarray, names: Any) -> pa.Array:
    """Turn integer codes into a dictionary-encoded string column (the codes index the names)."""
    # Labels repeat a handful of names (a lifecycle strategy is a sentence) over every customer: a dictionary
    # column shares them, where plain strings copy each one per row (about 60 ms per column at 1M customers).
    # Parquet keeps the encoding, CSV writes the strings, pandas reads it as a categorical.
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(list(names), pa.string()))
