"""API shapes of interactions (the touchpoint log) and support tickets."""

from datetime import datetime
from typing import Annotated, Literal

from ninja import FilterSchema, Schema
from pydantic import Field

from patron.core.models import JobFunction
from patron.core.schemas import AwareDateTime, lookup
from patron.engagement.models import Channel, Direction, Outcome, Severity, TicketStatus

ExternalId = Annotated[str | None, Field(None, max_length=100)]


# Interactions


class InteractionOut(Schema):
    id: int
    external_id: str | None
    account_id: int
    account_name: str = Field(alias="account.name")
    contact_id: int | None
    contact_name: str | None = Field(None, alias="contact.name")
    channel: Channel
    direction: Direction
    occurred_at: datetime
    subject: str
    summary: str
    outcome: str
    logged_by_id: int | None
    logged_as: str
    created_at: datetime
    updated_at: datetime


class InteractionIn(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    contact_id: int | None = None
    contact_external_id: str | None = None
    channel: Channel
    direction: Direction = Direction.OUTBOUND
    occurred_at: AwareDateTime
    subject: str = Field(..., min_length=1, max_length=200)
    summary: str = ""
    outcome: Outcome | Literal[""] = ""
    logged_by_id: int | None = Field(None, description="Who logged it; you, when not given.")
    logged_as: JobFunction | Literal[""] | None = Field(None, description="Defaults to the logger's job function.")


class InteractionPatch(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    contact_id: int | None = None
    contact_external_id: str | None = None
    channel: Channel | None = None
    direction: Direction | None = None
    occurred_at: AwareDateTime | None = None
    subject: str | None = Field(None, min_length=1, max_length=200)
    summary: str | None = None
    outcome: Outcome | Literal[""] | None = None
    logged_by_id: int | None = None
    logged_as: JobFunction | Literal[""] | None = None


class InteractionFilters(FilterSchema):
    account_id: int | None = None
    contact_id: int | None = None
    channel: Channel | None = None
    direction: Direction | None = None
    outcome: Outcome | None = None
    occurred_from: Annotated[AwareDateTime | None, lookup("occurred_at__gte")] = None
    occurred_to: Annotated[AwareDateTime | None, lookup("occurred_at__lte")] = None
    logged_by_id: int | None = None
    logged_as: JobFunction | None = None
    external_id: str | None = None


# Tickets


class TicketOut(Schema):
    id: int
    external_id: str | None
    account_id: int
    account_name: str = Field(alias="account.name")
    contact_id: int | None
    contact_name: str | None = Field(None, alias="contact.name")
    subject: str
    description: str
    channel: Channel
    opened_at: datetime
    resolved_at: datetime | None
    severity: Severity
    category: str
    status: TicketStatus
    handled_by_id: int | None
    handled_as: str
    created_at: datetime
    updated_at: datetime


class TicketIn(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    contact_id: int | None = None
    contact_external_id: str | None = None
    subject: str = Field(..., min_length=1, max_length=200)
    description: str = ""
    channel: Channel = Channel.EMAIL
    opened_at: AwareDateTime | None = Field(None, description="Now, when not given.")
    resolved_at: AwareDateTime | None = Field(None, description="Set when the ticket is resolved or closed.")
    severity: Severity = Severity.NORMAL
    category: str = Field("", max_length=80)
    status: TicketStatus = TicketStatus.OPEN
    handled_by_id: int | None = None
    handled_as: JobFunction | Literal[""] | None = Field(None, description="Defaults to the handler's job function.")


class TicketPatch(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    contact_id: int | None = None
    contact_external_id: str | None = None
    subject: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    channel: Channel | None = None
    opened_at: AwareDateTime | None = None
    resolved_at: AwareDateTime | None = None
    severity: Severity | None = None
    category: str | None = Field(None, max_length=80)
    status: TicketStatus | None = None
    handled_by_id: int | None = None
    handled_as: JobFunction | Literal[""] | None = None


class TicketFilters(FilterSchema):
    account_id: int | None = None
    contact_id: int | None = None
    status: TicketStatus | None = None
    severity: Severity | None = None
    category: Annotated[str | None, lookup("category__iexact")] = Field(None, description="In any case.")
    account_name: Annotated[str | None, lookup("account__name__icontains")] = Field(
        None, description="Part of the account's name, in any case."
    )
    channel: Channel | None = None
    handled_by_id: int | None = None
    opened_from: Annotated[AwareDateTime | None, lookup("opened_at__gte")] = None
    opened_to: Annotated[AwareDateTime | None, lookup("opened_at__lte")] = None
    external_id: str | None = None
