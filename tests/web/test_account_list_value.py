"""The accounts list shows each account's value tier, lifecycle class and CLV, and filters and sorts by them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patron.value import services as value
from tests.value.conftest import build_base

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(member, outsider, admin_user):
    base = build_base(owners=[member, outsider, admin_user])
    return base, value.run_scoring(admin_user)


def test_list_shows_tier_and_clv_columns(client, member, scored):
    client.force_login(member)
    response = client.get(reverse("customers:account_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lifecycle class" in html and "CLV" in html
    visible_tiers = {a.value_score.abc_tier for a in response.context["page"].items if a.value_score}
    assert visible_tiers


def test_filter_by_tier_keeps_only_that_tier(client, admin_user, scored):
    _, run = scored
    client.force_login(admin_user)
    response = client.get(reverse("customers:account_list"), {"value_tier": "A"})
    shown = {a.pk for a in response.context["page"].items}
    tier_a = set(run.scores.filter(abc_tier="A").values_list("account_id", flat=True))
    assert shown and shown <= tier_a


def test_sort_by_clv_puts_the_most_valuable_first_and_hides_others_accounts(client, member, scored):
    client.force_login(member)
    response = client.get(reverse("customers:account_list"), {"order": "-clv"})
    items = response.context["page"].items
    assert items and all(a.owner_id == member.pk for a in items)
    clvs = [a.value_score.clv for a in items]
    assert clvs == sorted(clvs, reverse=True)
