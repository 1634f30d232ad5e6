"""Accounts through the API: who sees what, and what a bad request gets back."""

from __future__ import annotations

import pytest

from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_anonymous_gets_401(api_for):
    assert api_for(None).get("/accounts").status_code == 401


def test_member_sees_own_and_team_accounts_only(api_for, member, outsider, team):
    own = AccountFactory(owner=member)
    teams = AccountFactory(owner=None, team=team)
    hidden = AccountFactory(owner=outsider)
    response = api_for(member).get("/accounts")
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["items"]}
    assert ids == {own.id, teams.id}
    assert api_for(member).get(f"/accounts/{hidden.id}").status_code == 404


def test_create_names_the_bad_field(api_for, member):
    response = api_for(member).post("/accounts", {"name": "", "kind": "company"})
    assert response.status_code == 422
    assert response.json()["field"] == "name"


def test_keyset_pages_cover_every_row_once(api_for, admin_user):
    made = {AccountFactory().id for _ in range(7)}
    seen, cursor = [], None
    while True:
        url = "/accounts?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = api_for(admin_user).get(url).json()
        seen += [row["id"] for row in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made)


def test_forged_cursor_is_a_422(api_for, admin_user):
    response = api_for(admin_user).get("/accounts?cursor=bm90LWEtY3Vyc29y")
    assert response.status_code == 422
    assert response.json()["field"] == "cursor"


def test_update_records_audit_history(api_for, member):
    account = AccountFactory(owner=member, name="Old name")
    response = api_for(member).patch(f"/accounts/{account.id}", {"name": "New name"})
    assert response.status_code == 200
    latest = account.history.latest()
    assert latest.history_user == member
    delta = latest.diff_against(latest.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [("name", "Old name", "New name")]


def test_new_accounts_belong_to_their_creator_and_their_only_team(api_for, member, team):
    body = api_for(member).post("/accounts", {"name": "Acme", "country": "pl"}).json()
    assert (body["owner_id"], body["team_id"], body["country"]) == (member.pk, team.pk, "PL")
    unowned = api_for(member).post("/accounts", {"name": "Shared", "owner_id": None, "team_id": team.pk}).json()
    assert (unowned["owner_id"], unowned["team_id"]) == (None, team.pk)


def test_filters_ignore_empty_values_and_match_country_in_any_case(api_for, member):
    polish = AccountFactory(owner=member, country="PL")
    AccountFactory(owner=member, country="DE")
    ids = [a["id"] for a in api_for(member).get("/accounts?country=pl&industry=").json()["items"]]
    assert ids == [polish.id]


def test_accounts_without_an_external_id_do_not_clash(api_for, member):
    for name in ("One", "Two"):
        assert api_for(member).post("/accounts", {"name": name, "external_id": ""}).status_code == 201
