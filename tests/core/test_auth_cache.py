"""What a server process remembers about API tokens and teams between requests, and when it forgets.

A token's user and a user's teams are kept a few seconds per process (PATRON_AUTH_CACHE_SECONDS) so a request
skips two queries. A change made through Patron (revoking a token, deactivating a user, changing a role or a
membership) applies from the very next request; a change this process did not see (another server process, or
SQL) applies within the bound, never later.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patron.core.api import token_users
from patron.core.models import ApiToken, Role
from patron.core.permissions import reach_cache
from tests.factories import AccountFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_caches(settings):
    settings.PATRON_AUTH_CACHE_SECONDS = 5
    token_users.clear()
    reach_cache.clear()
    yield
    token_users.clear()
    reach_cache.clear()


@pytest.fixture
def later(monkeypatch):
    """Move both caches' clocks past the bound, as if the seconds had gone by."""

    def move(seconds):
        for cache in (token_users, reach_cache):
            now = cache.clock()
            monkeypatch.setattr(cache, "clock", lambda now=now: now + seconds)

    return move


def queries_of(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return [q["sql"] for q in captured.captured_queries]


def test_a_token_seen_a_moment_ago_needs_no_query(api_for, member):
    client = api_for(member)
    first = queries_of(client, "/accounts")
    second = queries_of(client, "/accounts")
    assert any("core_apitoken" in sql for sql in first)
    assert not any("core_apitoken" in sql or "core_user_teams" in sql for sql in second)
    assert second == first[-1:]


def test_a_revoked_token_is_refused_from_the_next_request(api_for, member):
    client = api_for(member)
    token = ApiToken.objects.get(user=member)
    assert client.get("/me").status_code == 200
    assert client.delete(f"/tokens/{token.pk}").status_code == 200
    assert client.get("/me").status_code == 401


def test_a_deactivated_user_is_refused_from_the_next_request(api_for, member):
    client = api_for(member)
    assert client.get("/me").status_code == 200
    member.is_active = False
    member.save()
    assert client.get("/me").status_code == 401


def test_a_new_role_applies_from_the_next_request(api_for, member, outsider):
    hidden = AccountFactory(owner=outsider)
    client = api_for(member)
    assert client.get(f"/accounts/{hidden.pk}").status_code == 404
    member.role = Role.ADMIN
    member.save()
    assert client.get(f"/accounts/{hidden.pk}").status_code == 200


def test_joining_or_leaving_a_team_applies_from_the_next_request(api_for, member):
    sales = TeamFactory(name="Sales")
    theirs = AccountFactory(owner=None, team=sales)
    client = api_for(member)
    assert client.get(f"/accounts/{theirs.pk}").status_code == 404
    member.teams.add(sales)
    assert client.get(f"/accounts/{theirs.pk}").status_code == 200
    sales.members.remove(member)  # from the team's side: the same signal
    assert client.get(f"/accounts/{theirs.pk}").status_code == 404


def test_a_manager_sees_a_new_team_members_records_from_the_next_request(api_for, manager, outsider, team):
    owned = AccountFactory(owner=outsider, team=None)
    client = api_for(manager)
    assert client.get(f"/accounts/{owned.pk}").status_code == 404
    outsider.teams.add(team)
    assert client.get(f"/accounts/{owned.pk}").status_code == 200


def test_a_revocation_this_process_did_not_see_applies_within_the_bound(api_for, member, later):
    client = api_for(member)
    assert client.get("/me").status_code == 200
    # As another server process would: the row changes, and this process gets no signal.
    ApiToken.objects.filter(user=member).update(revoked_at=timezone.now())
    assert client.get("/me").status_code == 200
    later(5)
    assert client.get("/me").status_code == 401


def test_a_membership_change_this_process_did_not_see_applies_within_the_bound(api_for, member, team, later):
    ours = AccountFactory(owner=None, team=team)
    client = api_for(member)
    assert client.get(f"/accounts/{ours.pk}").status_code == 200
    member.teams.through.objects.filter(user=member).delete()  # a bulk delete sends no m2m signal
    later(5)
    assert client.get(f"/accounts/{ours.pk}").status_code == 404


def test_no_cache_at_all_when_the_bound_is_zero(api_for, member, settings):
    settings.PATRON_AUTH_CACHE_SECONDS = 0
    client = api_for(member)
    queries_of(client, "/accounts")
    again = queries_of(client, "/accounts")
    assert any("core_apitoken" in sql for sql in again) and any("core_user_teams" in sql for sql in again)


def test_each_request_gets_its_own_user_object(api_for, member):
    from patron.core.api import TokenAuth

    raw = api_for(member).headers["Authorization"].removeprefix("Bearer ")

    class Request:
        pass

    first, second = TokenAuth().authenticate(Request(), raw), TokenAuth().authenticate(Request(), raw)
    assert first == second == member and first is not second
    assert "_patron_reach" not in second.__dict__


def test_a_user_reaching_more_accounts_than_a_list_filters_by_id_is_not_asked_again(member, monkeypatch, later):
    from patron.core import services as core_services
    from patron.customers import services as customers
    from tests.factories import ContactFactory

    monkeypatch.setattr(core_services, "VISIBLE_IDS_CAP", 1)
    mine = [ContactFactory(account=AccountFactory(owner=member)) for _ in range(2)]
    expected = {contact.pk for contact in mine}

    def listed():
        with CaptureQueriesContext(connection) as queries:
            ids = set(customers.contacts.listable(member).values_list("pk", flat=True))
        return ids, len(queries.captured_queries)

    first, first_queries = listed()
    again, again_queries = listed()
    assert first == again == expected
    assert first_queries == 3  # the member's teams, the visible account ids (more than the cap), the list
    assert again_queries == 1  # within the bound, only the list
    later(6)
    after, after_bound = listed()
    # Past the bound the ids are read again (the teams stay on this very user object, as within one request).
    assert after == expected and after_bound == 2
