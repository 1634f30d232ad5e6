"""API shapes of accounts, contacts, products, orders and subscriptions.

``…In`` shapes create a record (and each line of an NDJSON upsert), ``…Patch`` change some of its fields,
``…Out`` answer, ``…Filters`` narrow a list and its CSV export. A reference to another record takes its id
(``account_id``) or the id it has in the system it came from (``account_external_id``).
"""

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.db.models import Q
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from ninja import FilterSchema, Schema
from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from patron.core.schemas import AwareDateTime, lookup
from patron.customers.models import (
    AccountKind,
    ContactRole,
    LifecycleStage,
    SalesChannel,
    SizeBand,
    SubscriptionStatus,
)
from patron.customers.services import TIMELINE_KINDS
from patron.engagement.models import Channel

Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]
Currency = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
ExternalId = Annotated[str | None, Field(None, max_length=100)]


def upper_code(value: Any) -> Any:
    """Return a country code trimmed and upper-cased, as it is stored (so the filter uses the index)."""
    return value.strip().upper() if isinstance(value, str) else value


def lower_email(value: Any) -> Any:
    """Return an email address trimmed and lower-cased (emails are matched case-insensitively)."""
    return value.strip().lower() if isinstance(value, str) else value


# Accounts


class AccountOut(Schema):
    id: int
    external_id: str | None
    name: str
    kind: AccountKind
    industry: str
    size_band: str
    country: str
    region: str
    website: str
    owner_id: int | None
    team_id: int | None
    lifecycle_stage: LifecycleStage
    created_at: datetime
    updated_at: datetime


class AccountIn(Schema):
    external_id: ExternalId = None
    name: str = Field(..., min_length=1, max_length=200)
    kind: AccountKind = AccountKind.COMPANY
    industry: str = Field("", max_length=80)
    size_band: SizeBand | Literal[""] = ""
    country: str = Field("", max_length=2)
    region: str = Field("", max_length=80)
    website: str = Field("", max_length=200)
    owner_id: int | None = None
    team_id: int | None = None
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE

    _country = field_validator("country", mode="before")(upper_code)


class AccountPatch(Schema):
    external_id: ExternalId = None
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: AccountKind | None = None
    industry: str | None = Field(None, max_length=80)
    size_band: SizeBand | Literal[""] | None = None
    country: str | None = Field(None, max_length=2)
    region: str | None = Field(None, max_length=80)
    website: str | None = Field(None, max_length=200)
    owner_id: int | None = None
    team_id: int | None = None
    lifecycle_stage: LifecycleStage | None = None

    _country = field_validator("country", mode="before")(upper_code)


class AccountFilters(FilterSchema):
    owner_id: int | None = None
    team_id: int | None = None
    industry: Annotated[str | None, lookup("industry__iexact")] = None
    country: str | None = Field(None, description="ISO 3166 code, in any case.")
    kind: AccountKind | None = None
    lifecycle_stage: LifecycleStage | None = None
    external_id: str | None = None

    _country = field_validator("country", mode="before")(upper_code)


# Contacts


class ContactOut(Schema):
    id: int
    external_id: str | None
    account_id: int
    account_name: str = Field(alias="account.name")
    first_name: str
    last_name: str
    name: str
    email: str | None
    phone: str
    title: str
    role: str
    language: str
    email_opt_out: bool
    do_not_contact: bool
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContactIn(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    email: str | None = Field(None, max_length=254)
    phone: str = Field("", max_length=40)
    title: str = Field("", max_length=120)
    role: ContactRole | Literal[""] = ""
    language: str = Field("", max_length=10)
    email_opt_out: bool = False
    do_not_contact: bool = False

    _email = field_validator("email", mode="before")(lower_email)


class ContactPatch(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    title: str | None = Field(None, max_length=120)
    role: ContactRole | Literal[""] | None = None
    language: str | None = Field(None, max_length=10)
    email_opt_out: bool | None = None
    do_not_contact: bool | None = None

    _email = field_validator("email", mode="before")(lower_email)


class ContactFilters(FilterSchema):
    account_id: int | None = None
    role: ContactRole | None = None
    email: str | None = None
    do_not_contact: bool | None = None
    email_opt_out: bool | None = None
    erased: bool | None = Field(None, description="true: only erased contacts; false: only contacts not erased.")
    external_id: str | None = None

    _email = field_validator("email", mode="before")(lower_email)

    def filter_erased(self, value: bool | None) -> Q:
        """Erased contacts are those with an erasure time."""
        return Q() if value is None else Q(erased_at__isnull=not value)

    def filter_email(self, value: str | None) -> Q:
        """Match the e-mail regardless of case, through the unique index on Lower(email)."""
        return Q(Exact(Lower("email"), value)) if value else Q()


# Products


class ProductOut(Schema):
    id: int
    external_id: str | None
    sku: str
    name: str
    product_group: str
    created_at: datetime
    updated_at: datetime


class ProductIn(Schema):
    external_id: ExternalId = None
    sku: str = Field(..., min_length=1, max_length=64)
    name: str = Field(..., min_length=1, max_length=200)
    product_group: str = Field("", max_length=80)


class ProductPatch(Schema):
    external_id: ExternalId = None
    sku: str | None = Field(None, min_length=1, max_length=64)
    name: str | None = Field(None, min_length=1, max_length=200)
    product_group: str | None = Field(None, max_length=80)


class ProductFilters(FilterSchema):
    product_group: Annotated[str | None, lookup("product_group__iexact")] = None
    sku: str | None = None
    external_id: str | None = None


# Orders and their lines


class OrderLineOut(Schema):
    id: int
    order_id: int
    product_id: int | None
    product_name: str | None = Field(None, alias="product.name")
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


class OrderLineItemIn(Schema):
    """A line given with its order (on create, upsert, or to replace the order's lines)."""

    product_id: int | None = None
    product_external_id: str | None = None
    quantity: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)] = Decimal(1)
    unit_price: Money
    amount: Money | None = Field(None, description="Defaults to quantity × unit price.")


