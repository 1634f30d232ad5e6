"""API shapes of campaigns, leads and deals (with their stage history)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from django.db.models import Q
from ninja import FilterSchema, Schema
from pydantic import Field

from patron.core.schemas import lookup
from patron.engagement.models import Channel
from patron.pipeline.models import DealKind, DealStage, LeadStatus

ExternalId = Annotated[str | None, Field(None, max_length=100)]
Currency = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


# Campaigns


class CampaignOut(Schema):
    id: int
    external_id: str | None
    name: str
    channel: Channel
    cost: Decimal
    currency: str
    starts_on: date
    ends_on: date | None
    created_at: datetime
    updated_at: datetime


class CampaignIn(Schema):
    external_id: ExternalId = None
    name: str = Field(..., min_length=1, max_length=200)
    channel: Channel
    cost: Amount = Decimal(0)
    currency: Currency = "EUR"
    starts_on: date
    ends_on: date | None = None


class CampaignPatch(Schema):
    external_id: ExternalId = None
    name: str | None = Field(None, min_length=1, max_length=200)
    channel: Channel | None = None
    cost: Amount | None = None
    currency: Currency | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class CampaignFilters(FilterSchema):
    channel: Channel | None = None
    starts_from: Annotated[date | None, lookup("starts_on__gte")] = None
    starts_to: Annotated[date | None, lookup("starts_on__lte")] = None
    external_id: str | None = None


# Leads


class LeadOut(Schema):
    id: int
    external_id: str | None
    name: str
    company: str
    email: str
    phone: str
    campaign_id: int | None
    source: str
    status: LeadStatus
    industry: str
    size_band: str
    country: str
    fit_score: int | None
    owner_id: int | None
    team_id: int | None
    converted_account_id: int | None
    created_at: datetime
    updated_at: datetime


class LeadIn(Schema):
    external_id: ExternalId = None
    name: str = Field(..., min_length=1, max_length=200)
    company: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    campaign_id: int | None = None
    campaign_external_id: str | None = None
    source: str = Field("", max_length=80)
    status: LeadStatus = LeadStatus.NEW
    industry: str = Field("", max_length=80)
    size_band: str = Field("", max_length=16)
    country: str = Field("", max_length=2)
    fit_score: int | None = Field(None, ge=0, le=100)
    owner_id: int | None = None
    team_id: int | None = None
    converted_account_id: int | None = None


class LeadPatch(Schema):
    external_id: ExternalId = None
    name: str | None = Field(None, min_length=1, max_length=200)
    company: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    campaign_id: int | None = None
    campaign_external_id: str | None = None
    source: str | None = Field(None, max_length=80)
    status: LeadStatus | None = None
    industry: str | None = Field(None, max_length=80)
    size_band: str | None = Field(None, max_length=16)
    country: str | None = Field(None, max_length=2)
    fit_score: int | None = Field(None, ge=0, le=100)
    owner_id: int | None = None
    team_id: int | None = None
    converted_account_id: int | None = None


class LeadFilters(FilterSchema):
    status: LeadStatus | None = None
    campaign_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None
    source: Annotated[str | None, lookup("source__iexact")] = None
    country: Annotated[str | None, lookup("country__iexact")] = None
    email: Annotated[str | None, lookup("email__iexact")] = None
    external_id: str | None = None


# Deals


class DealStageChangeOut(Schema):
    id: int
    stage: DealStage
    entered_at: datetime
    changed_by_id: int | None


class DealOut(Schema):
    id: int
    external_id: str | None
    account_id: int
    account_name: str = Field(alias="account.name")
    name: str
    kind: DealKind
    stage: DealStage
    amount: Decimal
    currency: str
    expected_close: date | None
    closed_on: date | None
    owner_id: int | None
    lead_id: int | None
    campaign_id: int | None
    close_reason: str
    created_at: datetime
    updated_at: datetime


class DealDetailOut(DealOut):
    stage_history: list[DealStageChangeOut]


class DealIn(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    name: str = Field(..., min_length=1, max_length=200)
    kind: DealKind = DealKind.NEW_BUSINESS
    stage: DealStage = DealStage.QUALIFICATION
    amount: Amount = Decimal(0)
    currency: Currency = "EUR"
    expected_close: date | None = None
    closed_on: date | None = Field(None, description="Today, when the deal is won or lost without a date.")
    owner_id: int | None = Field(None, description="You, when not given.")
    lead_id: int | None = None
    lead_external_id: str | None = None
    campaign_id: int | None = None
    campaign_external_id: str | None = None
    close_reason: str = Field("", max_length=200, description="Required when the deal is won or lost.")


class DealPatch(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: DealKind | None = None
    stage: DealStage | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    expected_close: date | None = None
    closed_on: date | None = None
    owner_id: int | None = None
    lead_id: int | None = None
    lead_external_id: str | None = None
    campaign_id: int | None = None
    campaign_external_id: str | None = None
    close_reason: str | None = Field(None, max_length=200)


class DealStageIn(Schema):
    stage: DealStage
    close_reason: str = Field("", max_length=200, description="Required for won and lost.")
    closed_on: date | None = None


class DealFilters(FilterSchema):
    account_id: int | None = None
    stage: DealStage | None = None
    owner_id: int | None = None
    kind: DealKind | None = None
    campaign_id: int | None = None
    lead_id: int | None = None
    open: bool | None = Field(None, description="true: deals not yet won or lost; false: closed deals.")
    expected_close_from: Annotated[date | None, lookup("expected_close__gte")] = None
    expected_close_to: Annotated[date | None, lookup("expected_close__lte")] = None
    closed_from: Annotated[date | None, lookup("closed_on__gte")] = None
    closed_to: Annotated[date | None, lookup("closed_on__lte")] = None
    external_id: str | None = None

    def filter_open(self, value: bool | None) -> Q:
        """Open deals are those not won or lost."""
        closed = Q(stage__in=[DealStage.WON, DealStage.LOST])
        return Q() if value is None else (~closed if value else closed)
