"""Contacts through the API: one email address per person, whatever its case; filters and search."""

from __future__ import annotations

import pytest
from django.db import connection

from patron.customers.models import Contact
from patron.customers.schemas import ContactFilters
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(member):
    return AccountFactory(owner=member, name="Acme")


def test_email_is_stored_lower_cased(api_for, member, account):
    response = api_for(member).post("/contacts", {"account_id": account.pk, "email": "  Anna.Lis@Acme.Example "})
    assert response.status_code == 201
    assert response.json()["email"] == "anna.lis@acme.example"
    assert response.json()["account_name"] == "Acme"


def test_the_same_email_in_another_case_is_a_409(api_for, member, account):
    ContactFactory(account=account, email="anna@acme.example")
    response = api_for(member).post("/contacts", {"account_id": account.pk, "email": "ANNA@acme.example"})
    assert response.status_code == 409
    assert response.json()["field"] == "email"
    assert Contact.objects.count() == 1


def test_changing_to_a_taken_email_is_a_409(api_for, member, account):
    ContactFactory(account=account, email="anna@acme.example")
    other = ContactFactory(account=account, email="bob@acme.example")
    response = api_for(member).patch(f"/contacts/{other.pk}", {"email": "Anna@Acme.example"})
    assert response.status_code == 409
    other.refresh_from_db()
    assert other.email == "bob@acme.example"


def test_an_empty_email_is_no_email(api_for, member, account):
    for _ in range(2):
        assert api_for(member).post("/contacts", {"account_id": account.pk, "email": ""}).status_code == 201
    assert list(Contact.objects.values_list("email", flat=True)) == [None, None]


def test_a_contact_can_name_its_account_by_external_id(api_for, member):
    account = AccountFactory(owner=member, external_id="CRM-7")
    response = api_for(member).post("/contacts", {"account_external_id": "CRM-7", "last_name": "Lis"})
    assert response.json()["account_id"] == account.pk
    missing = api_for(member).post("/contacts", {"account_external_id": "CRM-8", "last_name": "Lis"})
    assert missing.status_code == 422
    assert missing.json()["field"] == "account_external_id"


def test_a_contact_needs_an_account(api_for, member):
    response = api_for(member).post("/contacts", {"last_name": "Lis"})
    assert response.status_code == 422
    assert response.json()["field"] == "account_id"


def test_filters_by_account_role_and_email(api_for, member, account):
    other = AccountFactory(owner=member)
    champion = ContactFactory(account=account, role="champion", email="c@acme.example")
    ContactFactory(account=account, role="user")
    ContactFactory(account=other, role="champion")
    api = api_for(member)
    assert [c["id"] for c in api.get(f"/contacts?account_id={account.pk}&role=champion").json()["items"]] == [
        champion.pk
    ]
    assert [c["id"] for c in api.get("/contacts?email=C@Acme.Example").json()["items"]] == [champion.pk]


def test_search_matches_every_word_in_any_field(api_for, member, account):
    anna = ContactFactory(account=account, first_name="Anna", last_name="Lis", email="al@acme.example")
    ContactFactory(account=account, first_name="Anna", last_name="Kos")
    ContactFactory(account=account, first_name="Piotr", last_name="Lis")
    api = api_for(member)
    assert [c["id"] for c in api.get("/contacts?q=anna lis").json()["items"]] == [anna.pk]
    assert [c["id"] for c in api.get("/contacts?q=AL@ACME").json()["items"]] == [anna.pk]


def test_sorting_by_last_name_pages_through_every_contact(api_for, member, account):
    names = ["Zieliński", "Adamska", "Nowak", "Kowalski", "Adamska"]
    for name in names:
        ContactFactory(account=account, last_name=name)
    seen, cursor = [], ""
    while True:
        body = api_for(member).get(f"/contacts?order=last_name&limit=2{cursor}").json()
        seen += [c["last_name"] for c in body["items"]]
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == sorted(names)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index plans are PostgreSQL's")
def test_the_email_filter_is_served_by_the_case_insensitive_unique_index(account):
    ContactFactory(account=account, email="c@acme.example")
    q = ContactFilters(email="C@Acme.Example").get_filter_expression()
    assert list(Contact.objects.filter(q).values_list("email", flat=True)) == ["c@acme.example"]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = Contact.objects.filter(q).query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        assert "contact_email_ci_unique" in "\n".join(row[0] for row in cursor.fetchall())