class OrderLineIn(OrderLineItemIn):
    order_id: int | None = None
    order_external_id: str | None = None


class OrderLinePatch(Schema):
    product_id: int | None = None
    product_external_id: str | None = None
    quantity: Annotated[Decimal | None, Field(None, gt=0, max_digits=12, decimal_places=3)] = None
    unit_price: Money | None = None
    amount: Money | None = None


class OrderLineFilters(FilterSchema):
    order_id: int | None = None
    product_id: int | None = None


class OrderOut(Schema):
    id: int
    external_id: str | None
    account_id: int
    account_name: str = Field(alias="account.name")
    ordered_at: date
    amount: Decimal
    currency: str
    channel: SalesChannel
    lines: list[OrderLineOut]
    created_at: datetime
    updated_at: datetime


class OrderIn(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    ordered_at: date
    amount: Money | None = Field(None, description="Required without lines; with lines it is their sum.")
    currency: Currency = "EUR"
    channel: SalesChannel = SalesChannel.DIRECT
    lines: list[OrderLineItemIn] | None = None


class OrderPatch(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    ordered_at: date | None = None
    amount: Money | None = None
    currency: Currency | None = None
    channel: SalesChannel | None = None
    lines: list[OrderLineItemIn] | None = Field(None, description="Replaces all the order's lines.")


class OrderFilters(FilterSchema):
    account_id: int | None = None
    ordered_from: Annotated[date | None, lookup("ordered_at__gte")] = None
    ordered_to: Annotated[date | None, lookup("ordered_at__lte")] = None
    channel: SalesChannel | None = None
    currency: str | None = None
    external_id: str | None = None


# Subscriptions


class SubscriptionOut(Schema):
    id: int
    external_id: str | None
    account_id: int
    account_name: str = Field(alias="account.name")
    product_id: int | None
    product_name: str | None = Field(None, alias="product.name")
    monthly_amount: Decimal
    currency: str
    started_on: date
    ends_on: date | None
    renews_on: date | None
    status: SubscriptionStatus
    created_at: datetime
    updated_at: datetime


class SubscriptionIn(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    product_id: int | None = None
    product_external_id: str | None = None
    monthly_amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
    currency: Currency = "EUR"
    started_on: date
    ends_on: date | None = None
    renews_on: date | None = None
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE


class SubscriptionPatch(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    product_id: int | None = None
    product_external_id: str | None = None
    monthly_amount: Annotated[Decimal | None, Field(None, ge=0, max_digits=14, decimal_places=2)] = None
    currency: Currency | None = None
    started_on: date | None = None
    ends_on: date | None = None
    renews_on: date | None = None
    status: SubscriptionStatus | None = None


class SubscriptionFilters(FilterSchema):
    account_id: int | None = None
    product_id: int | None = None
    status: SubscriptionStatus | None = None
    renews_before: Annotated[date | None, lookup("renews_on__lt")] = Field(
        None, description="Renewal date before this day."
    )
    renews_from: Annotated[date | None, lookup("renews_on__gte")] = None
    renews_to: Annotated[date | None, lookup("renews_on__lte")] = None
    external_id: str | None = None


# The account timeline


def comma_list(value: Any) -> Any:
    """Accept ``a,b`` as well as repeated parameters for a list, dropping empty items."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    items = [part.strip() for v in values for part in str(v).split(",") if part.strip()]
    return items or None


def one_of(allowed: Sequence[str]) -> Any:
    """Return a validator that refuses items outside ``allowed``, naming them."""

    def check(items: list[str] | None) -> list[str] | None:
        unknown = [i for i in items or () if i not in allowed]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
        return items

    return check


class TimelineQuery(Schema):
    kinds: Annotated[list[str] | None, BeforeValidator(comma_list), AfterValidator(one_of(TIMELINE_KINDS))] = Field(
        None, description=f"Comma-separated, any of {', '.join(TIMELINE_KINDS)}; all when empty."
    )
    channels: Annotated[list[str] | None, BeforeValidator(comma_list), AfterValidator(one_of(Channel.values))] = Field(
        None, description="Comma-separated channels; only interactions and tickets have one."
    )
    before: AwareDateTime | None = Field(None, description="Only items older than this time.")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page: continue with older items.")
    limit: int = Field(50, ge=1, le=500)


class TimelineItemOut(Schema):
    kind: str = Field(description="interaction, ticket, order or survey")
    id: int
    occurred_at: datetime
    title: str
    detail: str
    channel: str


class TimelineOut(Schema):
    items: list[TimelineItemOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next, older items.")


# GDPR


class ContactData(Schema):
    """Everything held about one contact (a data subject access request)."""

    exported_at: str
    contact: dict[str, Any]
    account: dict[str, Any]
    interactions: list[dict[str, Any]]
    tickets: list[dict[str, Any]]
    survey_responses: list[dict[str, Any]]
    history: list[dict[str, Any]]
