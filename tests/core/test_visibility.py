"""Who sees what, for every record kind, through every list, detail and CSV export.

Admins see everything; managers see their teams' records and what their team members own; members see their
own and their team's; a member of another team sees none of those. What a user may not see is a 404.
Records of an account are filtered by the ids of the visible accounts when there are few, else by a join: both
must agree.
"""

from __future__ import annotations

import csv
import io

import pytest

from patron.core import services as core_services
from patron.core.models import Role
from tests.core.kinds import ALL_KINDS, SCOPED_KINDS, SHARED_KINDS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

#: Which of the four records each role sees: the member's own, the team's, a teammate's private one, another team's.
EXPECTED = {
    "admin_user": {"own", "team", "teammate", "other_team"},
    "manager": {"own", "team", "teammate"},
    "member": {"own", "team"},
    "outsider": {"other_team"},
}


@pytest.fixture
def records(member, outsider, team, other_team):
    """Build one record of each reach for a kind: returns a function of the kind giving {reach: record}."""
    teammate = UserFactory(username="tess", role=Role.MEMBER, teams=[team])

    def build(kind):
        return {
            "own": kind.build(member, None),
            "team": kind.build(None, team),
            "teammate": kind.build(teammate, None),
            "other_team": kind.build(outsider, other_team),
        }

    return build


@pytest.fixture(params=["account ids", "account join"])
def strategy(request, monkeypatch):
    """Run a test with both ways of filtering records by their account (see Records.listable)."""
    if request.param == "account join":
        monkeypatch.setattr(core_services, "VISIBLE_IDS_CAP", 0)
    return request.param


@pytest.mark.parametrize("viewer", list(EXPECTED))
@pytest.mark.parametrize("kind", SCOPED_KINDS, ids=str)
def test_list_detail_and_export_show_only_what_the_role_may_see(kind, viewer, records, api_for, request, strategy):
    made = records(kind)
    api = api_for(request.getfixturevalue(viewer))
    expected_ids = {made[reach].pk for reach in EXPECTED[viewer]}
    made_ids = {r.pk for r in made.values()}

    listed = api.get(f"/{kind.path}?limit=500")
    assert listed.status_code == 200
    assert {row["id"] for row in listed.json()["items"]} & made_ids == expected_ids

    for reach, record in made.items():
        status = api.get(f"/{kind.path}/{record.pk}").status_code
        assert status == (200 if reach in EXPECTED[viewer] else 404), (reach, status)

    exported = api.get(f"/{kind.path}/export.csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert {int(row["id"]) for row in rows} & made_ids == expected_ids


@pytest.mark.parametrize("viewer", list(EXPECTED))
@pytest.mark.parametrize("kind", SHARED_KINDS, ids=str)
def test_reference_data_is_seen_by_every_role(kind, viewer, api_for, request):
    made = kind.build(None, None)
    api = api_for(request.getfixturevalue(viewer))
    assert made.pk in {row["id"] for row in api.get(f"/{kind.path}").json()["items"]}
    assert api.get(f"/{kind.path}/{made.pk}").status_code == 200


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_a_missing_record_is_a_404_in_the_error_shape(kind, api_for, admin_user):
    response = api_for(admin_user).get(f"/{kind.path}/987654")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_rows_of_one_account_are_checked_through_that_account(member, outsider, team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from patron.customers import services as customers
    from tests.factories import AccountFactory, ContactFactory

    account = AccountFactory(owner=member, team=team)
    mine = ContactFactory.create_batch(2, account=account)
    ContactFactory(account=AccountFactory(owner=member, team=team))
    assert set(customers.contacts.filtered(member, filters={"account": account.pk})) == set(mine)
    assert set(customers.contacts.filtered(member, filters={"account_id": account})) == set(mine)
    assert not customers.contacts.filtered(outsider, filters={"account": account.pk}).exists()
    with CaptureQueriesContext(connection) as queries:
        list(customers.contacts.filtered(member, filters={"account": account.pk}))
    # One query: no list of every account the member may see is read first.
    assert len(queries) == 1
