"""Scoring runs (snapshots), per-account scores and the value settings they were computed with.

Every run is kept: a run is a snapshot of the whole base at one observation date, so tier changes and
trends are a comparison of two runs. Each score row also carries the account's previous tier and CLV
(from the run before), so "what changed" needs no join on the big table.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patron.analytics.segments import LIFECYCLE_CLASSES, TIER_NAMES, LifecycleRules, SegmentSettings
from patron.core.permissions import RestrictedQuerySet


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class ValueBasis(models.TextChoices):
    REVENUE = "revenue", _("Revenue")
    MARGIN = "margin", _("Margin")
    CLV = "clv", _("Lifetime value (CLV)")


class AbcMode(models.TextChoices):
    SHARE = "share", _("Share of customers")
    CUMULATIVE = "cumulative", _("Cumulative share of value")


class TimeUnit(models.TextChoices):
    DAY = "day", _("Day")
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")


# ABC tiers: A is the most valuable; share mode with the default four shares gives A-D, up to F.
TIER_LETTERS = TIER_NAMES
TIER_CHOICES = [(letter, letter) for letter in TIER_NAMES]


class LifecycleClass(models.TextChoices):
    SLEEPING = "sleeping", _("Sleeping")
    FAST_GROWING = "fast_growing", _("Fast-growing")
    LOYAL = "loyal", _("Loyal")
    WORTH_NURTURING = "worth_nurturing", _("Worth nurturing")
    STEADY = "steady", _("Steady")


LIFECYCLE_CHOICES = LifecycleClass.choices


class ScoreRun(models.Model):
    """One scoring of the whole base: the settings used, the fitted models and when it ran."""

    scope = "shared"

    status = models.CharField(_("status"), max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    engine = models.CharField(_("engine"), max_length=12, default="duckdb")
    previous_run = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("previous run"),
        help_text=_("The run the tier changes and trends of this run are measured against."),
    )
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    observation_end = models.DateField(_("observation end"), null=True, blank=True)
    time_unit = models.CharField(_("time unit"), max_length=8, choices=TimeUnit.choices, default=TimeUnit.WEEK)
    settings = models.JSONField(_("settings used"), default=dict, blank=True)
    fits = models.JSONField(_("model fits"), default=dict, blank=True)
    pareto = models.JSONField(_("Pareto curve"), default=list, blank=True)
    diagnostics = models.JSONField(_("diagnostics"), default=dict, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    customers_scored = models.PositiveIntegerField(_("customers scored"), default=0)
    orders_read = models.PositiveBigIntegerField(_("orders read"), default=0)
    timings = models.JSONField(_("timings (seconds)"), default=dict, blank=True)
    scores_removed_at = models.DateTimeField(
        _("account scores removed"),
        null=True,
        blank=True,
        help_text=_("When the retention setting removed this run's account scores; its summaries remain."),
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")
        indexes = [models.Index(fields=["status", "id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_status_display()} {self.observation_end or ''}".strip()

    @property
    def duration(self) -> float | None:
        """Return the run's wall time in seconds, once it has finished."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def is_pending(self) -> bool:
        """Tell whether the run is still waiting or working."""
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING)

    def strategy_for(self, lifecycle_class: str) -> str:
        """Return the strategy text the run's settings give a lifecycle class."""
        return (self.settings.get("lifecycle_strategies") or {}).get(lifecycle_class, "")


