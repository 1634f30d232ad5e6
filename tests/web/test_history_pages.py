"""The change history pages of accounts and contacts: who changed what, when, for anyone who may see the record."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patron.customers import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(member):
    account = services.accounts.create(member, {"name": "Acme", "industry": "Retail", "owner_id": member.pk})
    services.accounts.update(member, account.pk, {"industry": "Software"})
    return account


def test_account_page_links_to_a_history_showing_the_change_before_and_after(client_for, member, acme):
    client = client_for(member)
    detail = client.get(reverse("customers:account_detail", args=[acme.pk])).content.decode()
    url = reverse("customers:account_history", args=[acme.pk])
    assert f'href="{url}"' in detail
    body = client.get(url).content.decode()
    assert "Change history" in body and "Changed" in body and "Created" in body
    assert body.index("Software") < body.index("Created")
    assert "<td>Retail</td><td>Software</td>" in body.replace("\n", "")


def test_history_of_an_account_the_user_may_not_see_is_404(client_for, outsider, acme):
    assert client_for(outsider).get(reverse("customers:account_history", args=[acme.pk])).status_code == 404


def test_history_needs_a_signed_in_user(client_for, acme):
    response = client_for().get(reverse("customers:account_history", args=[acme.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_history_pages_go_back_in_time_page_by_page(client_for, member, acme):
    for number in range(60):
        services.accounts.update(member, acme.pk, {"region": f"Region {number:02d}"})
    client = client_for(member)
    first = client.get(reverse("customers:account_history", args=[acme.pk]))
    assert "Region 59" in first.content.decode() and first.context["next_url"]
    older = client.get(reverse("customers:account_history", args=[acme.pk]) + first.context["next_url"])
    body = older.content.decode()
    assert "Region 05" in body and "Region 59" not in body and "Created" in body
    assert older.context["next_url"] == ""


def test_contact_page_links_to_its_history(client_for, member, acme):
    anna = services.contacts.create(member, {"account_id": acme.pk, "first_name": "Anna", "title": "CFO"})
    services.contacts.update(member, anna.pk, {"title": "CEO"})
    client = client_for(member)
    url = reverse("customers:contact_history", args=[anna.pk])
    assert f'href="{url}"' in client.get(reverse("customers:contact_detail", args=[anna.pk])).content.decode()
    body = client.get(url).content.decode().replace("\n", "")
    assert "<td>CFO</td><td>CEO</td>" in body


def test_a_forged_history_cursor_is_refused(client_for, member, acme):
    response = client_for(member).get(
        reverse("customers:account_history", args=[acme.pk]), {"cursor": "bm90LWEtY3Vyc29y"}
    )
    assert response.status_code == 422


def test_ticket_page_links_to_its_history_of_status_changes(client_for, member, acme):
    from patron.engagement import services as engagement

    ticket = engagement.tickets.create(member, {"account_id": acme.pk, "subject": "Printer on fire", "status": "open"})
    engagement.tickets.update(member, ticket.pk, {"status": "resolved"})
    client = client_for(member)
    url = reverse("engagement:ticket_history", args=[ticket.pk])
    assert f'href="{url}"' in client.get(reverse("engagement:ticket_detail", args=[ticket.pk])).content.decode()
    body = client.get(url).content.decode().replace("\n", "")
    assert "Printer on fire" in body and "<td>Open</td><td>Resolved</td>" in body
