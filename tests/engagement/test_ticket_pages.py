"""The tickets list page: its filters are the API's ticket filters, and its export link gives the rows it shows."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patron.engagement.models import Severity, TicketStatus
from tests.factories import AccountFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(member, outsider, team, other_team):
    mine = AccountFactory(name="Müller Maschinenbau", owner=member, team=team)
    other = AccountFactory(name="Zeta Corp", owner=member, team=team)
    hidden = AccountFactory(name="Müller Hidden", owner=outsider, team=other_team)
    agent = UserFactory(username="agent")
    now = timezone.now()
    rows = [
        (mine, "Invoice address", TicketStatus.OPEN, Severity.NORMAL, "Billing", member),
        (mine, "Export button fails", TicketStatus.OPEN, Severity.HIGH, "Bug", agent),
        (mine, "Refund", TicketStatus.PENDING, Severity.LOW, "billing", None),
        (other, "Login loop", TicketStatus.PENDING, Severity.LOW, "Access", member),
        (other, "Invoice copy", TicketStatus.RESOLVED, Severity.NORMAL, "Billing", None),
        (hidden, "Invoice hidden", TicketStatus.OPEN, Severity.NORMAL, "Billing", member),
    ]
    for hours, (account, subject, status, severity, category, handler) in enumerate(rows):
        TicketFactory(
            account=account,
            subject=subject,
            status=status,
            severity=severity,
            category=category,
            handled_by=handler,
            opened_at=now - dt.timedelta(hours=hours),
        )
    return {"mine": mine, "other": other}


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_and_export(client: Client, params: dict) -> tuple[list[str], list[str]]:
    """Return the subjects the page shows and the subjects of the file its export link gives, in order."""
    page = client.get(reverse("engagement:ticket_list"), params)
    assert page.status_code == 200
    link = page.context["export_url"]
    assert f'href="{html.escape(link)}" download' in page.content.decode()
    exported = client.get(link)
    assert exported.status_code == 200, exported.content
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    return [t.subject for t in page.context["page"].items], [row["subject"] for row in rows]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Invoice address", "Export button fails", "Refund", "Login loop", "Invoice copy"]),
        ({"status": "open"}, ["Invoice address", "Export button fails"]),
        ({"severity": "low"}, ["Refund", "Login loop"]),
        ({"category": "BILLING"}, ["Invoice address", "Refund", "Invoice copy"]),
        ({"account_name": "müller"}, ["Invoice address", "Export button fails", "Refund"]),
        ({"account_name": "zeta", "status": "pending"}, ["Login loop"]),
        ({"q": "invoice"}, ["Invoice address", "Invoice copy"]),
        ({"handled_by_id": "me"}, ["Invoice address", "Login loop"]),
        ({"account_id": "mine", "category": "billing"}, ["Invoice address", "Refund"]),
    ],
)
def test_the_export_link_gives_the_rows_the_page_shows(params, expected, tickets, member):
    params = {k: member.pk if v == "me" else tickets[v].pk if v in tickets else v for k, v in params.items()}
    shown, exported = page_and_export(client_of(member), params)
    assert shown == expected
    assert exported == shown


def test_the_link_says_whether_it_exports_a_filtered_list(tickets, member):
    client = client_of(member)
    assert "Export all tickets (CSV)" in client.get(reverse("engagement:ticket_list")).content.decode()
    body = client.get(reverse("engagement:ticket_list"), {"status": "open"}).content.decode()
    assert "Export these tickets (CSV)" in body


def test_an_invalid_filter_is_left_out_of_the_page_and_of_its_export(tickets, member):
    shown, exported = page_and_export(client_of(member), {"severity": "apocalyptic", "status": "resolved"})
    assert shown == exported == ["Invoice copy"]


def test_the_api_filters_tickets_by_account_name(tickets, member, api_for):
    response = api_for(member).get("/tickets", data={"account_name": "MüLLER"})
    assert response.status_code == 200
    assert {t["subject"] for t in response.json()["items"]} == {"Invoice address", "Export button fails", "Refund"}
