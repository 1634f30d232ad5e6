"""API shapes of survey responses: NPS, CSAT and CES at each stage of the customer's life."""

from datetime import datetime
from typing import Annotated, Literal

from django.db.models import Q
from ninja import FilterSchema, Schema
from pydantic import Field

from patron.core.schemas import AwareDateTime, lookup
from patron.feedback.models import SurveyStage

ExternalId = Annotated[str | None, Field(None, max_length=100)]
Nps = Annotated[int | None, Field(None, ge=0, le=10)]
Csat = Annotated[int | None, Field(None, ge=1, le=5)]
Ces = Annotated[int | None, Field(None, ge=1, le=7)]
NPS_CATEGORIES = {
    "promoter": Q(nps__gte=9),
    "passive": Q(nps__gte=7, nps__lte=8),
    "detractor": Q(nps__lte=6),
}


class SurveyResponseOut(Schema):
    id: int
    external_id: str | None
    account_id: int
    account_name: str = Field(alias="account.name")
    contact_id: int | None
    stage: SurveyStage
    nps: int | None
    nps_category: str
    csat: int | None
    ces: int | None
    comment: str
    responded_at: datetime
    ticket_id: int | None
    created_at: datetime
    updated_at: datetime


class SurveyResponseIn(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    contact_id: int | None = None
    contact_external_id: str | None = None
    stage: SurveyStage
    nps: Nps = None
    csat: Csat = None
    ces: Ces = None
    comment: str = ""
    responded_at: AwareDateTime
    ticket_id: int | None = None
    ticket_external_id: str | None = None


class SurveyResponsePatch(Schema):
    external_id: ExternalId = None
    account_id: int | None = None
    account_external_id: str | None = None
    contact_id: int | None = None
    contact_external_id: str | None = None
    stage: SurveyStage | None = None
    nps: Nps = None
    csat: Csat = None
    ces: Ces = None
    comment: str | None = None
    responded_at: AwareDateTime | None = None
    ticket_id: int | None = None
    ticket_external_id: str | None = None


class SurveyResponseFilters(FilterSchema):
    account_id: int | None = None
    contact_id: int | None = None
    ticket_id: int | None = None
    stage: SurveyStage | None = None
    responded_from: Annotated[AwareDateTime | None, lookup("responded_at__gte")] = None
    responded_to: Annotated[AwareDateTime | None, lookup("responded_at__lte")] = None
    nps_category: Literal["promoter", "passive", "detractor"] | None = None
    external_id: str | None = None

    def filter_nps_category(self, value: str | None) -> Q:
        """Promoters answered 9-10, passives 7-8, detractors 0-6."""
        return NPS_CATEGORIES[value] if value else Q()
