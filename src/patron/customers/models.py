"""Accounts, contacts, products, orders and subscriptions: who the customers are and what they buy."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from patron.core.fields import External, TimeStamped, external_key, history_without_indexes, owner_field, team_field


class AccountKind(models.TextChoices):
    COMPANY = "company", _("Company")
    PERSON = "person", _("Person")


class SizeBand(models.TextChoices):
    MICRO = "1-9", _("1–9 employees")
    SMALL = "10-49", _("10–49 employees")
    MEDIUM = "50-249", _("50–249 employees")
    LARGE = "250-999", _("250–999 employees")
    ENTERPRISE = "1000+", _("1,000+ employees")


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    ONBOARDING = "onboarding", _("Onboarding")
    ACTIVE = "active", _("Active")
    AT_RISK = "at_risk", _("At risk")
    CHURNED = "churned", _("Churned")


class Account(External, TimeStamped):
    """A customer: a company (B2B) or a person (B2C)."""

    scope = "owned"

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind.choices, default=AccountKind.COMPANY)
    industry = models.CharField(_("industry"), max_length=80, blank=True)
    size_band = models.CharField(_("size band"), max_length=16, choices=SizeBand.choices, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166 code"))
    region = models.CharField(_("region"), max_length=80, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    # The (owner, id) and (team, id) indexes below serve every lookup by owner or team.
    owner = owner_field(db_index=False)
    team = team_field(db_index=False)
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE
    )
    history = HistoricalRecords(
        no_db_index=history_without_indexes("name", "industry", "country", "lifecycle_stage", "owner", "team")
    )

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        # Text columns are indexed here rather than with db_index=True, which on PostgreSQL adds a second
        # varchar_pattern_ops index to each for LIKE 'x%' queries that nothing runs.
        indexes = [
            models.Index(fields=["owner", "id"]),
            models.Index(fields=["team", "id"]),
            models.Index(fields=["name"], name="customers_account_name"),
            models.Index(fields=["industry"], name="customers_account_industry"),
            models.Index(fields=["country"], name="customers_account_country"),
            models.Index(fields=["lifecycle_stage"], name="customers_account_lifecycle"),
        ]
        constraints = [external_key()]

    def __str__(self) -> str:
        return self.name


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("Decision maker")
    CHAMPION = "champion", _("Champion")
    INFLUENCER = "influencer", _("Influencer")
    USER = "user", _("User")
    BILLING = "billing", _("Billing")
    TECHNICAL = "technical", _("Technical")
    OTHER = "other", _("Other")


class Contact(External, TimeStamped):
    """A person at an account (for a B2C account, usually the customer themself)."""

    scope = "account"

    # No index of its own: the (account, id) index serves lookups by account.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("account"), db_index=False
    )
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    # Unique regardless of case through the Lower("email") constraint below, which is also the index that
    # lookups by e-mail use (they compare Lower("email")).
    email = models.EmailField(_("email"), max_length=254, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    title = models.CharField(_("title"), max_length=120, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=ContactRole.choices, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    email_opt_out = models.BooleanField(_("email opt-out"), default=False)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True)
    # History is read by contact id (the GDPR export and erasure, the admin), which keeps its index.
    history = HistoricalRecords(no_db_index=history_without_indexes("email", "account"))

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        # On PostgreSQL, migration 0005 adds the search indexes: one trigram index over first name, last name
        # and e-mail together, and prefix indexes on UPPER(first_name) and UPPER(last_name) for short words.
        indexes = [models.Index(fields=["account", "id"]), models.Index(fields=["last_name", "id"])]
        constraints = [
            external_key(),
            # Emails identify people across imports; "Ann@X.com" and "ann@x.com" are the same person.
            models.UniqueConstraint(
                Lower("email"),
                name="contact_email_ci_unique",
                violation_error_code="unique",
                violation_error_message=_("A contact with this email already exists."),
            ),
        ]

    @property
    def name(self) -> str:
        """Return the contact's full name."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or (self.email or "")

    def __str__(self) -> str:
        return self.name


class Product(External, TimeStamped):
    """Something the company sells; the product group drives cross-sell analysis."""

    scope = "shared"

    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    product_group = models.CharField(_("product group"), max_length=80, blank=True)
    history = HistoricalRecords(no_db_index=history_without_indexes("sku", "product_group"))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = [models.Index(fields=["product_group"], name="customers_product_group")]
        constraints = [
            external_key(),
            models.UniqueConstraint(fields=["sku"], name="customers_product_sku_unique", violation_error_code="unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class SalesChannel(models.TextChoices):
    DIRECT = "direct", _("Direct sales")
    ONLINE = "online", _("Online")
    PARTNER = "partner", _("Partner")
    STORE = "store", _("Store")
    PHONE = "phone", _("Phone")


class Order(External, TimeStamped):
    """A purchase by an account; its amount is the sum of its lines when it has lines."""

    scope = "account"

    # No index of its own: the (account, ordered_at) index serves lookups by account.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="orders", verbose_name=_("account"), db_index=False
    )
    ordered_at = models.DateField(_("date"), db_index=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    channel = models.CharField(_("channel"), max_length=16, choices=SalesChannel.choices, default=SalesChannel.DIRECT)
    history = HistoricalRecords(no_db_index=history_without_indexes("account", "ordered_at"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [models.Index(fields=["account", "ordered_at"])]
        constraints = [external_key()]

    def __str__(self) -> str:
        return f"{self.ordered_at} {self.amount} {self.currency}"


class OrderLine(TimeStamped):
    """One product on an order."""

    scope = "order__account"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="order_lines",
        verbose_name=_("product"),
    )
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3, default=Decimal(1))
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    history = HistoricalRecords(no_db_index=history_without_indexes("order", "product"))

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")


class SubscriptionStatus(models.TextChoices):
    TRIAL = "trial", _("Trial")
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Past due")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


class Subscription(External, TimeStamped):
    """A recurring contract: what an account pays each month for a product."""

    scope = "account"

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="subscriptions", verbose_name=_("account")
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subscriptions",
        verbose_name=_("product"),
    )
    monthly_amount = models.DecimalField(
        _("monthly amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    started_on = models.DateField(_("start"))
    ends_on = models.DateField(_("end"), null=True, blank=True)
    renews_on = models.DateField(_("renewal date"), null=True, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    history = HistoricalRecords(no_db_index=history_without_indexes("account", "product", "renews_on"))

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [external_key()]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.ends_on and self.started_on and self.ends_on < self.started_on:
            raise ValidationError({"ends_on": _("The end date is before the start date.")})

    def __str__(self) -> str:
        return f"{self.product or ''} {self.monthly_amount}/{_('month')}"
