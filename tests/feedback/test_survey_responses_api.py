"""Survey responses: at least one score, from the account's own contact, filtered by stage, time and NPS group."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import AccountFactory, ContactFactory, SurveyResponseFactory, TicketFactory

pytestmark = pytest.mark.django_db


def at(day):
    return timezone.make_aware(dt.datetime(2025, 3, day, 12))


@pytest.fixture
def account(member):
    return AccountFactory(owner=member)


def test_a_response_needs_a_score(api_for, member, account):
    response = api_for(member).post(
        "/survey-responses", {"account_id": account.pk, "stage": "qbr", "responded_at": "2025-03-14T10:00:00Z"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "nps"


def test_the_contact_and_ticket_must_be_the_accounts_own(api_for, member, account):
    other = AccountFactory(owner=member)
    base = {"account_id": account.pk, "stage": "after_ticket", "csat": 4, "responded_at": "2025-03-14T10:00:00Z"}
    api = api_for(member)
    assert api.post("/survey-responses", {**base, "contact_id": ContactFactory(account=other).pk}).json()["field"] == (
        "contact_id"
    )
    assert api.post("/survey-responses", {**base, "ticket_id": TicketFactory(account=other).pk}).json()["field"] == (
        "ticket_id"
    )
    ticket = TicketFactory(account=account)
    assert api.post("/survey-responses", {**base, "ticket_id": ticket.pk}).status_code == 201


def test_filters_by_stage_time_and_nps_group(api_for, member, account):
    promoter = SurveyResponseFactory(account=account, stage="renewal", nps=10, responded_at=at(10))
    SurveyResponseFactory(account=account, stage="renewal", nps=7, responded_at=at(10))
    SurveyResponseFactory(account=account, stage="qbr", nps=10, responded_at=at(10))
    SurveyResponseFactory(account=account, stage="renewal", nps=9, responded_at=at(25))
    response = api_for(member).get(
        f"/survey-responses?account_id={account.pk}&stage=renewal&nps_category=promoter"
        "&responded_from=2025-03-01T00:00:00Z&responded_to=2025-03-15T00:00:00Z"
    )
    body = response.json()["items"]
    assert [r["id"] for r in body] == [promoter.pk]
    assert body[0]["nps_category"] == "promoter"


def test_comments_are_searchable(api_for, member, account):
    wanted = SurveyResponseFactory(account=account, comment="Pricing is too high for us")
    SurveyResponseFactory(account=account, comment="Great onboarding")
    assert [r["id"] for r in api_for(member).get("/survey-responses?q=pricing").json()["items"]] == [wanted.pk]
