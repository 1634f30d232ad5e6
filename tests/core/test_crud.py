"""Creating, changing and deleting every record kind: who may, and what a bad or clashing payload gets back.

Members change their own and their team's records but delete only their own: deleting a team record they do
not own is a 403 (they see it), deleting one they cannot see is a 404. Reference data (products, campaigns) is
changed by managers and admins only.
"""

from __future__ import annotations

import pytest

from tests.core.kinds import ALL_KINDS, SCOPED_KINDS, SHARED_KINDS
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

BULK_PATHS = ["orders", "interactions", "survey-responses"]
ROUTES = [("get", ""), ("get", "/1"), ("get", "/export.csv"), ("post", ""), ("patch", "/1"), ("delete", "/1")]


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_anonymous_requests_get_401(kind, method, suffix, api_for):
    call = getattr(api_for(None), method)
    response = call(f"/{kind.path}{suffix}", data={}) if method in ("post", "patch") else call(f"/{kind.path}{suffix}")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


@pytest.mark.parametrize("path", BULK_PATHS)
def test_anonymous_bulk_upsert_gets_401(path, api_for):
    response = api_for(None).post(f"/{path}/bulk", "{}", content_type="application/x-ndjson")
    assert response.status_code == 401


@pytest.mark.parametrize("kind", SCOPED_KINDS, ids=str)
def test_member_creates_on_a_team_account(kind, api_for, member, team):
    account = AccountFactory(owner=None, team=team)
    response = api_for(member).post(f"/{kind.path}", kind.payload(account))
    assert response.status_code == 201, response.json()
    created = response.json()
    assert api_for(member).get(f"/{kind.path}/{created['id']}").json()["id"] == created["id"]


@pytest.mark.parametrize("kind", [k for k in SCOPED_KINDS if k.path not in ("accounts", "leads")], ids=str)
def test_member_cannot_add_records_to_an_account_they_cannot_see(kind, api_for, member, outsider):
    hidden = AccountFactory(owner=outsider)
    response = api_for(member).post(f"/{kind.path}", kind.payload(hidden))
    assert response.status_code == 422
    assert response.json()["field"] in ("account_id", "order_id")


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_invalid_payload_is_a_422_naming_the_field(kind, api_for, admin_user):
    account = AccountFactory(owner=admin_user)
    change, field = kind.spoil
    response = api_for(admin_user).post(f"/{kind.path}", {**kind.payload(account), **change})
    assert response.status_code == 422, response.json()
    assert response.json()["field"] == field


@pytest.mark.parametrize("kind", SCOPED_KINDS, ids=str)
def test_member_changes_a_team_record_and_the_change_is_audited(kind, api_for, member, team):
    record = kind.build(None, team)
    response = api_for(member).patch(
        f"/{kind.path}/{record.pk}", {"external_id": "ERP-1"} if kind.path != "order-lines" else {"quantity": "3"}
    )
    assert response.status_code == 200, response.json()
    assert record.history.latest().history_user == member


@pytest.mark.parametrize("kind", SCOPED_KINDS, ids=str)
def test_changing_a_hidden_record_is_a_404(kind, api_for, member, outsider):
    record = kind.build(outsider, None)
    assert api_for(member).patch(f"/{kind.path}/{record.pk}", {}).status_code == 404


@pytest.mark.parametrize("kind", SCOPED_KINDS, ids=str)
def test_member_deletes_own_records_only(kind, api_for, member, outsider, team):
    own, teams, hidden = kind.build(member, None), kind.build(None, team), kind.build(outsider, None)
    api = api_for(member)
    assert api.delete(f"/{kind.path}/{teams.pk}").status_code == 403
    assert api.delete(f"/{kind.path}/{hidden.pk}").status_code == 404
    assert api.delete(f"/{kind.path}/{own.pk}").json() == {"deleted": True}
    assert api.get(f"/{kind.path}/{own.pk}").status_code == 404
    assert api.get(f"/{kind.path}/{teams.pk}").status_code == 200


@pytest.mark.parametrize("kind", SCOPED_KINDS, ids=str)
def test_manager_deletes_team_records(kind, api_for, manager, team):
    record = kind.build(None, team)
    assert api_for(manager).delete(f"/{kind.path}/{record.pk}").status_code == 200
    assert not type(record).objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize("kind", SHARED_KINDS, ids=str)
def test_only_managers_and_admins_change_reference_data(kind, api_for, member, manager):
    record = kind.build(None, None)
    assert api_for(member).post(f"/{kind.path}", kind.payload(None)).status_code == 403
    assert api_for(member).patch(f"/{kind.path}/{record.pk}", {"name": "Renamed"}).status_code == 403
    assert api_for(member).delete(f"/{kind.path}/{record.pk}").status_code == 403
    assert api_for(manager).post(f"/{kind.path}", kind.payload(None)).status_code == 201
    assert api_for(manager).patch(f"/{kind.path}/{record.pk}", {"name": "Renamed"}).json()["name"] == "Renamed"


@pytest.mark.parametrize("kind", [k for k in ALL_KINDS if k.path != "order-lines"], ids=str)
def test_a_taken_external_id_is_a_409(kind, api_for, admin_user):
    account = AccountFactory(owner=admin_user)
    existing = kind.build(admin_user, None)
    type(existing).objects.filter(pk=existing.pk).update(external_id="X-1")
    response = api_for(admin_user).post(f"/{kind.path}", {**kind.payload(account), "external_id": "X-1"})
    assert response.status_code == 409
    assert response.json()["field"] == "external_id"


def test_a_patch_that_changes_nothing_writes_no_history(api_for, member):
    account = AccountFactory(owner=member, name="Same")
    before = account.history.count()
    assert api_for(member).patch(f"/accounts/{account.pk}", {"name": "Same"}).status_code == 200
    assert account.history.count() == before


def test_unknown_sort_is_a_422_naming_the_choices(api_for, member):
    response = api_for(member).get("/contacts?order=email")
    assert response.status_code == 422
    assert response.json()["field"] == "order"
    assert "last_name" in response.json()["message"]


def test_bad_filter_value_is_a_422_naming_the_filter(api_for, member):
    response = api_for(member).get("/orders?ordered_from=yesterday")
    assert response.status_code == 422
    assert response.json()["field"] == "ordered_from"
