"""Value segments of a customer base: ABC tiers, the Pareto curve, RFM, monthly ARPU tiers, lifecycle classes.

Everything here is NumPy on the per-customer summary (and scores), so it is deterministic and the same
whichever engine produced the summary. Ties are broken by row order; ``patron.analytics.summary``
returns rows sorted by customer_id, so ties go to the smaller customer id.

RFM scores (1-5 by default) are quantile scores in which equal values get equal scores: a customer
scores ``1 + floor(bins * share of customers with a strictly worse value)``. Recency is the number of
days since the last purchase (fewer is better, so 5 = most recent), frequency the number of repeat
purchase days, monetary the total revenue.

RFM segments use the widely used R x F grid (rows R, columns F):

    R\\F   1               2                    3                    4                5
    5     new_customers   potential_loyalists  potential_loyalists  champions        champions
    4     promising       potential_loyalists  potential_loyalists  loyal_customers  loyal_customers
    3     about_to_sleep  about_to_sleep       need_attention       loyal_customers  loyal_customers
    2     hibernating     hibernating          at_risk              at_risk          cant_lose_them
    1     lost            lost                 at_risk              at_risk          cant_lose_them

("lost" is the least recent fifth of the usual "hibernating" cell). With other bin counts, R and F are
first mapped onto 1-5.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from patron.errors import Invalid

ABC_METHODS = ("share", "cumulative")
ABC_VALUES = ("revenue", "margin", "clv")
TIER_NAMES = ("A", "B", "C", "D", "E", "F")

RFM_SEGMENTS = (
    "champions",
    "loyal_customers",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose_them",
    "hibernating",
    "lost",
)
# Rows: R score 1..5, columns: F score 1..5 (see the module docstring).
_RFM_GRID = (
    ("lost", "lost", "at_risk", "at_risk", "cant_lose_them"),
    ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose_them"),
    ("about_to_sleep", "about_to_sleep", "need_attention", "loyal_customers", "loyal_customers"),
    ("promising", "potential_loyalists", "potential_loyalists", "loyal_customers", "loyal_customers"),
    ("new_customers", "potential_loyalists", "potential_loyalists", "champions", "champions"),
)

ARPU_TIERS = ("high", "middle", "low")
LIFECYCLE_CLASSES = ("sleeping", "fast_growing", "loyal", "worth_nurturing", "steady")


@dataclass(frozen=True)
class LifecycleRules:
    """Thresholds and strategies of the lifecycle classes; a customer gets the first class that applies.

    Precedence: sleeping, fast_growing, loyal, worth_nurturing, then steady for everyone else.

    * sleeping: no purchase for more than ``sleeping_gap_multiple`` times the customer's own mean gap
      between purchase days (for one-time buyers: the median gap of the base's repeat buyers, or
      ``sleeping_default_gap_days`` when nobody bought twice), or P(alive) below ``sleeping_p_alive``.
    * fast_growing: revenue in the last 6 months more than ``fast_growing_trend`` (+30%) above the 6
      months before (customers with revenue in both).
    * loyal: customer for at least ``loyal_min_tenure_days``, at least ``loyal_min_repeat_purchases``
      repeat purchase days, revenue in both half-years and not falling by more than
      ``loyal_max_decline`` (steady revenue).
    * worth_nurturing: new (first purchase at most ``nurture_max_tenure_days`` ago) or small (total
      revenue below the base's median), and predicted value (CLV, else expected purchases) in the top
      ``1 - nurture_value_quantile`` of the base.
    * steady: everyone else.
    """

    sleeping_gap_multiple: float = 3.0
    sleeping_p_alive: float = 0.3
    sleeping_default_gap_days: float = 90.0
    fast_growing_trend: float = 0.30
    loyal_min_tenure_days: int = 365
    loyal_min_repeat_purchases: int = 2
    loyal_max_decline: float = 0.30
    nurture_max_tenure_days: int = 180
    nurture_value_quantile: float = 0.70
    strategies: dict[str, str] = field(
        default_factory=lambda: {
            "sleeping": "Create new demand",
            "fast_growing": "Add account coverage",
            "loyal": "Protect service quality",
            "worth_nurturing": "Follow up actively",
            "steady": "Keep in regular contact",
        }
    )

    def __post_init__(self) -> None:
        missing = [name for name in LIFECYCLE_CLASSES if name not in self.strategies]
        if missing:
            raise Invalid(f"Lifecycle strategies are missing for {', '.join(missing)}.", field="strategies")
        if self.sleeping_gap_multiple <= 0 or not 0 <= self.sleeping_p_alive <= 1:
            raise Invalid("Sleeping needs a positive gap multiple and a P(alive) between 0 and 1.")
        if not 0 <= self.nurture_value_quantile <= 1:
            raise Invalid("nurture_value_quantile must be between 0 and 1.", field="nurture_value_quantile")


@dataclass(frozen=True)
class SegmentSettings:
    """Every segmentation default in one place (the CRM stores this as JSON via as_dict/from_dict)."""

    abc_method: str = "share"
    abc_value: str = "revenue"
    # "share": tiers hold these shares of customers, ranked by value (A first).
    abc_shares: tuple[float, ...] = (0.2, 0.3, 0.3, 0.2)
    # "cumulative": tiers hold these shares of total value (A = customers making the first 80%).
    abc_cumulative: tuple[float, ...] = (0.8, 0.15, 0.05)
    rfm_bins: int = 5
    # Monthly ARPU tiers: (low below, high from) in money per month; None = tertiles of each month.
    arpu_thresholds: tuple[float, float] | None = None
    pareto_points: int = 100
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)

    def __post_init__(self) -> None:
        if self.abc_method not in ABC_METHODS:
            raise Invalid(f"abc_method must be one of {', '.join(ABC_METHODS)}.", field="abc_method")
        if self.abc_value not in ABC_VALUES:
            raise Invalid(f"abc_value must be one of {', '.join(ABC_VALUES)}.", field="abc_value")
        for name in ("abc_shares", "abc_cumulative"):
            shares = tuple(float(share) for share in getattr(self, name))
            if not 2 <= len(shares) <= len(TIER_NAMES) or any(share <= 0 for share in shares):
                raise Invalid(f"{name} needs 2 to {len(TIER_NAMES)} positive shares.", field=name)
            if not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
                raise Invalid(f"{name} must add up to 1 (100%), not {sum(shares):g}.", field=name)
            object.__setattr__(self, name, shares)
        if not 2 <= self.rfm_bins <= 10:
            raise Invalid("rfm_bins must be between 2 and 10.", field="rfm_bins")
        if self.arpu_thresholds is not None:
            low, high = (float(value) for value in self.arpu_thresholds)
            if not 0 <= low <= high:
                raise Invalid("arpu_thresholds must be (low below, high from) with low <= high.", field="arpu_thresholds")
            object.__setattr__(self, "arpu_thresholds", (low, high))
        if not 1 <= self.pareto_points <= 1000:
            raise Invalid("pareto_points must be between 1 and 1000.", field="pareto_points")

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        data = asdict(self)
        data["abc_shares"] = list(self.abc_shares)
        data["abc_cumulative"] = list(self.abc_cumulative)
        data["arpu_thresholds"] = list(self.arpu_thresholds) if self.arpu_thresholds else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SegmentSettings:
        """Rebuild settings from ``as_dict`` output; unknown keys are rejected, missing ones default."""
        data = dict(data or {})
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise Invalid(f"Unknown segment settings: {', '.join(unknown)}.")
        lifecycle = data.pop("lifecycle", None)
        values: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        settings = cls(**values)
        if lifecycle:
            rule_names = {item.name for item in fields(LifecycleRules)}
            unknown = sorted(set(lifecycle) - rule_names)
            if unknown:
                raise Invalid(f"Unknown lifecycle rules: {', '.join(unknown)}.")
            rules = dict(lifecycle)
            if "strategies" in rules:
                rules["strategies"] = {**LifecycleRules().strategies, **rules["strategies"]}
            settings = replace(settings, lifecycle=LifecycleRules(**rules))
        return settings


# --- ABC and Pareto ----------------------------------------------------------------------------------


def sorted_values(values: npt.ArrayLike) -> np.ndarray:
    """Return the values sorted from the lowest up, missing ones as -inf (first).

    One sort that share tiers, the Pareto curve and quantile scores of the same values can share: each
    would otherwise partition the values again (the Pareto curve at a hundred points).
    """
    return np.sort(np.nan_to_num(_as_float(values), nan=-np.inf))


def rank_by_value(values: npt.ArrayLike) -> np.ndarray:
    """Return row positions from the highest value down; ties keep row order (customer_id order)."""
    array = _as_float(values)
    # A stable sort on the negated values keeps tied rows in their original order.
    return np.argsort(-array, kind="stable")


def abc_tiers(
    values: npt.ArrayLike,
    *,
    method: str = "share",
    shares: tuple[float, ...] = (0.2, 0.3, 0.3, 0.2),
    cumulative: tuple[float, ...] = (0.8, 0.15, 0.05),
) -> np.ndarray:
    """Return the tier letter of each customer ("A" = most valuable) by customer share or value share."""
    codes = abc_tier_codes(values, method=method, shares=shares, cumulative=cumulative)
    return np.array(TIER_NAMES, dtype=object)[codes]


def abc_tier_codes(
    values: npt.ArrayLike,
    *,
    method: str = "share",
    shares: tuple[float, ...] = (0.2, 0.3, 0.3, 0.2),
    cumulative: tuple[float, ...] = (0.8, 0.15, 0.05),
    order: np.ndarray | None = None,
    ascending: np.ndarray | None = None,
) -> np.ndarray:
    """Return each customer's tier as 0 (A), 1 (B), ... (index into TIER_NAMES).

    Customers are ranked from the highest value down, ties in row (customer_id) order. ``order`` is
    ``rank_by_value(values)`` when the caller already has it; the share method does not need it, but uses
    ``ascending`` (``sorted_values(values)``) when given.
    """
    array = _as_float(values)
    count = len(array)
    if method == "share":
        bounds = np.round(np.cumsum(shares) * count).astype(np.int64)
        bounds[-1] = count
        tier_index = ranks_from(array, bounds[:-1], ascending=ascending)
    elif method == "cumulative":
        order = rank_by_value(array) if order is None else order
        tier_index = np.empty(count, dtype=np.int64)
        positive = np.clip(array[order], 0.0, None)
        total = positive.sum()
        # The share of value held by everyone ranked above each customer: a customer belongs to the
        # tier whose band that share starts in (A = customers making the first 80%).
        before = (np.cumsum(positive) - positive) / total if total > 0 else np.ones(count)
        bounds = np.cumsum(cumulative)[:-1]
        # The tolerance keeps a customer who starts exactly at 80% out of A despite rounding in cumsum.
        ranked_tiers = np.searchsorted(bounds, before + 1e-12, side="right")
        # Customers with no value at all never count as making part of the first 80%.
        ranked_tiers[positive <= 0] = len(cumulative) - 1
        tier_index[order] = ranked_tiers
    else:
        raise Invalid(f"abc method must be one of {', '.join(ABC_METHODS)}.", field="abc_method")
    tiers = len(shares if method == "share" else cumulative)
    return np.minimum(tier_index, tiers - 1).astype(np.int8)


def ranks_from(values: np.ndarray, bounds: npt.ArrayLike, *, ascending: np.ndarray | None = None) -> np.ndarray:
    """Return, for each row, how many of ``bounds`` its rank (0 = highest value) reaches or passes.

    Equal to ``searchsorted(bounds, rank, side="right")`` with ranks from ``rank_by_value``, in linear
    time: only the value at each bound is found (a partition, not a sort, unless ``ascending`` holds
    the values already sorted by ``sorted_values``), and only rows tied with it are ordered, by row
    position as the stable sort would.
    """
    key = -np.nan_to_num(values, nan=-np.inf)
    count = len(key)
    passed = np.zeros(count, dtype=np.int64)
    wanted = [int(b) - 1 for b in np.asarray(bounds) if 0 < b < count]
    # With the values sorted, the k-th smallest key (a negated value) is the k-th largest value.
    cuts = kth_smallest(key, wanted) if ascending is None else {k: -float(ascending[count - 1 - k]) for k in wanted}
    for bound in np.asarray(bounds, dtype=np.int64):
        if bound <= 0:
            passed += 1
        elif bound < count:
            cut = cuts[int(bound) - 1]
            passed += key > cut
            # Of the rows tied at the cut, the first ones (in row order) still rank above the bound.
            tied = np.flatnonzero(key == cut)
            passed[tied[bound - int(np.count_nonzero(key < cut)) :]] += 1
    return passed


def pareto_curve(
    values: npt.ArrayLike,
    *,
    points: int = 100,
    order: np.ndarray | None = None,
    ascending: np.ndarray | None = None,
) -> pa.Table:
    """Share of total value held by the top x% of customers, x = 1..points (percent of customers).

    ``order`` (``rank_by_value``) or ``ascending`` (``sorted_values``) spare the partition when the
    caller has either. Missing and negative values count as 0.
    """
    array = np.clip(np.nan_to_num(_as_float(values), nan=0.0), 0.0, None)
    count = len(array)
    percent = np.arange(1, points + 1) * (100.0 / points)
    customers = np.ceil(percent / 100.0 * count - 1e-9).astype(np.int64)
    if ascending is not None:
        ranked = np.clip(ascending[::-1], 0.0, None)
    elif order is not None:
        ranked = array[order]
    else:
        # The top-k sums need only the k-th values in place, not a full sort: partition at every point.
        kth = sorted({int(k) for k in customers if 0 < k < count})
        ranked = -np.partition(-array, kth) if kth else array
    cumulative = np.concatenate([[0.0], np.cumsum(ranked)])
    total = cumulative[-1]
    share = cumulative[customers] / total if total > 0 else np.zeros(points)
    return pa.table({"top_percent": percent, "customers": customers, "value_share": share})


# --- RFM ---------------------------------------------------------------------------------------------


def quantile_scores(
    values: npt.ArrayLike, *, bins: int = 5, higher_is_better: bool = True, ascending: np.ndarray | None = None
) -> np.ndarray:
    """Return 1..bins scores: 1 + floor(bins * share of customers strictly worse); ties score the same.

    ``ascending`` is ``sorted_values(values)`` when the caller has it (higher_is_better only).
    """
    array = _as_float(values)
    if not higher_is_better:
        array = -array
    count = len(array)
    if count == 0:
        return np.zeros(0, dtype=np.int8)
    finite = np.nan_to_num(array, nan=-np.inf)
    # score > s exactly when at least ceil(s * count / bins) values are strictly smaller, i.e. when the
    # value exceeds the ceil(s * count / bins)-th smallest one: only those few values need finding.
    needed = [-(-s * count // bins) for s in range(1, bins)]
    wanted = [c - 1 for c in needed if 0 < c <= count]
    if ascending is not None and higher_is_better:
        cuts = {k: float(ascending[k]) for k in wanted}
    else:
        cuts = kth_smallest(finite, wanted)
    scores = np.ones(count, dtype=np.int8)
    for smaller in needed:
        if smaller <= 0:
            scores += 1
        elif smaller <= count:
            scores += finite > cuts[smaller - 1]
    return scores


def kth_smallest(values: np.ndarray, ks: list[int]) -> dict[int, float]:
    """Return {k: the k-th smallest value (0-based)}: a histogram for small whole numbers, else a partition."""
    if not ks:
        return {}
    low, high = float(values.min()), float(values.max())
    if np.isfinite(low) and high - low <= 4 * len(values) + 1024 and np.array_equal(values, np.floor(values)):
        # Counts, days and other small whole numbers (most RFM inputs): linear time, no data movement.
        below_or_at = np.cumsum(np.bincount((values - low).astype(np.int64)))
        return {k: low + float(np.searchsorted(below_or_at, k, side="right")) for k in ks}
    partitioned = np.partition(values, sorted(set(ks)))
    return {k: float(partitioned[k]) for k in ks}


def rfm_scores(
    days_since_last: npt.ArrayLike,
    frequency: npt.ArrayLike,
    monetary: npt.ArrayLike,
    *,
    bins: int = 5,
    monetary_ascending: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (R, F, M) scores 1..bins: recent, frequent and high-spending customers score high.

    ``monetary_ascending`` is ``sorted_values(monetary)`` when the caller has it.
    """
    return (
        quantile_scores(days_since_last, bins=bins, higher_is_better=False),
        quantile_scores(frequency, bins=bins),
        quantile_scores(monetary, bins=bins, ascending=monetary_ascending),
    )


def rfm_segments(recency_score: npt.ArrayLike, frequency_score: npt.ArrayLike, *, bins: int = 5) -> np.ndarray:
    """Return the named RFM segment of each customer from its R and F scores (see the module grid)."""
    codes = rfm_segment_codes(recency_score, frequency_score, bins=bins)
    return np.array(RFM_SEGMENTS, dtype=object)[codes]


def rfm_segment_codes(recency_score: npt.ArrayLike, frequency_score: npt.ArrayLike, *, bins: int = 5) -> np.ndarray:
    """Return each customer's RFM segment as an index into RFM_SEGMENTS."""
    r = np.asarray(recency_score)
    f = np.asarray(frequency_score)
    if bins != 5:
        # Map 1..bins onto 1..5 so the grid applies to any bin count.
        r = 1 + ((r.astype(np.int64) - 1) * 5) // bins
        f = 1 + ((f.astype(np.int64) - 1) * 5) // bins
    grid = np.array([[RFM_SEGMENTS.index(name) for name in row] for row in _RFM_GRID], dtype=np.int8)
    # One flat index into the 5 x 5 grid (scores are small: int16 cannot overflow).
    cell = np.clip(r, 1, 5).astype(np.int16) * 5 + np.clip(f, 1, 5) - 6
    return grid.ravel().take(cell)


# --- monthly ARPU tiers ------------------------------------------------------------------------------


def arpu_tiers(monthly: pa.Table, *, thresholds: tuple[float, float] | None = None) -> pa.Table:
    """Add ``tier`` (high/middle/low) to revenue per customer and month (from summary.monthly_revenue).

    With ``thresholds=(low_below, high_from)`` the tiers are absolute; without, each month is split at
    its own tertiles of revenue among the customers who bought that month.
    """
    revenue = np.asarray(monthly.column("revenue").to_numpy(zero_copy_only=False), dtype=np.float64)
    month = _month_index(monthly.column("month"))
    tier = np.full(len(revenue), 1, dtype=np.int64)  # middle
    if thresholds is not None:
        low_below, high_from = thresholds
        tier[revenue < low_below] = 2
        tier[revenue >= high_from] = 0
    elif len(revenue):
        order = np.lexsort((revenue, month))
        sorted_month = month[order]
        starts = np.flatnonzero(np.r_[True, sorted_month[1:] != sorted_month[:-1]])
        sizes = np.diff(np.r_[starts, len(order)])
        for start, size in zip(starts, sizes, strict=True):
            rows = order[start : start + size]
            low_cut, high_cut = np.quantile(revenue[rows], [1 / 3, 2 / 3])
            tier[rows[revenue[rows] < low_cut]] = 2
            tier[rows[revenue[rows] >= high_cut]] = 0
            # A month where everyone spent the same has no high or low customers.
            if low_cut == high_cut:
                tier[rows] = 1
    names = np.array(ARPU_TIERS, dtype=object)
    return monthly.append_column("tier", pa.array(names[tier], pa.string()))


def arpu_transitions(tiers: pa.Table) -> pa.Table:
    """Month-over-month tier transitions: month, from_tier, to_tier, customers.

    ``from_tier`` is 'new' in a customer's first month; 'gone' marks a month without purchases after
    earlier ones (from 'gone' = came back, to 'gone' = stopped buying). Rows must be sorted by customer
    and month, as ``monthly_revenue`` returns them. Months run to the last month in the data.
    """
    states = ("new", "high", "middle", "low", "gone")
    code = {name: index for index, name in enumerate(states)}
    ids = tiers.column("customer_id")
    month = _month_index(tiers.column("month"))
    tier_names = np.asarray(tiers.column("tier").to_numpy(zero_copy_only=False), dtype=object)
    tier = np.select([tier_names == "high", tier_names == "middle"], [code["high"], code["middle"]], code["low"])
    count = len(month)
    if count == 0:
        return pa.table({"month": pa.array([], pa.date32()), "from_tier": pa.array([], pa.string()),
                         "to_tier": pa.array([], pa.string()), "customers": pa.array([], pa.int64())})
    same_customer = np.zeros(count, dtype=bool)
    if count > 1:
        same_customer[1:] = pc.equal(ids.slice(1), ids.slice(0, count - 1)).to_numpy(zero_copy_only=False)
    previous_month = np.r_[0, month[:-1]]
    previous_tier = np.r_[0, tier[:-1]]
    consecutive = same_customer & (previous_month == month - 1)
    from_state = np.where(consecutive, previous_tier, np.where(same_customer, code["gone"], code["new"]))
    last_month = month.max()
    # Customers whose next month has no purchase move to 'gone' in the month after.
    next_same = np.r_[same_customer[1:], False]
    next_month = np.r_[month[1:], 0]
    stops = ~(next_same & (next_month == month + 1)) & (month < last_month)
    all_months = np.r_[month, month[stops] + 1]
    all_from = np.r_[from_state, tier[stops]]
    all_to = np.r_[tier, np.full(int(stops.sum()), code["gone"])]
    key = (all_months - month.min()) * 25 + all_from * 5 + all_to
    unique, counts = np.unique(key, return_counts=True)
    months = unique // 25 + month.min()
    names = np.array(states, dtype=object)
    return pa.table(
        {
            "month": pa.array(months.astype("datetime64[M]").astype("datetime64[D]"), pa.date32()),
            "from_tier": pa.array(names[(unique % 25) // 5], pa.string()),
            "to_tier": pa.array(names[unique % 5], pa.string()),
            "customers": pa.array(counts, pa.int64()),
        }
    )


def transition_matrix(transitions: pa.Table, *, month: Any = None) -> dict[str, dict[str, int]]:
    """Return {from_tier: {to_tier: customers}} for one month (a date in it) or summed over all months."""
    rows = transitions
    if month is not None:
        target = np.datetime64(str(month)[:7], "M")
        months = _month_index(rows.column("month"))
        rows = rows.filter(pa.array(months == target.astype(np.int64)))
    matrix = {state: dict.fromkeys(("high", "middle", "low", "gone"), 0) for state in ("new", *ARPU_TIERS, "gone")}
    for source, target_tier, customers in zip(
        rows.column("from_tier").to_pylist(), rows.column("to_tier").to_pylist(), rows.column("customers").to_pylist(),
        strict=True,
    ):
        matrix[source][target_tier] += customers
    return matrix


def _month_index(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Return months since 1970-01 for a date column."""
    days = np.asarray(pc.cast(column, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


# --- lifecycle classes -------------------------------------------------------------------------------


def lifecycle_classes(
    *,
    frequency: npt.ArrayLike,
    recency_days: npt.ArrayLike,
    days_since_last: npt.ArrayLike,
    total_revenue: npt.ArrayLike,
    revenue_last_6m: npt.ArrayLike,
    revenue_prev_6m: npt.ArrayLike,
    p_alive: npt.ArrayLike | None = None,
    predicted_value: npt.ArrayLike | None = None,
    rules: LifecycleRules | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (class, strategy) per customer by the rules' fixed precedence (see LifecycleRules)."""
    rules = rules or LifecycleRules()
    codes = lifecycle_class_codes(
        frequency=frequency,
        recency_days=recency_days,
        days_since_last=days_since_last,
        total_revenue=total_revenue,
        revenue_last_6m=revenue_last_6m,
        revenue_prev_6m=revenue_prev_6m,
        p_alive=p_alive,
        predicted_value=predicted_value,
        rules=rules,
    )
    classes = np.array(LIFECYCLE_CLASSES, dtype=object)
    strategies = np.array([rules.strategies[name] for name in LIFECYCLE_CLASSES], dtype=object)
    return classes[codes], strategies[codes]


def lifecycle_class_codes(
    *,
    frequency: npt.ArrayLike,
    recency_days: npt.ArrayLike,
    days_since_last: npt.ArrayLike,
    total_revenue: npt.ArrayLike,
    revenue_last_6m: npt.ArrayLike,
    revenue_prev_6m: npt.ArrayLike,
    p_alive: npt.ArrayLike | None = None,
    predicted_value: npt.ArrayLike | None = None,
    rules: LifecycleRules | None = None,
    revenue_ascending: np.ndarray | None = None,
) -> np.ndarray:
    """Return each customer's lifecycle class as an index into LIFECYCLE_CLASSES.

    ``revenue_ascending`` is ``sorted_values(total_revenue)`` when the caller has it (spares a partition).
    """
    rules = rules or LifecycleRules()
    x = _as_float(frequency)
    since_last = _as_float(days_since_last)
    span = _as_float(recency_days)
    revenue = _as_float(total_revenue)
    last_6m = _as_float(revenue_last_6m)
    prev_6m = _as_float(revenue_prev_6m)
    count = len(x)
    tenure = span + since_last
    repeat = x > 0
    # Plain division is several times faster than a masked one; rows without a repeat purchase (x = 0) are
    # replaced below, and rows without both halves never reach a comparison that uses the trend.
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = span / x
        trend = last_6m / prev_6m
    trend -= 1.0
    repeat_gaps = gap[repeat]
    typical_gap = (
        float(np.median(repeat_gaps, overwrite_input=True)) if len(repeat_gaps) else rules.sleeping_default_gap_days
    )
    # A customer without a repeat purchase is judged by the typical gap.
    gap[~repeat] = typical_gap
    gap *= rules.sleeping_gap_multiple
    sleeping = since_last > gap
    if p_alive is not None:
        alive = _as_float(p_alive)
        sleeping |= alive < rules.sleeping_p_alive  # an unknown P(alive) (NaN) compares False
    both_halves = (prev_6m > 0) & (last_6m > 0)
    fast_growing = both_halves & (trend > rules.fast_growing_trend)
    loyal = (
        (tenure >= rules.loyal_min_tenure_days)
        & (x >= rules.loyal_min_repeat_purchases)
        & both_halves
        & (trend >= -rules.loyal_max_decline)
    )
    nurturing = np.zeros(count, dtype=bool)
    if predicted_value is not None and count:
        predicted = _as_float(predicted_value)
        known = np.isfinite(predicted)
        if known.any():
            cut = float(np.quantile(predicted[known], rules.nurture_value_quantile))
            median = _median_of_sorted(revenue_ascending) if revenue_ascending is not None else np.median(revenue)
            new_or_small = (tenure <= rules.nurture_max_tenure_days) | (revenue < float(median))
            nurturing = known & new_or_small & (predicted >= cut) & (predicted > 0)
    # np.select takes the first condition that holds: this order is the precedence.
    return np.select([sleeping, fast_growing, loyal, nurturing], [0, 1, 2, 3], 4).astype(np.int8)


def _median_of_sorted(ascending: np.ndarray) -> float:
    """Return the median of values already sorted, computed as ``np.median`` does (the mean of the middle two)."""
    middle = len(ascending) // 2
    return float(np.median(ascending[middle - 1 : middle + 1] if len(ascending) % 2 == 0 else ascending[middle]))


def _as_float(values: npt.ArrayLike) -> np.ndarray:
    """Return values as a float64 array (pyarrow nulls become NaN)."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)
