"""Scoring inside the CRM: one run, one score per account with orders, tiers as configured, honest failures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from patron.errors import Conflict, Gone, Invalid
from patron.value import services
from patron.value.models import AccountScore, RunStatus, ScoreRun
from tests.factories import OrderFactory, SubscriptionFactory
from tests.value.conftest import add_product_lines

pytestmark = pytest.mark.django_db


def test_a_run_scores_every_account_with_orders_once(base, admin_user):
    run = services.run_scoring(admin_user)

    assert run.status == RunStatus.SUCCEEDED
    assert run.requested_by == admin_user
    assert run.observation_end == base.today
    assert run.warnings == []
    scored = set(AccountScore.objects.filter(run=run).values_list("account_id", flat=True))
    assert scored == {account.pk for account in base.with_orders}
    assert run.customers_scored == len(base.with_orders)
    assert run.orders_read == sum(account.orders.count() for account in base.with_orders)
    assert set(run.fits) == {"bgnbd", "gammagamma"}
    assert all(fit["converged"] and fit["params"] for fit in run.fits.values())
    assert {"read", "score", "diagnostics", "write"} <= set(run.timings)


def test_scores_hold_the_summary_and_the_predictions(base, admin_user):
    run = services.run_scoring(admin_user)
    steady = base.repeat[0]
    score = AccountScore.objects.get(run=run, account=steady)
    orders = list(steady.orders.order_by("ordered_at"))

    assert score.orders == len(orders)
    assert score.frequency == len({o.ordered_at for o in orders}) - 1
    assert score.revenue == pytest.approx(float(sum(o.amount for o in orders)))
    assert score.first_order == orders[0].ordered_at
    assert score.last_order == orders[-1].ordered_at
    assert 0 <= score.p_alive <= 1
    assert score.expected_purchases > 0
    assert score.clv > 0
    assert score.abc_tier in "ABCD"
    assert 1 <= score.rfm_r <= 5 and score.rfm_segment
    assert score.lifecycle_class in {"sleeping", "fast_growing", "loyal", "worth_nurturing", "steady"}
    assert score.lifecycle_strategy == run.settings["lifecycle_strategies"][score.lifecycle_class]


def test_accounts_that_stopped_buying_are_less_alive_than_steady_buyers(base, admin_user):
    run = services.run_scoring(admin_user)
    scores = AccountScore.objects.filter(run=run)
    stopped = [s.p_alive for s in scores.filter(account__in=base.stopped)]
    steady = [s.p_alive for s in scores.filter(account__in=base.repeat, last_order__gte=base.today - dt.timedelta(60))]
    assert sum(stopped) / len(stopped) < sum(steady) / len(steady)
    assert scores.filter(account__in=base.stopped, lifecycle_class="sleeping").count() >= len(base.stopped) // 2


def test_tiers_hold_the_configured_shares_of_accounts(base, admin_user):
    run = services.run_scoring(admin_user)
    count = len(base.with_orders)
    shares = run.settings["segments"]["abc_shares"]
    bounds, total = [], 0.0
    for share in shares:
        total += share
        bounds.append(round(total * count))
    expected = dict(zip("ABCD", [b - a for a, b in zip([0, *bounds], bounds, strict=False)], strict=True))
    found = {row["name"]: row["accounts"] for row in run.summary["tiers"]}
    assert found == expected
    assert sum(row["account_share"] for row in run.summary["tiers"]) == pytest.approx(1.0)
    assert sum(row["revenue_share"] for row in run.summary["tiers"]) == pytest.approx(1.0)
    # A holds the accounts with the most revenue.
    scores = AccountScore.objects.filter(run=run)
    assert min(scores.filter(abc_tier="A").values_list("revenue", flat=True)) >= max(
        scores.filter(abc_tier="B").values_list("revenue", flat=True)
    )


def test_cumulative_mode_puts_the_pareto_80_percent_in_a(base, admin_user):
    services.update_settings(admin_user, {"abc_method": "cumulative", "abc_cumulative": [0.8, 0.15, 0.05]})
    run = services.run_scoring(admin_user)
    a_rows = list(AccountScore.objects.filter(run=run, abc_tier="A").order_by("revenue"))
    total = sum(AccountScore.objects.filter(run=run).values_list("revenue", flat=True))
    a_share = sum(s.revenue for s in a_rows) / total
    # A makes up at least 80% of revenue, and without its smallest member it would not.
    assert a_share >= 0.8
    assert (a_share - a_rows[0].revenue / total) < 0.8
    assert {row["name"] for row in run.summary["tiers"]} <= {"A", "B", "C"}


def test_too_few_repeat_buyers_is_a_warning_with_no_lifetime_numbers(thin_base, admin_user):
    run = services.run_scoring(admin_user)

    assert run.status == RunStatus.SUCCEEDED
    assert any("BG/NBD" in w and "at least 10" in w for w in run.warnings)
    assert any("Gamma-Gamma" in w for w in run.warnings)
    assert run.fits == {"bgnbd": None, "gammagamma": None}
    scores = AccountScore.objects.filter(run=run)
    assert scores.count() == len(thin_base.with_orders)
    assert not scores.filter(clv__isnull=False).exists()
    assert not scores.filter(p_alive__isnull=False).exists()
    # Tiers and RFM do not need the models.
    assert not scores.filter(abc_tier="").exists()
    assert run.summary["clv_histogram"] == {"bins": [], "without_clv": len(thin_base.with_orders)}


def test_a_second_run_records_previous_tiers_and_transitions(base, admin_user):
    first = services.run_scoring(admin_user)
    newcomer = base.without_orders[0]
    OrderFactory(account=newcomer, ordered_at=base.today, amount=Decimal("90000.00"))
    second = services.run_scoring(admin_user)

    assert second.previous_run == first
    new_score = AccountScore.objects.get(run=second, account=newcomer)
    assert new_score.previous_abc_tier == "" and new_score.abc_tier == "A"
    kept = AccountScore.objects.get(run=second, account=base.repeat[0])
    before = AccountScore.objects.get(run=first, account=base.repeat[0])
    assert kept.previous_abc_tier == before.abc_tier
    assert kept.previous_clv == pytest.approx(before.clv)
    transitions = second.summary["transitions"]
    assert transitions["from_run"] == first.pk and transitions["to_run"] == second.pk
    assert transitions["matrix"]["new"]["A"] == 1
    moved = sum(sum(row.values()) for row in transitions["matrix"].values())
    assert moved == second.customers_scored
    # The same matrix computed by joining the two runs (any pair of runs) agrees with the stored one.
    second.previous_run = None
    assert services.tier_transitions(first, second)["matrix"] == transitions["matrix"]


def test_product_groups_are_counted_from_order_lines(base, admin_user):
    add_product_lines(base.repeat[1])
    run = services.run_scoring(admin_user)
    score = AccountScore.objects.get(run=run, account=base.repeat[1])
    other = AccountScore.objects.get(run=run, account=base.repeat[2])
    assert score.product_groups == 2
    assert other.product_groups == 0
    # Splitting orders by product group changes neither the order count nor the revenue.
    assert score.orders == base.repeat[1].orders.count()
    assert score.revenue == pytest.approx(float(sum(o.amount for o in base.repeat[1].orders.all())))


def test_running_subscriptions_count_as_monthly_revenue(base, admin_user):
    account = base.one_off[0]
    SubscriptionFactory(account=account, monthly_amount=Decimal("750.00"), started_on=base.today - dt.timedelta(400))
    run = services.run_scoring(admin_user)
    score = AccountScore.objects.get(run=run, account=account)
    assert score.arpu == pytest.approx(750.0)
    assert score.arpu_tier in {"high", "middle", "low"}


def test_settings_used_are_recorded_with_the_run(base, admin_user):
    services.update_settings(
        admin_user, {"horizon_months": 6, "margin_percent": 40, "strategy_loyal": "Invite to advisory board"}
    )
    run = services.run_scoring(admin_user)
    assert run.settings["horizon_months"] == 6
    assert run.settings["horizon"] == 26
    assert run.settings["margin_percent"] == 40
    assert run.settings["lifecycle_strategies"]["loyal"] == "Invite to advisory board"


def test_the_holdout_check_compares_predicted_and_actual_purchases(base, admin_user):
    run = services.run_scoring(admin_user)
    diagnostics = run.diagnostics
    assert diagnostics["model"] == "bgnbd"
    assert diagnostics["calibration_end"] < diagnostics["holdout_end"]
    rows = diagnostics["by_frequency"]
    assert [row["label"] for row in rows][-1] == "7+"
    assert sum(row["customers"] for row in rows) <= run.customers_scored
    assert any(row["actual_total"] > 0 for row in rows)
    tracking = diagnostics["tracking"]
    assert tracking[-1]["actual"] >= tracking[0]["actual"]
    assert tracking[-1]["expected"] > 0


def test_no_orders_fails_the_run_with_the_reason(admin_user):
    with pytest.raises(Invalid, match="no orders"):
        services.run_scoring(admin_user)
    run = ScoreRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "no orders" in run.error
    assert services.latest_run() is None


def test_a_second_run_is_refused_while_one_is_running(base, admin_user):
    ScoreRun.objects.create(status=RunStatus.RUNNING, started_at=base_now())
    with pytest.raises(Conflict):
        services.run_scoring(admin_user)


def test_scoring_a_queued_run_twice_is_refused(base, admin_user):
    run = services.run_scoring(admin_user)
    with pytest.raises(Conflict):
        services.run_scoring(admin_user, run=run.pk)


def base_now():
    from django.utils import timezone

    return timezone.now()


def test_a_run_left_running_for_hours_is_marked_abandoned(base, admin_user):
    stuck = ScoreRun.objects.create(status=RunStatus.RUNNING, started_at=base_now() - dt.timedelta(hours=7))
    run = services.run_scoring(admin_user)
    stuck.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert stuck.status == RunStatus.FAILED and "Abandoned" in stuck.error


def test_runs_beyond_the_retention_setting_lose_their_account_scores_but_keep_their_summaries(base, admin_user):
    services.update_settings(admin_user, {"runs_kept": 2})
    first, second, third = (services.run_scoring(admin_user) for _ in range(3))

    first.refresh_from_db()
    assert first.scores_removed_at is not None
    assert not AccountScore.objects.filter(run=first).exists()
    assert first.summary["tiers"] and first.fits and first.pareto
    for kept in (second, third):
        kept.refresh_from_db()
        assert kept.scores_removed_at is None
        assert AccountScore.objects.filter(run=kept).count() == kept.customers_scored
    assert "retention" in third.timings
    # The latest run is still compared with the one before, which is kept.
    assert services.tier_transitions(second, third)["to_run"] == third.pk


def test_scores_of_a_run_whose_scores_were_removed_are_gone_with_the_reason(base, admin_user):
    first = services.run_scoring(admin_user)
    second = services.run_scoring(admin_user)
    assert services.remove_old_scores(keep=1) == [first.pk]
    assert services.remove_old_scores(keep=1) == []

    with pytest.raises(Gone, match=f"scoring run {first.pk} were removed"):
        services.scores_query(admin_user, {"run": first.pk})
    first.refresh_from_db()
    with pytest.raises(Gone):
        services.tier_transitions(first, second)
    assert services.scores_query(admin_user, {"run": second.pk})[1].count() == second.customers_scored


def test_fewer_than_two_runs_kept_is_refused(admin_user):
    with pytest.raises(Invalid) as refused:
        services.update_settings(admin_user, {"runs_kept": 1})
    assert refused.value.field == "runs_kept"
