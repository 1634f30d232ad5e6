"""Tickets: handled in the handler's job function, resolved when closed, and filtered the way support works."""

from __future__ import annotations

import pytest

from patron.engagement.models import Ticket
from tests.factories import AccountFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(member):
    return AccountFactory(owner=member)


def test_creating_takes_the_handlers_job_function_and_opens_now(api_for, member, account):
    seller = UserFactory(job_function="sales")
    response = api_for(member).post(
        "/tickets", {"account_id": account.pk, "subject": "Password reset", "handled_by_id": seller.pk}
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["handled_by_id"], body["handled_as"], body["status"]) == (seller.pk, "sales", "open")
    assert body["opened_at"] is not None


def test_handing_over_changes_the_capacity(api_for, member, account):
    ticket = TicketFactory(account=account, handled_by=UserFactory(job_function="sales"), handled_as="sales")
    agent = UserFactory(job_function="service")
    body = api_for(member).patch(f"/tickets/{ticket.pk}", {"handled_by_id": agent.pk}).json()
    assert body["handled_as"] == "service"


def test_resolving_sets_the_resolution_time_and_reopening_clears_it(api_for, member, account):
    ticket = TicketFactory(account=account)
    api = api_for(member)
    assert api.patch(f"/tickets/{ticket.pk}", {"status": "resolved"}).json()["resolved_at"] is not None
    assert api.patch(f"/tickets/{ticket.pk}", {"status": "open"}).json()["resolved_at"] is None


def test_filters_by_status_severity_category_and_handler(api_for, member, account):
    agent = UserFactory()
    wanted = TicketFactory(account=account, status="open", severity="critical", category="Billing", handled_by=agent)
    TicketFactory(account=account, status="closed", severity="critical", category="Billing", handled_by=agent)
    TicketFactory(account=account, status="open", severity="low", category="Billing", handled_by=agent)
    TicketFactory(account=account, status="open", severity="critical", category="Login", handled_by=agent)
    TicketFactory(account=account, status="open", severity="critical", category="Billing")
    response = api_for(member).get(
        f"/tickets?account_id={account.pk}&status=open&severity=critical&category=billing&handled_by_id={agent.pk}"
    )
    assert [t["id"] for t in response.json()["items"]] == [wanted.pk]


def test_a_resolution_before_the_opening_is_a_422(api_for, member, account):
    ticket = TicketFactory(account=account)
    response = api_for(member).patch(f"/tickets/{ticket.pk}", {"resolved_at": "2000-01-01T00:00:00Z"})
    assert response.status_code == 422
    assert response.json()["field"] == "resolved_at"
    assert Ticket.objects.get(pk=ticket.pk).resolved_at is None
