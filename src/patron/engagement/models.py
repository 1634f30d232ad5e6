"""The touchpoint log: every interaction on every channel, and support tickets."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from patron.core.fields import External, TimeStamped, external_key, history_without_indexes
from patron.core.models import JobFunction


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    VIDEO = "video", _("Video call")
    MEETING = "meeting", _("Meeting")
    IN_PERSON = "in_person", _("In person")
    SOCIAL = "social", _("Social")
    CHAT = "chat", _("Chat")
    WEB = "web", _("Web")
    EVENT = "event", _("Event")
    LETTER = "letter", _("Letter")
    FAX = "fax", _("Fax")
    SMS = "sms", _("SMS")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class Outcome(models.TextChoices):
    COMPLETED = "completed", _("Completed")
    NO_ANSWER = "no_answer", _("No answer")
    FOLLOW_UP = "follow_up", _("Follow-up needed")
    RESOLVED = "resolved", _("Issue resolved")
    SCHEDULED = "scheduled", _("Meeting scheduled")
    NOT_INTERESTED = "not_interested", _("Not interested")


class Interaction(External, TimeStamped):
    """One touchpoint with a customer, on any channel, logged by sales, service, success or marketing."""

    scope = "account"

    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.CASCADE,
        related_name="interactions",
        verbose_name=_("account"),
        db_index=False,  # the (account, occurred_at) index serves lookups by account
    )
    contact = models.ForeignKey(
        "customers.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
        verbose_name=_("contact"),
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    occurred_at = models.DateTimeField(_("when"))
    subject = models.CharField(_("subject"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("logged by"),
    )
    logged_as = models.CharField(_("logged as"), max_length=32, choices=JobFunction.choices, blank=True)
    # History is read by interaction id and by contact (GDPR erasure), which keep their indexes.
    history = HistoricalRecords(no_db_index=history_without_indexes("account", "logged_by"))

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [
            models.Index(fields=["account", "occurred_at"]),
            models.Index(fields=["occurred_at", "id"]),
        ]
        constraints = [external_key()]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.subject}"


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class Ticket(External, TimeStamped):
    """A support request, including the small problem a salesperson solved on the phone."""

    scope = "account"

    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.CASCADE,
        related_name="tickets",
        verbose_name=_("account"),
        db_index=False,  # the (account, opened_at) index serves lookups by account
    )
    contact = models.ForeignKey(
        "customers.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("contact"),
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    opened_at = models.DateTimeField(_("opened"), db_index=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.NORMAL)
    category = models.CharField(_("category"), max_length=80, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=TicketStatus.choices, default=TicketStatus.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    handled_as = models.CharField(_("handled as"), max_length=32, choices=JobFunction.choices, blank=True)
    # History is read by ticket id and by contact (GDPR erasure), which keep their indexes.
    history = HistoricalRecords(no_db_index=history_without_indexes("account", "handled_by", "opened_at", "status"))

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        # The status is indexed here rather than with db_index=True, which on PostgreSQL adds an unused
        # varchar_pattern_ops twin.
        indexes = [
            models.Index(fields=["account", "opened_at"]),
            models.Index(fields=["status"], name="engagement_ticket_status"),
        ]
        constraints = [external_key()]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.resolved_at and self.opened_at and self.resolved_at < self.opened_at:
            raise ValidationError({"resolved_at": _("A ticket cannot be resolved before it was opened.")})

    def __str__(self) -> str:
        return self.subject
