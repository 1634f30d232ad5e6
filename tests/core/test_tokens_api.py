"""The signed-in user and their API tokens: made once, listed without their secret, refused once revoked."""

from __future__ import annotations

import pytest
from django.test import Client

from patron.core.models import ApiToken

pytestmark = pytest.mark.django_db


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/me"), ("get", "/tokens"), ("post", "/tokens"), ("delete", "/tokens/1")]
)
def test_anonymous_gets_401(method, path, api_for):
    assert getattr(api_for(None), method)(path).status_code == 401


def test_me_tells_role_job_function_and_teams(api_for, manager, team):
    body = api_for(manager).get("/me").json()
    assert (body["username"], body["role"], body["is_admin"]) == ("mona", "manager", False)
    assert body["teams"] == [{"id": team.pk, "name": "Enterprise"}]


def test_a_new_token_is_shown_once_and_works(api_for, member):
    response = api_for(member).post("/tokens", {"name": "ERP sync"})
    assert response.status_code == 201
    raw = response.json()["token"]
    assert raw.startswith("ptn_") and response.json()["prefix"] == raw[:8]
    assert Client().get("/api/v1/me", headers=bearer(raw)).json()["username"] == "max"
    listed = api_for(member).get("/tokens").json()
    assert "ERP sync" in [t["name"] for t in listed]
    assert all("token" not in t for t in listed)
    assert raw not in str(listed)


def test_the_secret_is_not_stored(api_for, member):
    raw = api_for(member).post("/tokens", {"name": "ERP sync"}).json()["token"]
    assert not ApiToken.objects.filter(digest=raw).exists()
    assert raw not in str(list(ApiToken.objects.values()))


def test_a_token_also_works_in_the_x_api_token_header(api_for, member):
    raw = api_for(member).post("/tokens", {"name": "legacy client"}).json()["token"]
    assert Client().get("/api/v1/me", headers={"X-API-Token": raw}).status_code == 200


def test_a_token_needs_a_name(api_for, member):
    response = api_for(member).post("/tokens", {"name": ""})
    assert response.status_code == 422
    assert response.json()["field"] == "name"


def test_a_revoked_token_is_refused(api_for, member):
    created = api_for(member).post("/tokens", {"name": "laptop"}).json()
    response = api_for(member).delete(f"/tokens/{created['id']}")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert Client().get("/api/v1/me", headers=bearer(created["token"])).status_code == 401
    assert api_for(member).delete(f"/tokens/{created['id']}").status_code == 404


def test_the_tokens_of_others_are_not_found(api_for, member, outsider):
    theirs = api_for(outsider).post("/tokens", {"name": "theirs"}).json()
    assert api_for(member).delete(f"/tokens/{theirs['id']}").status_code == 404
    assert theirs["id"] not in [t["id"] for t in api_for(member).get("/tokens").json()]
    assert Client().get("/api/v1/me", headers=bearer(theirs["token"])).status_code == 200


def test_a_deactivated_user_token_is_refused(api_for, member):
    raw = api_for(member).post("/tokens", {"name": "laptop"}).json()["token"]
    member.is_active = False
    member.save()
    assert Client().get("/api/v1/me", headers=bearer(raw)).status_code == 401
