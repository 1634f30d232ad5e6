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
    assert body["next_cursor"] is None


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
    rest = api.get(f"/accounts/{account.pk}/timeline", data={"limit": 5, "cursor": first["next_cursor"]}).json()
    assert [i["kind"] for i in rest["items"]] == ["interaction", "order", "survey"]
    assert rest["next_cursor"] is None
    older = api.get(f"/accounts/{account.pk}/timeline", data={"before": at(8, 13).isoformat()}).json()["items"]
    assert [i["kind"] for i in older] == ["interaction", "order", "survey"]


def test_pages_lose_no_item_that_shares_a_time_with_the_end_of_a_page(api_for, member, account):
    # A busy moment: several calls, a ticket and an order-day noon all at the same instant.
    same = at(7)
    for n in range(4):
        InteractionFactory(account=account, channel="phone", occurred_at=same, subject=f"Same {n}")
    TicketFactory(account=account, channel="chat", opened_at=same, subject="Same ticket")
    api = api_for(member)
    everything = api.get(f"/accounts/{account.pk}/timeline", data={"limit": 500}).json()["items"]
    seen, cursor = [], None
    while True:
        page = api.get(f"/accounts/{account.pk}/timeline", data={"limit": 2, **({"cursor": cursor} if cursor else {})})
        body = page.json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [(i["kind"], i["id"]) for i in seen] == [(i["kind"], i["id"]) for i in everything]
    assert len(everything) == 10


@pytest.mark.parametrize("cursor", ["2025-03-07T12:00:00+00:00", "yesterday~order~1", "2025-03-07T12:00:00~call~1"])
def test_a_forged_cursor_is_a_422_on_cursor(api_for, member, account, cursor):
    response = api_for(member).get(f"/accounts/{account.pk}/timeline", data={"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["field"] == "cursor"


@pytest.mark.parametrize(
    ("query", "field"), [("kinds=calls", "kinds"), ("channels=telepathy", "channels"), ("limit=0", "limit")]
)
def test_unknown_kinds_and_channels_are_a_422(api_for, member, account, query, field):
    response = api_for(member).get(f"/accounts/{account.pk}/timeline?{query}")
    assert response.status_code == 422
    assert response.json()["field"] == field
