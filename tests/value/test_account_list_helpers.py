"""Helpers the accounts list uses to filter by tier or lifecycle class and to sort by CLV."""

from __future__ import annotations

import pytest

from patron.customers.models import Account
from patron.value import services

pytestmark = pytest.mark.django_db


def test_account_value_q_narrows_accounts_by_tier_and_class(admin_user, base):
    assert Account.objects.filter(services.account_value_q(tier="A")).count() == 0  # no run yet
    run = services.run_scoring(admin_user)
    tier_a = set(run.scores.filter(abc_tier="A").values_list("account_id", flat=True))
    assert set(Account.objects.filter(services.account_value_q(tier="A")).values_list("id", flat=True)) == tier_a
    sleeping_pl = services.account_value_q({"country": "PL"}, lifecycle_class="sleeping")
    expected = set(run.scores.filter(lifecycle_class="sleeping").values_list("account_id", flat=True))
    assert set(Account.objects.filter(sleeping_pl).values_list("id", flat=True)) == expected
    everyone = services.account_value_q({"country": "PL"})
    assert Account.objects.filter(everyone).count() == Account.objects.count()


def test_accounts_by_value_sorts_visible_accounts_by_clv(member, admin_user, base):
    services.run_scoring(admin_user)
    page = services.accounts_by_value(member, order="-clv", limit=5)
    assert len(page.items) == 5 and page.next_cursor
    assert all(a.owner_id == member.pk for a in page.items)
    clvs = [a.value_score.clv for a in page.items]
    assert clvs == sorted(clvs, reverse=True)
    rest = services.accounts_by_value(member, order="-clv", cursor=page.next_cursor, limit=500)
    own = {a.pk for a in base.with_orders if a.owner_id == member.pk}
    assert {a.pk for a in page.items + rest.items} == own
    named = services.accounts_by_value(member, search=page.items[0].name[:6], account_filters={"country": "PL"})
    assert page.items[0].pk in {a.pk for a in named.items}


def test_latest_scores_for_a_page_of_accounts(admin_user, base):
    assert services.latest_scores_for([base.repeat[0].pk]) == {}
    run = services.run_scoring(admin_user)
    ids = [a.pk for a in base.repeat[:3]] + [base.without_orders[0].pk]
    found = services.latest_scores_for(ids)
    assert set(found) == set(ids[:3])
    assert found[ids[0]].run_id == run.pk and found[ids[0]].lifecycle_strategy
