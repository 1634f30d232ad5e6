"""Customer value pages: they render before and after the first run, and show only what the user may see."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from patron.value import services
from patron.value.models import RunStatus, ScoreRun, ValueSettings

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def run(base, admin_user):
    return services.run_scoring(admin_user)


@pytest.mark.parametrize("name", ["value:dashboard", "value:diagnostics", "value:scores"])
def test_pages_before_the_first_run_say_so(member, manager, name):
    page = client_for(manager).get(reverse(name))
    assert page.status_code == 200
    assert "<svg" not in page.content.decode()
    dashboard = client_for(manager).get(reverse("value:dashboard")).content.decode()
    assert "No customer value yet" in dashboard
    assert reverse("value:recompute") in dashboard
    as_member = client_for(member).get(reverse("value:dashboard")).content.decode()
    assert reverse("value:recompute") not in as_member
    assert "Ask an admin or a manager" in as_member


def test_dashboard_draws_the_charts_and_tables(admin_user, run, base):
    page = client_for(admin_user).get(reverse("value:dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    for heading in (
        "Pareto curve",
        "ABC tiers",
        "CLV distribution",
        "Lifecycle classes and their strategies",
        "RFM segments",
        "Top accounts by CLV",
    ):
        assert heading in html
    assert html.count("<svg") >= 4
    assert "Protect service quality" in html  # the loyal strategy
    assert "This is the first run" in html
    top = max(run.scores.exclude(clv=None), key=lambda s: s.clv)
    assert reverse("customers:account_detail", args=[top.account_id]) in html


def test_dashboard_shows_tier_changes_after_a_second_run(admin_user, run):
    services.run_scoring(admin_user)
    html = client_for(admin_user).get(reverse("value:dashboard")).content.decode()
    assert "Tier changes since the previous run" in html
    assert "This is the first run" not in html


def test_members_top_accounts_are_their_own(member, outsider, run, base):
    html = client_for(member).get(reverse("value:dashboard")).content.decode()
    assert "for the accounts you may see" in html
    hidden = [a for a in base.with_orders if a.owner_id == outsider.pk]
    for account in hidden:
        assert reverse("customers:account_detail", args=[account.pk]) not in html
    whole = client_for(member).get(reverse("value:dashboard") + "?scope=all").content.decode()
    assert "for the whole customer base" in whole


def test_scores_page_filters_and_sorts(member, outsider, run, base):
    client = client_for(member)
    page = client.get(reverse("value:scores"), {"tier": "A", "order": "-p_alive"})
    assert page.status_code == 200
    shown = {score.account_id for score in page.context["page"].items}
    assert shown == set(run.scores.filter(abc_tier="A", account__owner=member).values_list("account_id", flat=True))
    everything = {s.account_id for s in client.get(reverse("value:scores")).context["page"].items}
    assert not everything & {a.pk for a in base.with_orders if a.owner_id == outsider.pk}
    assert (
        client.get(reverse("value:scores"), {"lifecycle_class": "sleeping", "rfm_segment": "lost"}).status_code == 200
    )
    assert client.get(reverse("value:scores"), {"order": "name"}).status_code == 422


def test_diagnostics_page_shows_fits_and_the_holdout(member, run):
    page = client_for(member).get(reverse("value:diagnostics"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "BG/NBD" in html and "Gamma-Gamma" in html
    assert "Calibration and holdout" in html and "Tracking curve" in html
    assert html.count("<svg") == 3
    assert client_for(member).get(reverse("value:diagnostics"), {"run": 999}).status_code == 404


def test_diagnostics_page_after_a_failed_fit(member, admin_user, thin_base):
    services.run_scoring(admin_user)
    html = client_for(member).get(reverse("value:diagnostics")).content.decode()
    assert "not fitted" in html
    assert "at least 10" in html


@override_settings(TASKS=IMMEDIATE)
def test_recompute_button_runs_scoring(manager, base):
    response = client_for(manager).post(reverse("value:recompute"), follow=True)
    assert response.status_code == 200
    run = ScoreRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.requested_by == manager
    assert f"Scoring run {run.pk} has finished." in response.content.decode()


def test_recompute_queues_for_the_worker_and_refuses_a_second(manager, base):
    client = client_for(manager)
    first = client.post(reverse("value:recompute"), follow=True).content.decode()
    assert "is queued" in first
    second = client.post(reverse("value:recompute"), follow=True).content.decode()
    assert "already queued" in second
    assert ScoreRun.objects.count() == 1


def test_members_may_not_recompute(member, base):
    assert client_for(member).post(reverse("value:recompute")).status_code == 403
    assert not ScoreRun.objects.exists()


def test_settings_page_is_for_admins(admin_user, member):
    assert client_for(member).get(reverse("value:settings")).status_code == 403
    page = client_for(admin_user).get(reverse("value:settings"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="20, 30, 30, 20"' in html
    assert "Pareto 80/20" in html  # the help texts explain the modes


def test_settings_form_saves_percentages_as_shares(admin_user):
    client = client_for(admin_user)
    data = {field.name: field.value() for field in client.get(reverse("value:settings")).context["form"]}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update({"abc_method": "cumulative", "abc_cumulative": "70, 20, 10", "horizon_months": "24"})
    response = client.post(reverse("value:settings"), data)
    assert response.status_code == 302
    saved = ValueSettings.load()
    assert saved.abc_cumulative == [0.7, 0.2, 0.1] and saved.horizon_months == 24
    assert saved.updated_by == admin_user
    data["abc_shares"] = "50, 60"
    bad = client.post(reverse("value:settings"), data)
    assert bad.status_code == 422
    assert "add up to 100%" in bad.content.decode()
    assert ValueSettings.load().abc_shares == [0.2, 0.3, 0.3, 0.2]


def render_panel(user, account) -> str:
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load value_tags %}{% account_value_panel account %}")
    return template.render(Context({"request": request, "account": account, "user": user}))


def test_account_panel_shows_tier_strategy_and_clv(member, run, base):
    own = next(a for a in base.repeat if a.owner_id == member.pk)
    score = run.scores.get(account=own)
    html = render_panel(member, own)
    assert f'class="tier tier-{score.abc_tier}"' in html
    assert score.lifecycle_strategy in html
    assert "P(alive)" in html and "newly scored" in html
    used = run.settings
    assert f"CLV counts {used['margin_percent']:g}% of revenue as margin" in html
    assert f"over the next {used['horizon_months']} months" in html


def test_account_panel_before_scoring_and_for_unseen_accounts(member, outsider, base, admin_user):
    own = next(a for a in base.repeat if a.owner_id == member.pk)
    assert "Not scored yet" in render_panel(member, own)
    services.run_scoring(admin_user)
    hidden = next(a for a in base.repeat if a.owner_id == outsider.pk)
    html = render_panel(member, hidden)
    assert "Not scored yet" in html and 'class="tier ' not in html
