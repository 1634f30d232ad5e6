"""API shapes of accounts, contacts, products, orders and subscriptions."""

from datetime import datetime

from ninja import Schema
from pydantic import Field

from patron.customers.models import AccountKind, LifecycleStage, SizeBand


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
    external_id: str | None = Field(None, max_length=100)
    name: str = Field(..., min_length=1, max_length=200)
    kind: AccountKind = AccountKind.COMPANY
    industry: str = Field("", max_length=80)
    size_band: SizeBand | None = None
    country: str = Field("", max_length=2)
    region: str = Field("", max_length=80)
    website: str = Field("", max_length=200)
    owner_id: int | None = None
    team_id: int | None = None
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE


class AccountPatch(Schema):
    external_id: str | None = Field(None, max_length=100)
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: AccountKind | None = None
    industry: str | None = Field(None, max_length=80)
    size_band: SizeBand | None = None
    country: str | None = Field(None, max_length=2)
    region: str | None = Field(None, max_length=80)
    website: str | None = Field(None, max_length=200)
    owner_id: int | None = None
    team_id: int | None = None
    lifecycle_stage: LifecycleStage | None = None


class AccountFilters(Schema):
    owner_id: int | None = None
    team_id: int | None = None
    industry: str | None = None
    country: str | None = None
    kind: AccountKind | None = None
    lifecycle_stage: LifecycleStage | None = None
