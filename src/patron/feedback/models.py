"""Survey answers: NPS, CSAT and CES at each stage of the customer's life."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from patron.core.fields import External, TimeStamped, external_key, history_without_indexes


class SurveyStage(models.TextChoices):
    ONBOARDING = "onboarding", _("Onboarding")
    QBR = "qbr", _("Quarterly business review")
    RENEWAL = "renewal", _("Renewal")
    AFTER_TICKET = "after_ticket", _("After a ticket")
    RELATIONSHIP = "relationship", _("Relationship (periodic)")
    PURCHASE = "purchase", _("After a purchase")


class SurveyResponse(External, TimeStamped):
    """One answer to a survey: any of NPS (0-10), CSAT (1-5) and CES (1-7), with a comment."""

    scope = "account"

    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.CASCADE,
        related_name="survey_responses",
        verbose_name=_("account"),
        db_index=False,  # the (account, responded_at) index serves lookups by account
    )
    contact = models.ForeignKey(
        "customers.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_responses",
        verbose_name=_("contact"),
    )
    stage = models.CharField(_("stage"), max_length=16, choices=SurveyStage.choices)
    nps = models.PositiveSmallIntegerField(
        _("NPS"), null=True, blank=True, validators=[MaxValueValidator(10)], help_text=_("0 to 10")
    )
    csat = models.PositiveSmallIntegerField(
        _("CSAT"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("1 to 5"),
    )
    ces = models.PositiveSmallIntegerField(
        _("CES"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(7)],
        help_text=_("1 to 7"),
    )
    comment = models.TextField(_("comment"), blank=True)
    responded_at = models.DateTimeField(_("responded"), db_index=True)
    ticket = models.ForeignKey(
        "engagement.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_responses",
        verbose_name=_("ticket"),
    )
    # History is read by response id and by contact (GDPR erasure), which keep their indexes.
    history = HistoricalRecords(no_db_index=history_without_indexes("account", "ticket", "responded_at"))

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        indexes = [models.Index(fields=["account", "responded_at"])]
        constraints = [external_key()]

    def clean(self) -> None:
        if self.nps is None and self.csat is None and self.ces is None:
            raise ValidationError(_("A survey response needs at least one of NPS, CSAT or CES."))

    @property
    def nps_category(self) -> str:
        """Return promoter, passive or detractor for the NPS answer ('' when there is none)."""
        if self.nps is None:
            return ""
        return "promoter" if self.nps >= 9 else "passive" if self.nps >= 7 else "detractor"

    def __str__(self) -> str:
        return f"{self.get_stage_display()} {self.responded_at:%Y-%m-%d}"
