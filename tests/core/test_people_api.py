"""GET /api/v1/users and /teams: the owner and team ids an API client may filter by, as far as its user sees."""

from __future__ import annotations

import pytest
from django.test import Client

from patron.core.models import Role
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(admin_user, manager, member, outsider, team, other_team):
    """Ada (admin, no team); Mona (manager) and Max (member) in Enterprise; Olga in Mid-market; Lone in none."""
    lone = UserFactory(username="lone", role=Role.MEMBER)
    people = {"ada": admin_user, "mona": manager, "max": member, "olga": outsider, "lone": lone}
    # Fixed names: the factory's random ones (Simon, Monroe...) would match the searches below.
    for username, user in people.items():
        user.first_name, user.last_name = username.capitalize(), "Tester"
        user.save(update_fields=["first_name", "last_name"])
    return people


def usernames(api, query=""):
    response = api.get(f"/users{query}")
    assert response.status_code == 200, response.content
    return sorted(u["username"] for u in response.json()["items"])


def team_names(api, query=""):
    response = api.get(f"/teams{query}")
    assert response.status_code == 200, response.content
    return sorted(t["name"] for t in response.json()["items"])


@pytest.mark.parametrize(
    ("who", "users", "teams"),
    [
        ("ada", ["ada", "lone", "max", "mona", "olga"], ["Enterprise", "Mid-market"]),
        ("mona", ["max", "mona"], ["Enterprise"]),
        ("max", ["max", "mona"], ["Enterprise"]),
        ("olga", ["olga"], ["Mid-market"]),
        ("lone", ["lone"], []),
    ],
)
def test_each_role_sees_the_users_and_teams_it_may(api_for, people, who, users, teams):
    api = api_for(people[who])
    assert usernames(api) == users
    assert team_names(api) == teams


@pytest.mark.parametrize("path", ["/users", "/teams"])
def test_anonymous_gets_401(path):
    response = Client().get(f"/api/v1{path}")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_a_user_carries_the_ids_a_client_sends(api_for, people, team):
    mona = next(u for u in api_for(people["max"]).get("/users").json()["items"] if u["username"] == "mona")
    assert mona == {
        "id": people["mona"].pk,
        "username": "mona",
        "first_name": people["mona"].first_name,
        "last_name": people["mona"].last_name,
        "full_name": people["mona"].get_full_name() or "mona",
        "role": "manager",
        "active": True,
        "team_ids": [team.pk],
    }


def test_a_team_lists_its_members(api_for, people, team):
    (enterprise,) = api_for(people["mona"]).get("/teams").json()["items"]
    assert enterprise["id"] == team.pk
    assert enterprise["member_count"] == 2
    assert enterprise["member_ids"] == sorted([people["mona"].pk, people["max"].pk])


def test_a_teammates_other_teams_stay_hidden(api_for, people, team, other_team):
    secret = TeamFactory(name="Board")
    people["max"].teams.add(other_team, secret)
    seen = {u["username"]: u for u in api_for(people["olga"]).get("/users").json()["items"]}
    assert sorted(seen) == ["max", "olga"]
    assert seen["max"]["team_ids"] == [other_team.pk]
    assert sorted(api_for(people["ada"]).get("/users?q=max").json()["items"][0]["team_ids"]) == sorted(
        [team.pk, other_team.pk, secret.pk]
    )


def test_filters_and_search(api_for, people, team):
    admin = api_for(people["ada"])
    assert usernames(admin, f"?team_id={team.pk}") == ["max", "mona"]
    assert usernames(admin, "?role=manager") == ["mona"]
    assert usernames(admin, "?q=MON") == ["mona"]
    assert team_names(admin, "?q=mid") == ["Mid-market"]
    people["lone"].is_active = False
    people["lone"].save()
    assert usernames(admin, "?active=false") == ["lone"]
    assert admin.get("/users?role=owner").status_code == 422


def test_the_lists_are_keyset_pages(api_for, people):
    admin = api_for(people["ada"])
    seen, cursor = [], ""
    while True:
        body = admin.get(f"/users?limit=2&order=-username{cursor}").json()
        seen += [u["username"] for u in body["items"]]
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == ["olga", "mona", "max", "lone", "ada"]
    first = admin.get("/teams?limit=1").json()
    assert [t["name"] for t in first["items"]] == ["Enterprise"]
    rest = admin.get(f"/teams?limit=1&cursor={first['next_cursor']}").json()
    assert [t["name"] for t in rest["items"]] == ["Mid-market"] and rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"), [("?order=email", "order"), ("?limit=0", "limit"), ("?owner_id=1", "owner_id")]
)
def test_bad_parameters_are_a_422_naming_them(api_for, people, query, field):
    response = api_for(people["max"]).get(f"/users{query}")
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_users_and_teams_cannot_be_changed_through_the_api(api_for, people):
    response = api_for(people["ada"]).post("/users", {"username": "eve"})
    assert response.status_code == 405
    assert response["Allow"] == "GET"
