"""Campaigns and what they cost, leads they bring, and deals with the history of their stages."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from patron.core.fields import External, TimeStamped, external_key, history_without_indexes, owner_field, team_field
from patron.core.permissions import RestrictedQuerySet
from patron.engagement.models import Channel


class Campaign(External, TimeStamped):
    """A marketing effort on one channel, with its cost and dates."""

    scope = "shared"

    name = models.CharField(_("name"), max_length=200)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    cost = models.DecimalField(
        _("cost"), max_digits=14, decimal_places=2, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    starts_on = models.DateField(_("start"))
    ends_on = models.DateField(_("end"), null=True, blank=True)
    history = HistoricalRecords(no_db_index=history_without_indexes())

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [external_key()]

    def __str__(self) -> str:
        return self.name


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    WORKING = "working", _("Working")
    QUALIFIED = "qualified", _("Qualified")
    DISQUALIFIED = "disqualified", _("Disqualified")
    CONVERTED = "converted", _("Converted")


class Lead(External, TimeStamped):
    """A possible customer, with where they came from and how well they fit."""

    scope = "owned"

    name = models.CharField(_("name"), max_length=200)
    company = models.CharField(_("company"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("source campaign"),
    )
    source = models.CharField(_("source"), max_length=80, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    industry = models.CharField(_("industry"), max_length=80, blank=True)
    size_band = models.CharField(_("size band"), max_length=16, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    fit_score = models.PositiveSmallIntegerField(_("fit score"), null=True, blank=True, help_text=_("0 to 100"))
    owner = owner_field()
    team = team_field()
    converted_account = models.ForeignKey(
        "customers.Account",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="source_leads",
        verbose_name=_("converted to account"),
    )
    history = HistoricalRecords(
        no_db_index=history_without_indexes("email", "campaign", "owner", "team", "converted_account")
    )

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        # Indexed here rather than with db_index=True, which on PostgreSQL adds an unused varchar_pattern_ops twin.
        indexes = [models.Index(fields=["email"], name="pipeline_lead_email")]
        constraints = [external_key()]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.fit_score is not None and self.fit_score > 100:
            raise ValidationError({"fit_score": _("The fit score runs from 0 to 100.")})

    def __str__(self) -> str:
        return self.name


class DealStage(models.TextChoices):
    QUALIFICATION = "qualification", _("Qualification")
    DISCOVERY = "discovery", _("Discovery")
    PROPOSAL = "proposal", _("Proposal")
    NEGOTIATION = "negotiation", _("Negotiation")
    WON = "won", _("Closed won")
    LOST = "lost", _("Closed lost")


class DealKind(models.TextChoices):
    NEW_BUSINESS = "new", _("New business")
    RENEWAL = "renewal", _("Renewal")
    EXPANSION = "expansion", _("Expansion")
    CROSS_SELL = "cross_sell", _("Cross-sell")


class Deal(External, TimeStamped):
    """A sales opportunity with an account; every stage it enters is kept in its stage history."""

    scope = "account"

    account = models.ForeignKey(
        "customers.Account", on_delete=models.CASCADE, related_name="deals", verbose_name=_("account")
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=DealKind.choices, default=DealKind.NEW_BUSINESS)
    stage = models.CharField(_("stage"), max_length=16, choices=DealStage.choices, default=DealStage.QUALIFICATION)
    amount = models.DecimalField(
        _("amount"), max_digits=14, decimal_places=2, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.SET_NULL, null=True, blank=True, related_name="deals", verbose_name=_("lead")
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="deals", verbose_name=_("campaign")
    )
    close_reason = models.CharField(_("won/lost reason"), max_length=200, blank=True)
    history = HistoricalRecords(no_db_index=history_without_indexes("account", "owner", "lead", "campaign"))

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        constraints = [external_key()]

    @property
    def is_closed(self) -> bool:
        """Tell whether the deal was won or lost."""
        return self.stage in (DealStage.WON, DealStage.LOST)

    def __str__(self) -> str:
        return self.name


class DealStageChange(models.Model):
    """When a deal entered a stage, and who moved it."""

    scope = "deal__account"

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_history", verbose_name=_("deal"))
    stage = models.CharField(_("stage"), max_length=16, choices=DealStage.choices)
    entered_at = models.DateTimeField(_("entered"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["entered_at", "id"]
        verbose_name = _("deal stage change")
        verbose_name_plural = _("deal stage changes")

    def __str__(self) -> str:
        return f"{self.deal} → {self.get_stage_display()}"
