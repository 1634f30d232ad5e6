"""A record's change history: who changed which fields, when, for anyone who may see the record."""

from __future__ import annotations

import pytest

from patron.core import history
from patron.customers import services
from patron.errors import Invalid, NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(member, team):
    account = services.accounts.create(member, {"name": "Acme", "industry": "Retail", "owner_id": member.pk})
    services.accounts.update(member, account.pk, {"industry": "Software", "lifecycle_stage": "at_risk"})
    return account


def test_newest_change_first_with_the_fields_it_changed_before_and_after(member, acme):
    page = history.record_history(services.accounts, member, acme.pk)
    changed, created = page.items
    assert changed.kind == "changed" and created.kind == "created"
    assert changed.by_id == member.pk and changed.by == (member.get_full_name() or member.username)
    by_field = {c.field: c for c in changed.changes}
    assert set(by_field) == {"industry", "lifecycle_stage"}
    assert (by_field["industry"].old, by_field["industry"].new) == ("Retail", "Software")
    assert by_field["lifecycle_stage"].new == "at_risk" and by_field["lifecycle_stage"].new_display == "At risk"
    assert page.next_cursor is None


def test_the_first_version_lists_the_values_it_was_created_with(member, acme):
    created = history.record_history(services.accounts, member, acme.pk).items[-1]
    values = {c.field: (c.old, c.new) for c in created.changes}
    assert values["name"] == (None, "Acme") and values["industry"] == (None, "Retail")
    assert values["owner_id"] == (None, member.pk)
    assert "updated_at" not in values and "created_at" not in values


def test_pages_follow_each_other_and_each_change_is_diffed_against_the_one_before(member, acme):
    for stage in ["active", "churned", "active"]:
        services.accounts.update(member, acme.pk, {"lifecycle_stage": stage})
    first = history.record_history(services.accounts, member, acme.pk, limit=2)
    second = history.record_history(services.accounts, member, acme.pk, cursor=first.next_cursor, limit=2)
    third = history.record_history(services.accounts, member, acme.pk, cursor=second.next_cursor, limit=2)
    changes = first.items + second.items + third.items
    assert [c.kind for c in changes] == ["changed"] * 4 + ["created"] and third.next_cursor is None
    stages = [[(f.old, f.new) for f in c.changes if f.field == "lifecycle_stage"] for c in changes[:4]]
    assert stages == [
        [("churned", "active")],
        [("active", "churned")],
        [("at_risk", "active")],
        [("active", "at_risk")],
    ]


def test_a_record_the_user_may_not_see_has_no_history_for_them(outsider, acme):
    with pytest.raises(NotFound):
        history.record_history(services.accounts, outsider, acme.pk)


def test_a_forged_cursor_is_refused(member, acme):
    with pytest.raises(Invalid):
        history.record_history(services.accounts, member, acme.pk, cursor="bm90LWEtY3Vyc29y")


def test_an_erased_contact_history_shows_the_erasure_and_no_personal_data(manager, member, acme):
    anna = services.contacts.create(member, {"account_id": acme.pk, "first_name": "Anna", "email": "anna@example.com"})
    services.erase_contact(manager, anna.pk)
    changes = history.record_history(services.contacts, manager, anna.pk).items
    assert changes[0].reason == "GDPR erasure"
    shown = repr(changes)
    assert "Anna" not in shown and "anna@example.com" not in shown


def test_the_api_serves_a_record_history_page_by_page(api_for, member, acme):
    for stage in ["active", "churned"]:
        services.accounts.update(member, acme.pk, {"lifecycle_stage": stage})
    first = api_for(member).get(f"/accounts/{acme.pk}/history?limit=2")
    assert first.status_code == 200
    body = first.json()
    assert [c["kind"] for c in body["items"]] == ["changed", "changed"] and body["next_cursor"]
    change = body["items"][0]
    assert change["by_id"] == member.pk and change["at"]
    assert change["changes"] == [
        {
            "field": "lifecycle_stage",
            "label": "lifecycle stage",
            "old": "active",
            "new": "churned",
            "old_display": "Active",
            "new_display": "Churned",
        }
    ]
    rest = api_for(member).get(f"/accounts/{acme.pk}/history?limit=2&cursor={body['next_cursor']}").json()
    assert [c["kind"] for c in rest["items"]] == ["changed", "created"] and rest["next_cursor"] is None


def test_the_api_history_of_a_record_the_user_may_not_see_is_404_and_anonymous_is_401(api_for, outsider, acme):
    assert api_for(outsider).get(f"/accounts/{acme.pk}/history").status_code == 404
    assert api_for(None).get(f"/accounts/{acme.pk}/history").status_code == 401


@pytest.mark.parametrize("kind", ["contacts", "orders", "interactions", "tickets", "deals", "survey-responses"])
def test_every_audited_record_type_has_a_history_route(api_for, admin_user, kind):
    from django.urls import NoReverseMatch, reverse

    names = {"survey-responses": "surveyresponse", "contacts": "contact", "orders": "order"}
    name = names.get(kind, kind.rstrip("s"))
    try:
        url = reverse(f"api:{name}-history", args=[1])
    except NoReverseMatch:
        pytest.fail(f"no history route for {kind}")
    assert url.endswith("/1/history")