class AccountScore(models.Model):
    """One account's value in one run: its purchase summary, tiers, lifecycle class and lifetime value."""

    scope = "account"

    # No database-level foreign keys: a run writes a million rows at once, and PostgreSQL would check both
    # keys of every row at commit (about a third of the write time at 1M accounts, bench/score_crm.py).
    # Django deletes an account's or a run's scores itself (on_delete is applied by the ORM), and every
    # read joins the account, so a score can never be shown without its account.
    # Nor single-column indexes: (run, account) and (account, run) below serve both keys.
    run = models.ForeignKey(
        ScoreRun,
        on_delete=models.CASCADE,
        related_name="scores",
        verbose_name=_("run"),
        db_constraint=False,
        db_index=False,
    )
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.CASCADE,
        related_name="value_scores",
        verbose_name=_("account"),
        db_constraint=False,
        db_index=False,
    )
    # The purchase summary (recency and age in the run's time unit).
    orders = models.PositiveIntegerField(_("orders"))
    frequency = models.PositiveIntegerField(_("repeat purchases"))
    recency = models.FloatField(_("recency"))
    age = models.FloatField(_("age (T)"))
    revenue = models.FloatField(_("revenue"))
    monetary_value = models.FloatField(_("mean repeat order value"))
    first_order = models.DateField(_("first order"))
    last_order = models.DateField(_("last order"))
    revenue_trend = models.FloatField(_("revenue trend (6 months)"), null=True, blank=True)
    product_groups = models.PositiveIntegerField(_("product groups"), null=True, blank=True)
    arpu = models.FloatField(_("monthly revenue (ARPU)"), null=True, blank=True)
    # Segments.
    abc_tier = models.CharField(_("ABC tier"), max_length=1, choices=TIER_CHOICES, blank=True)
    arpu_tier = models.CharField(_("ARPU tier"), max_length=16, blank=True)
    rfm_r = models.PositiveSmallIntegerField(_("RFM recency score"), null=True, blank=True)
    rfm_f = models.PositiveSmallIntegerField(_("RFM frequency score"), null=True, blank=True)
    rfm_m = models.PositiveSmallIntegerField(_("RFM monetary score"), null=True, blank=True)
    rfm_segment = models.CharField(_("RFM segment"), max_length=32, blank=True)
    lifecycle_class = models.CharField(_("lifecycle class"), max_length=32, choices=LIFECYCLE_CHOICES, blank=True)
    # Model predictions: null when the model could not be fitted.
    p_alive = models.FloatField(_("P(alive)"), null=True, blank=True)
    expected_purchases = models.FloatField(_("expected purchases"), null=True, blank=True)
    expected_spend = models.FloatField(_("expected spend per order"), null=True, blank=True)
    clv = models.FloatField(_("CLV"), null=True, blank=True)
    # The same account in the run before, for trends and tier transitions.
    previous_abc_tier = models.CharField(_("previous ABC tier"), max_length=1, blank=True)
    previous_clv = models.FloatField(_("previous CLV"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("account score")
        verbose_name_plural = _("account scores")
        constraints = [models.UniqueConstraint(fields=["run", "account"], name="value_score_one_per_run")]
        indexes = [
            # An account's history, newest run first (the account page, "latest per account").
            models.Index(fields=["account", "run"], name="value_score_account_run"),
            # Keyset sorts within a run.
            models.Index(fields=["run", "clv", "id"], name="value_score_run_clv"),
            models.Index(fields=["run", "p_alive", "id"], name="value_score_run_palive"),
            models.Index(fields=["run", "revenue", "id"], name="value_score_run_revenue"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} @ run {self.run_id}: {self.abc_tier} {self.lifecycle_class}"

    @property
    def rfm_code(self) -> str:
        """Return the three RFM scores as one code such as '545'."""
        if self.rfm_r is None:
            return ""
        return f"{self.rfm_r}{self.rfm_f}{self.rfm_m}"

    @property
    def lifecycle_strategy(self) -> str:
        """Return the strategy of the account's lifecycle class (texts are kept once per run)."""
        return self.run.strategy_for(self.lifecycle_class)

    @property
    def tier_change(self) -> int:
        """Return +1 when the tier rose since the previous run, -1 when it fell, 0 otherwise."""
        if not self.previous_abc_tier or not self.abc_tier:
            return 0
        # Letters sort the other way round from value: "A" < "B" but A is worth more.
        return (self.abc_tier < self.previous_abc_tier) - (self.abc_tier > self.previous_abc_tier)


_SEGMENT_DEFAULTS = SegmentSettings()
_RULE_DEFAULTS = LifecycleRules()


def _default_shares() -> list[float]:
    return list(_SEGMENT_DEFAULTS.abc_shares)


def _default_cumulative() -> list[float]:
    return list(_SEGMENT_DEFAULTS.abc_cumulative)


class ValueSettings(models.Model):
    """How Patron scores customers: one row, edited by admins on the value settings page.

    The defaults are the analytics engine's (``SegmentSettings`` and ``LifecycleRules``).
    """

    # ABC tiers.
    abc_value = models.CharField(
        _("value basis"),
        max_length=12,
        choices=ValueBasis.choices,
        default=_SEGMENT_DEFAULTS.abc_value,
        help_text=_(
            "What ranks customers into ABC tiers: revenue so far, margin so far (revenue × margin %), or the "
            "predicted lifetime value (revenue is used when the lifetime models cannot be fitted)."
        ),
    )
    abc_method = models.CharField(
        _("ABC mode"),
        max_length=12,
        choices=AbcMode.choices,
        default=_SEGMENT_DEFAULTS.abc_method,
        help_text=_(
            "Share of customers: the tiers hold fixed shares of the customers, ranked by value (A first). "
            "Cumulative share of value: A are the customers who together make the first share of the value "
            "(the Pareto 80/20), B the next share, and so on."
        ),
    )
    abc_shares = models.JSONField(
        _("customer shares per tier"),
        default=_default_shares,
        help_text=_(
            "For the share mode: percentages of customers in A, B, C… adding up to 100, such as 20, 30, 30, 20 "
            "(the default, four tiers A–D)."
        ),
    )
    abc_cumulative = models.JSONField(
        _("value shares per tier"),
        default=_default_cumulative,
        help_text=_(
            "For the cumulative mode: percentages of total value in A, B, C… adding up to 100, such as "
            "80, 15, 5 (the default)."
        ),
    )
    rfm_bins = models.PositiveSmallIntegerField(
        _("RFM score levels"),
        default=_SEGMENT_DEFAULTS.rfm_bins,
        help_text=_("Recency, frequency and monetary scores run from 1 to this number (2–10; 5 is usual)."),
    )
    arpu_low_below = models.FloatField(
        _("ARPU low below"),
        null=True,
        blank=True,
        help_text=_(
            "Monthly revenue below which a customer is in the low ARPU tier; leave both ARPU limits empty to "
            "split each month at its own thirds."
        ),
    )
    arpu_high_from = models.FloatField(
        _("ARPU high from"),
        null=True,
        blank=True,
        help_text=_("Monthly revenue from which a customer is in the high ARPU tier."),
    )
    # Lifetime value.
    margin_percent = models.FloatField(
        _("margin %"),
        default=100.0,
        help_text=_("Gross margin as a percentage of revenue, used for margin value and CLV (100 = revenue)."),
    )
    annual_discount_rate = models.FloatField(
        _("annual discount rate"),
        default=0.10,
        help_text=_("The yearly rate future margin is discounted at in CLV: 0.10 is 10% a year."),
    )
    horizon_months = models.PositiveSmallIntegerField(
        _("horizon (months)"),
        default=12,
        help_text=_("How far ahead expected purchases and CLV look."),
    )
    time_unit = models.CharField(
        _("time unit"),
        max_length=8,
        choices=TimeUnit.choices,
        default=TimeUnit.WEEK,
        help_text=_("The unit the lifetime models count time in; weeks suit most businesses."),
    )
    schedule = models.CharField(
        _("recompute automatically"),
        max_length=8,
        choices=[
            ("off", _("Never (by hand or cron)")),
            ("daily", _("Every day")),
            ("weekly", _("Every Monday")),
            ("monthly", _("On the 1st of each month")),
        ],
        default="off",
        help_text=_("The background worker (patron db_worker) scores the whole base at this time, server time."),
    )
    schedule_hour = models.PositiveSmallIntegerField(
        _("at hour"),
        default=2,
        validators=[MaxValueValidator(23)],
        help_text=_("Hour of the day, 0 to 23, in the server's time zone."),
    )
    #: When the next automatic run is queued for (None when the schedule is off); set by the services.
    next_scheduled_at = models.DateTimeField(_("next automatic run"), null=True, blank=True, editable=False)
    runs_kept = models.PositiveSmallIntegerField(
        _("runs kept with account scores"),
        default=12,
        help_text=_(
            "Each run stores a score for every account. Older successful runs lose their account scores "
            "but keep their summaries, model fits and charts. At least 2, so tier changes can be shown."
        ),
    )
    # Lifecycle classes (a customer gets the first class that applies, in this order).
    sleeping_gap_multiple = models.FloatField(
        _("sleeping: gap multiple"),
        default=_RULE_DEFAULTS.sleeping_gap_multiple,
        help_text=_(
            "Sleeping: no purchase for more than this many times the customer's own usual gap between "
            "purchases (for one-time buyers, the usual gap of repeat buyers)."
        ),
    )
    sleeping_p_alive = models.FloatField(
        _("sleeping: P(alive) below"),
        default=_RULE_DEFAULTS.sleeping_p_alive,
        help_text=_("Sleeping as well: a probability of still being a customer below this (0–1)."),
    )
    sleeping_default_gap_days = models.FloatField(
        _("sleeping: default gap (days)"),
        default=_RULE_DEFAULTS.sleeping_default_gap_days,
        help_text=_("The usual gap assumed when nobody has bought twice yet."),
    )
    fast_growing_trend = models.FloatField(
        _("fast-growing: growth above"),
        default=_RULE_DEFAULTS.fast_growing_trend,
        help_text=_("Fast-growing: revenue of the last 6 months more than this above the 6 before (0.30 = +30%)."),
    )
    loyal_min_tenure_days = models.PositiveIntegerField(
        _("loyal: customer for at least (days)"),
        default=_RULE_DEFAULTS.loyal_min_tenure_days,
        help_text=_("Loyal: a customer for at least this many days…"),
    )
    loyal_min_repeat_purchases = models.PositiveIntegerField(
        _("loyal: repeat purchases at least"),
        default=_RULE_DEFAULTS.loyal_min_repeat_purchases,
        help_text=_("…with at least this many repeat purchases, revenue in both half-years…"),
    )
    loyal_max_decline = models.FloatField(
        _("loyal: decline at most"),
        default=_RULE_DEFAULTS.loyal_max_decline,
        help_text=_("…and revenue falling by no more than this (0.30 = −30%)."),
    )
    nurture_max_tenure_days = models.PositiveIntegerField(
        _("worth nurturing: new for (days)"),
        default=_RULE_DEFAULTS.nurture_max_tenure_days,
        help_text=_(
            "Worth nurturing: new (first purchase at most this many days ago) or small (revenue below the "
            "median), and with a high predicted value…"
        ),
    )
    nurture_value_quantile = models.FloatField(
        _("worth nurturing: predicted value quantile"),
        default=_RULE_DEFAULTS.nurture_value_quantile,
        help_text=_("…at or above this quantile of the base (0.70 = the top 30%). Everyone else is steady."),
    )
    strategy_sleeping = models.CharField(
        _("strategy: sleeping"), max_length=200, default=_RULE_DEFAULTS.strategies["sleeping"]
    )
    strategy_fast_growing = models.CharField(
        _("strategy: fast-growing"), max_length=200, default=_RULE_DEFAULTS.strategies["fast_growing"]
    )
    strategy_loyal = models.CharField(_("strategy: loyal"), max_length=200, default=_RULE_DEFAULTS.strategies["loyal"])
    strategy_worth_nurturing = models.CharField(
        _("strategy: worth nurturing"), max_length=200, default=_RULE_DEFAULTS.strategies["worth_nurturing"]
    )
    strategy_steady = models.CharField(
        _("strategy: steady"), max_length=200, default=_RULE_DEFAULTS.strategies["steady"]
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    RULE_FIELDS = (
        "sleeping_gap_multiple",
        "sleeping_p_alive",
        "sleeping_default_gap_days",
        "fast_growing_trend",
        "loyal_min_tenure_days",
        "loyal_min_repeat_purchases",
        "loyal_max_decline",
        "nurture_max_tenure_days",
        "nurture_value_quantile",
    )

    class Meta:
        verbose_name = _("value settings")
        verbose_name_plural = _("value settings")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="value_settings_singleton")]

    def __str__(self) -> str:
        return str(_("Value settings"))

    @classmethod
    def load(cls) -> ValueSettings:
        """Return the settings row, creating it with the defaults on first use."""
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj

    def strategies(self) -> dict[str, str]:
        """Return the strategy text of each lifecycle class."""
        return {name: getattr(self, f"strategy_{name}") for name in LIFECYCLE_CLASSES}

    def segment_settings(self) -> SegmentSettings:
        """Return these settings as the analytics engine's SegmentSettings (raises Invalid when inconsistent)."""
        thresholds = None
        if self.arpu_low_below is not None or self.arpu_high_from is not None:
            low = self.arpu_low_below if self.arpu_low_below is not None else 0.0
            high = self.arpu_high_from if self.arpu_high_from is not None else low
            thresholds = (low, high)
        rules = LifecycleRules(**{name: getattr(self, name) for name in self.RULE_FIELDS}, strategies=self.strategies())
        return SegmentSettings(
            abc_method=self.abc_method,
            abc_value=self.abc_value,
            abc_shares=tuple(self.abc_shares),
            abc_cumulative=tuple(self.abc_cumulative),
            rfm_bins=self.rfm_bins,
            arpu_thresholds=thresholds,
            lifecycle=rules,
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data (what a run records as 'settings used')."""
        return {
            "segments": self.segment_settings().as_dict(),
            "margin_percent": self.margin_percent,
            "annual_discount_rate": self.annual_discount_rate,
            "horizon_months": self.horizon_months,
            "time_unit": self.time_unit,
            "lifecycle_strategies": self.strategies(),
        }
