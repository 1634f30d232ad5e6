"""The accounts list shows each account's value tier, lifecycle class and CLV, and filters and sorts by them."""

from __future__ import annotations

import csv
import io

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
    assert "Lifecycle class" in html and "CLV" in html and "P(alive)" in html
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


def _exported(client, params):
    response = client.get(reverse("customers:account_export"), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    return rows


def _listed(client, params):
    shown, cursor = [], None
    while True:
        response = client.get(reverse("customers:account_list"), {**params, **({"cursor": cursor} if cursor else {})})
        shown += [a.pk for a in response.context["page"].items]
        cursor = response.context["page"].next_cursor
        if not cursor:
            return shown


@pytest.mark.parametrize(
    "params",
    [
        {"value_tier": "A"},
        {"order": "-clv"},
        {"order": "p_alive", "value_tier": "B"},
        {"lifecycle_class": "sleeping"},
        {"order": "-name"},
    ],
)
def test_export_link_gives_exactly_the_accounts_the_list_shows_in_its_order(client, member, scored, params):
    client.force_login(member)
    page = client.get(reverse("customers:account_list"), params)
    export_url = page.context["export_url"]
    response = client.get(export_url)
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["id"]) for r in rows] == _listed(client, params)


def test_export_carries_the_scores_the_list_shows(client, admin_user, scored):
    _, run = scored
    client.force_login(admin_user)
    rows = _exported(client, {"value_tier": "A", "order": "-clv"})
    scores = {s.account_id: s for s in run.scores.all()}
    assert rows and all(r["value_tier"] == "A" for r in rows)
    for row in rows:
        score = scores[int(row["id"])]
        assert row["lifecycle_class"] == score.lifecycle_class and row["rfm_segment"] == score.rfm_segment
        assert float(row["clv"]) == pytest.approx(score.clv) and float(row["p_alive"]) == pytest.approx(score.p_alive)
    clvs = [float(r["clv"]) for r in rows]
    assert clvs == sorted(clvs, reverse=True)


def test_export_leaves_out_accounts_the_user_may_not_see(client, member, scored):
    client.force_login(member)
    rows = _exported(client, {})
    assert rows and {r["owner_id"] for r in rows} == {str(member.pk)}


def test_export_refuses_a_filter_it_cannot_read_instead_of_exporting_everything(client, admin_user, scored):
    client.force_login(admin_user)
    response = client.get(reverse("customers:account_export"), {"value_tier": "Z"})
    assert response.status_code == 400
    assert b"value_tier" in response.content


def test_export_needs_a_signed_in_user(client, scored):
    response = client.get(reverse("customers:account_export"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_tier_filter_offers_the_tiers_the_settings_make(client, admin_user, scored):
    from patron.value.models import ValueSettings

    settings = value.get_settings()
    settings.abc_method = "share"
    settings.abc_shares = [0.1, 0.1, 0.2, 0.2, 0.2, 0.2]
    settings.save()
    client.force_login(admin_user)
    response = client.get(reverse("customers:account_list"))
    assert [code for code, _ in response.context["value_tiers"]] == ["A", "B", "C", "D", "E", "F"]
    assert client.get(reverse("customers:account_list"), {"value_tier": "F"}).context["form"].errors == {}
    assert ValueSettings.objects.count() == 1
