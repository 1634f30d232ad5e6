"""Interactions: who logged them and in which capacity, their contact, and the filters users expect."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from patron.engagement import services
from patron.engagement.models import Interaction
from patron.errors import Invalid, NotFound
from tests.factories import AccountFactory, ContactFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db


def at(day):
    return timezone.make_aware(dt.datetime(2025, 3, day, 12))


@pytest.fixture
def account(member):
    member.job_function = "sales"
    member.save()
    return AccountFactory(owner=member)


def test_creating_fills_who_logged_it_and_as_what(api_for, member, account):
    response = api_for(member).post(
        "/interactions",
        {"account_id": account.pk, "channel": "phone", "occurred_at": "2025-03-14T09:00:00Z", "subject": "Call"},
    )
    assert response.status_code == 201
    assert (response.json()["logged_by_id"], response.json()["logged_as"]) == (member.pk, "sales")


def test_logging_for_someone_else_takes_their_job_function(api_for, member, account):
    agent = UserFactory(job_function="service")
    response = api_for(member).post(
        "/interactions",
        {
            "account_id": account.pk,
            "channel": "chat",
            "occurred_at": "2025-03-14T09:00:00Z",
            "subject": "Chat",
            "logged_by_id": agent.pk,
        },
    )
    assert (response.json()["logged_by_id"], response.json()["logged_as"]) == (agent.pk, "service")


def test_log_interaction_service_logs_as_the_user(member, account):
    contact = ContactFactory(account=account)
    interaction = services.log_interaction(
        member,
        account.pk,
        {
            "channel": "phone",
            "direction": "inbound",
            "occurred_at": at(14),
            "subject": "Solved a login problem",
            "summary": "",
            "outcome": "resolved",
            "contact_id": contact.pk,
            "logged_as": "marketing",
        },
    )
    interaction.refresh_from_db()
    assert (interaction.logged_by, interaction.logged_as, interaction.contact) == (member, "sales", contact)
    assert interaction.history.latest().history_user == member


def test_log_interaction_refuses_accounts_the_user_cannot_see(member, outsider):
    hidden = AccountFactory(owner=outsider)
    with pytest.raises(NotFound):
        services.log_interaction(member, hidden.pk, {"channel": "phone", "occurred_at": at(14), "subject": "x"})
    assert not Interaction.objects.exists()


def test_a_contact_of_another_account_is_a_422(api_for, member, account):
    stranger = ContactFactory(account=AccountFactory(owner=member))
    response = api_for(member).post(
        "/interactions",
        {
            "account_id": account.pk,
            "contact_id": stranger.pk,
            "channel": "email",
            "occurred_at": "2025-03-14T09:00:00Z",
            "subject": "Mail",
        },
    )
    assert response.status_code == 422
    assert response.json()["field"] == "contact_id"
    with pytest.raises(Invalid):
        services.log_interaction(
            member, account.pk, {"channel": "email", "occurred_at": at(1), "subject": "x", "contact_id": stranger.pk}
        )


def test_filters_by_channel_direction_time_and_logger(api_for, member, account):
    wanted = InteractionFactory(
        account=account, channel="phone", direction="inbound", occurred_at=at(10), logged_by=member
    )
    InteractionFactory(account=account, channel="phone", direction="outbound", occurred_at=at(10), logged_by=member)
    InteractionFactory(account=account, channel="email", direction="inbound", occurred_at=at(10), logged_by=member)
    InteractionFactory(account=account, channel="phone", direction="inbound", occurred_at=at(20), logged_by=member)
    InteractionFactory(account=account, channel="phone", direction="inbound", occurred_at=at(10))
    response = api_for(member).get(
        f"/interactions?account_id={account.pk}&channel=phone&direction=inbound&occurred_from=2025-03-09T00:00:00"
        f"&occurred_to=2025-03-11T00:00:00&logged_by_id={member.pk}"
    )
    assert [i["id"] for i in response.json()["items"]] == [wanted.pk]


def test_search_and_sort_by_time(api_for, member, account):
    late = InteractionFactory(account=account, occurred_at=at(20), subject="Renewal call")
    early = InteractionFactory(account=account, occurred_at=at(2), subject="Renewal email")
    InteractionFactory(account=account, occurred_at=at(3), subject="Kick-off")
    response = api_for(member).get("/interactions?q=renewal&order=occurred_at")
    assert [i["id"] for i in response.json()["items"]] == [early.pk, late.pk]
