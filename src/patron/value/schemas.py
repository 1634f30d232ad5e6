"""API shapes of customer value: runs, scores, one account's value, segments, transitions and settings.

No ``from __future__ import annotations``: django-ninja reads these annotations at run time.
"""

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

from patron.core.api import page_schema


class RunOut(Schema):
    """A scoring run without its big results."""

    id: int
    status: str
    engine: str
    requested_by_id: int | None = None
    previous_run_id: int | None = None
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration: float | None = Field(None, description="Wall time in seconds.")
    observation_end: dt.date | None = None
    time_unit: str
    customers_scored: int
    orders_read: int
    scores_removed_at: dt.datetime | None = Field(
        None, description="When the retention setting removed this run's account scores (summaries remain)."
    )
    warnings: list[str]
    error: str


class RunDetailOut(RunOut):
    """A scoring run with everything it found: settings used, fits, Pareto curve, diagnostics, summary."""

    settings: dict[str, Any]
    fits: dict[str, Any] = Field(
        ..., description="Per model: params, log_likelihood, customers, converged; null when it could not be fitted."
    )
    pareto: list[dict[str, Any]] = Field(..., description="Share of value held by the top x% of accounts.")
    diagnostics: dict[str, Any] = Field(
        ..., description="Calibration vs holdout by frequency and the tracking curve of the transaction model."
    )
    summary: dict[str, Any]
    timings: dict[str, float]


RunPage = page_schema(RunOut)


class ScoreOut(Schema):
    """One account's value in one run."""

    account_id: int
    account_name: str
    run_id: int
    orders: int
    frequency: int = Field(..., description="Repeat purchases (purchase days after the first).")
    recency: float = Field(..., description="Time from the first to the last purchase, in the run's time unit.")
    age: float = Field(..., description="Time from the first purchase to the observation end (T).")
    revenue: float
    monetary_value: float = Field(..., description="Mean value of the repeat purchases.")
    first_order: dt.date
    last_order: dt.date
    revenue_trend: float | None = None
    product_groups: int | None = None
    arpu: float | None = None
    arpu_tier: str
    abc_tier: str
    previous_abc_tier: str
    rfm_r: int | None = None
    rfm_f: int | None = None
    rfm_m: int | None = None
    rfm_segment: str
    lifecycle_class: str
    lifecycle_strategy: str
    p_alive: float | None = None
    expected_purchases: float | None = None
    expected_spend: float | None = None
    clv: float | None = None
    previous_clv: float | None = None

    @staticmethod
    def resolve_account_name(obj: Any) -> str:
        """Return the account's name."""
        return obj.account.name


ScorePage = page_schema(ScoreOut)


class ScoreFiltersIn(Schema):
    """Filters of the scores list (all optional)."""

    tier: str | None = Field(None, description="ABC tier letter, such as A.")
    lifecycle_class: str | None = Field(None, description="sleeping, fast_growing, loyal, worth_nurturing or steady.")
    rfm_segment: str | None = Field(None, description="champions, loyal_customers, at_risk, …")
    arpu_tier: str | None = Field(None, description="high, middle or low.")
    run: int | None = Field(None, description="A run id; the latest successful run by default.")


class HistoryOut(Schema):
    """The account in one earlier run."""

    run_id: int
    observation_end: dt.date | None = None
    abc_tier: str
    lifecycle_class: str
    clv: float | None = None
    p_alive: float | None = None
    revenue: float


class AccountValueOut(Schema):
    """An account's latest value, its strategy and trend, and its history (empty before it is scored)."""

    account_id: int
    latest: ScoreOut | None = None
    run: RunOut | None = None
    is_current: bool = Field(False, description="Whether the latest score is from the newest run.")
    strategy: str = ""
    tier_change: int = Field(0, description="+1 the tier rose since the previous run, -1 it fell.")
    clv_change: float | None = None
    history: list[HistoryOut] = []


class SegmentRow(Schema):
    """Accounts, revenue and CLV of one tier, class or segment, with their shares of the whole."""

    name: str
    accounts: int
    account_share: float
    revenue: float
    revenue_share: float
    clv: float | None = None
    clv_share: float | None = None
    strategy: str | None = None


class TransitionsOut(Schema):
    """How accounts moved between ABC tiers from one run to another (rows: before, columns: after)."""

    from_run: int
    to_run: int
    tiers: list[str]
    rows: list[str]
    columns: list[str]
    matrix: dict[str, dict[str, int]]


class SegmentsOut(Schema):
    """Tier sizes and revenue shares, lifecycle classes, RFM segments, ARPU tiers and the CLV histogram."""

    run_id: int
    observation_end: dt.date | None = None
    scope: Literal["all", "visible"]
    totals: dict[str, Any]
    tiers: list[SegmentRow]
    lifecycle: list[SegmentRow]
    rfm: list[SegmentRow]
    arpu: list[SegmentRow]
    clv_histogram: dict[str, Any]
    pareto: list[dict[str, Any]]
    transitions: TransitionsOut | None = None
    arpu_transitions: dict[str, Any] | None = None


