"""An account's timeline through the API: newest first, filtered by kind and channel, paged by time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import AccountFactory, InteractionFactory, OrderFactory, SurveyResponseFactory, TicketFactory

pytestmark = pytest.mark.django_db


def at(day, hour=12):
    return timezone.make_aware(dt.datetime(2025, 3, day, hour))


@pytest.fixture
def account(member):
    account = AccountFactory(owner=member)
    InteractionFactory(account=account, channel="phone", occurred_at=at(10), subject="Call")
    InteractionFactory(account=account, channel="email", occurred_at=at(8), subject="Mail")
    TicketFactory(account=account, channel="phone", opened_at=at(9), subject="Ticket")
    OrderFactory(account=account, ordered_at=dt.date(2025, 3, 7))
    SurveyResponseFactory(account=account, responded_at=at(6))
    return account


def test_anonymous_and_hidden(api_for, outsider, account):
    assert api_for(None).get(f"/accounts/{account.pk}/timeline").status_code == 401
    assert api_for(outsider).get(f"/accounts/{account.pk}/timeline").status_code == 404


def test_timeline_merges_every_kind_newest_first(api_for, member, account):
    body = api_for(member).get(f"/accounts/{account.pk}/timeline").json()
    assert [i["kind"] for i in body["items"]] == ["interaction", "ticket", "interaction", "order", "survey"]
    assert body["next_before"] is None


def test_timeline_filters_by_kind_and_channel(api_for, member, account):
    api = api_for(member)
    kinds = api.get(f"/accounts/{account.pk}/timeline?kinds=ticket,survey").json()["items"]
    assert [i["kind"] for i in kinds] == ["ticket", "survey"]
    phone = api.get(f"/accounts/{account.pk}/timeline?channels=phone").json()["items"]
    assert [i["title"] for i in phone] == ["Call", "Ticket"]


def test_timeline_pages_by_time(api_for, member, account):
    api = api_for(member)
    first = api.get(f"/accounts/{account.pk}/timeline?limit=2").json()
    assert [i["title"] for i in first["items"]] == ["Call", "Ticket"]
    rest = api.get(f"/accounts/{account.pk}/timeline", data={"limit": 5, "before": first["next_before"]}).json()
    assert [i["kind"] for i in rest["items"]] == ["interaction", "order", "survey"]


@pytest.mark.parametrize(
    ("query", "field"), [("kinds=calls", "kinds"), ("channels=telepathy", "channels"), ("limit=0", "limit")]
)
def test_unknown_kinds_and_channels_are_a_422(api_for, member, account, query, field):
    response = api_for(member).get(f"/accounts/{account.pk}/timeline?{query}")
    assert response.status_code == 422
    assert response.json()["field"] == field
