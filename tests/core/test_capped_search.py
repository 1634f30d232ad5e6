"""A restricted user's search reads its newest matches first (Records.list, SEARCH_CAP): same rows, same cursors."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.core import services as core_services
from patron.core.api import json_writer, row_reader
from patron.customers import schemas
from patron.customers import services as customers
from patron.customers.models import Contact
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

READER = row_reader(customers.contacts, json_writer(schemas.ContactOut))


@pytest.fixture
def roses(member, outsider):
    """Contacts named Rose, newest last: visible and hidden ones interleaved, then a run of hidden ones."""
    mine, theirs = AccountFactory(owner=member, name="Mine"), AccountFactory(owner=outsider, name="Theirs")
    made = []
    for n in range(12):
        made.append(ContactFactory(account=mine if n % 3 == 0 else theirs, last_name=f"Rose{n}"))
    for n in range(5):
        made.append(ContactFactory(account=theirs, last_name=f"Rosewood{n}"))
    ContactFactory(account=mine, last_name="Lilly")
    return made


def every_page(user, *, search, limit, order=None, reader=READER):
    """Return the rows and the cursors of every page of a search list, walking the cursors to the end."""
    rows, cursors, cursor = [], [], None
    while True:
        page = customers.contacts.list(user, search=search, order=order, cursor=cursor, limit=limit, reader=reader)
        rows += [(c.pk, c.name, c.account.name) for c in page.items]
        cursors.append(page.next_cursor)
        if page.next_cursor is None:
            return rows, cursors
        cursor = page.next_cursor


def contact_queries(queries):
    return [q["sql"] for q in queries.captured_queries if '"customers_contact"' in q["sql"]]


def expected(user, search, order="-id"):
    qs = Contact.objects.restrict(user).filter(last_name__icontains=search).select_related("account").order_by(order)
    return [(c.pk, c.name, c.account.name) for c in qs]


@pytest.mark.parametrize("cap", [1, 2, 3, 4, 7, 16, 100])
@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_paging_through_a_members_search_gives_every_visible_match_newest_first_whatever_the_cap(
    roses, member, monkeypatch, cap, limit
):
    monkeypatch.setattr(core_services, "SEARCH_CAP", cap)

    rows, cursors = every_page(member, search="rose", limit=limit)

    assert rows == expected(member, "rose")
    assert len(cursors) == max(1, -(-len(rows) // limit))


@pytest.mark.parametrize("cap", [1, 3, 100])
def test_the_capped_search_hands_out_the_cursors_of_the_full_search(roses, member, monkeypatch, cap):
    _, full = every_page(member, search="rose", limit=2)
    monkeypatch.setattr(core_services, "SEARCH_CAP", cap)

    _, capped = every_page(member, search="rose", limit=2)

    assert capped == full


def test_an_ascending_search_and_one_read_as_whole_records_give_the_same_rows(roses, member, monkeypatch):
    monkeypatch.setattr(core_services, "SEARCH_CAP", 3)

    rows, _ = every_page(member, search="rose", limit=2, order="id", reader=None)

    assert rows == expected(member, "rose", order="id")


def test_a_page_found_within_the_newest_matches_takes_one_query(roses, member, monkeypatch):
    # The newest 15 matches (Rosewood4..0, Rose11..2) hold the first page and the visible row after it (Rose3).
    monkeypatch.setattr(core_services, "SEARCH_CAP", 15)

    with CaptureQueriesContext(connection) as queries:
        page = customers.contacts.list(member, search="rose", limit=2, reader=READER)

    assert [c.last_name for c in page.items] == ["Rose9", "Rose6"] and page.next_cursor
    assert len(contact_queries(queries)) == 1


def test_when_the_newest_matches_hold_less_than_a_page_the_full_search_finds_the_older_ones(roses, member, monkeypatch):
    monkeypatch.setattr(core_services, "SEARCH_CAP", 5)  # the five newest matches are all hidden Rosewoods

    with CaptureQueriesContext(connection) as queries:
        page = customers.contacts.list(member, search="rose", limit=2, reader=READER)

    assert [c.last_name for c in page.items] == ["Rose9", "Rose6"] and page.next_cursor
    assert len(contact_queries(queries)) == 2


@pytest.mark.parametrize("cap", [6, 8])  # the oldest match taken is Rose11 (hidden) or Rose9 (visible)
def test_the_oldest_match_taken_is_shown_only_if_visible_and_with_every_older_one(
    roses, member, outsider, monkeypatch, cap
):
    monkeypatch.setattr(core_services, "SEARCH_CAP", cap)

    page = customers.contacts.list(member, search="rose", limit=50, reader=READER)

    assert [c.last_name for c in page.items] == ["Rose9", "Rose6", "Rose3", "Rose0"]
    assert page.next_cursor is None
    assert customers.contacts.list(outsider, search="lilly", limit=50, reader=READER).items == []


def test_only_searches_sorted_by_id_without_filters_read_the_newest_matches_first(roses, admin_user, member):
    assert customers.contacts.caps_search(member, None, "-id")
    assert customers.contacts.caps_search(admin_user, None, "-id")
    assert customers.contacts.caps_search(member, {"email_opt_out": None, "role": ""}, "id")
    assert not customers.contacts.caps_search(member, {"email_opt_out": True}, "-id")
    assert not customers.contacts.caps_search(member, None, "last_name")


@pytest.mark.parametrize("cap", [1, 2, 5, 100])
def test_an_admins_search_pages_through_every_match_whatever_the_cap(roses, admin_user, monkeypatch, cap):
    monkeypatch.setattr(core_services, "SEARCH_CAP", cap)

    rows, cursors = every_page(admin_user, search="rose", limit=3)

    assert rows == expected(admin_user, "rose") and len(rows) == 17
    assert len(cursors) == 6