class SettingsOut(Schema):
    """The value settings (fractions, not percentages, for the shares)."""

    abc_value: str
    abc_method: str
    abc_shares: list[float]
    abc_cumulative: list[float]
    rfm_bins: int
    arpu_low_below: float | None = None
    arpu_high_from: float | None = None
    margin_percent: float
    annual_discount_rate: float
    horizon_months: int
    time_unit: str
    schedule: str = Field(description="off, daily, weekly (Mondays) or monthly (the 1st): automatic runs")
    schedule_hour: int = Field(description="Hour of the day (0-23, server time) of automatic runs")
    next_scheduled_at: dt.datetime | None = Field(None, description="When the next automatic run is queued for")
    runs_kept: int
    sleeping_gap_multiple: float
    sleeping_p_alive: float
    sleeping_default_gap_days: float
    fast_growing_trend: float
    loyal_min_tenure_days: int
    loyal_min_repeat_purchases: int
    loyal_max_decline: float
    nurture_max_tenure_days: int
    nurture_value_quantile: float
    strategy_sleeping: str
    strategy_fast_growing: str
    strategy_loyal: str
    strategy_worth_nurturing: str
    strategy_steady: str
    updated_at: dt.datetime | None = None


class SettingsPatch(Schema):
    """A change to the value settings: only the fields given are changed."""

    abc_value: Literal["revenue", "margin", "clv"] | None = None
    abc_method: Literal["share", "cumulative"] | None = None
    abc_shares: list[float] | None = None
    abc_cumulative: list[float] | None = None
    rfm_bins: int | None = None
    arpu_low_below: float | None = None
    arpu_high_from: float | None = None
    margin_percent: float | None = None
    annual_discount_rate: float | None = None
    horizon_months: int | None = None
    time_unit: Literal["day", "week", "month"] | None = None
    schedule: Literal["off", "daily", "weekly", "monthly"] | None = None
    schedule_hour: int | None = Field(None, ge=0, le=23)
    runs_kept: int | None = None
    sleeping_gap_multiple: float | None = None
    sleeping_p_alive: float | None = None
    sleeping_default_gap_days: float | None = None
    fast_growing_trend: float | None = None
    loyal_min_tenure_days: int | None = None
    loyal_min_repeat_purchases: int | None = None
    loyal_max_decline: float | None = None
    nurture_max_tenure_days: int | None = None
    nurture_value_quantile: float | None = None
    strategy_sleeping: str | None = None
    strategy_fast_growing: str | None = None
    strategy_loyal: str | None = None
    strategy_worth_nurturing: str | None = None
    strategy_steady: str | None = None


class EnqueueIn(Schema):
    """Options of a scoring run started through the API."""

    engine: Literal["duckdb", "spark"] | None = None


class RetentionParams(Schema):
    """The fitted shifted-beta-geometric parameters: churn probability theta ~ beta(alpha, beta)."""

    alpha: float
    beta: float


class ProjectedPeriod(Schema):
    """One period after the observed ones: the share of the cohort still subscribed and that period's retention."""

    period: int = Field(description="Months since start.")
    survival: float = Field(description="Share of the cohort still subscribed after this period.")
    retention: float = Field(description="Share of the period's starting subscribers who renew.")
    subscribers: float = Field(description="Expected subscribers left (survival times the cohort size).")


class RetentionCohortOut(Schema):
    """One start cohort: survivors per month observed so far and, when the model could be fitted, its projection."""

    cohort: str = Field(description="Start month (2025-03) or quarter (2025-Q1).")
    start: dt.date
    subscribers: int
    observed_periods: int
    survivors: list[int] = Field(description="Subscribers at the start and after each observed month.")
    observed_retention: list[float | None]
    status: Literal["fitted", "too_few_subscribers", "too_few_periods", "cannot_fit"]
    message: str = Field(description="Why the cohort was not fitted; empty when it was.")
    params: RetentionParams | None = None
    log_likelihood: float | None = None
    fitted_survival: list[float] = Field(description="The model's survival for the observed months, from month 0.")
    projected: list[ProjectedPeriod]


class RetentionOut(Schema):
    """Subscription retention by start cohort (sBG per cohort), for the subscriptions the user may see."""

    observation_end: dt.date
    cohort_by: Literal["month", "quarter"]
    periods: int
    period_unit: str
    min_subscribers: int
    min_periods: int
    without_end_date: int = Field(description="Cancelled or expired subscriptions left out: no end date.")
    cohorts: list[RetentionCohortOut]
