"""Customer value through the API: who sees which scores, what each endpoint answers, and bad requests."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import override_settings

from patron.value import services
from patron.value.models import AccountScore, RunStatus, ScoreRun

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def run(base, admin_user):
    return services.run_scoring(admin_user)


@pytest.mark.parametrize(
    "path",
    [
        "/value/runs",
        "/value/runs/1",
        "/value/scores",
        "/value/scores/export.csv",
        "/value/accounts/1",
        "/value/segments",
    ],
)
def test_anonymous_gets_401(api_for, path):
    assert api_for(None).get(path).status_code == 401


def test_runs_list_and_detail(api_for, member, run):
    listed = api_for(member).get("/value/runs")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [run.pk]
    assert "fits" not in listed.json()["items"][0]

    detail = api_for(member).get(f"/value/runs/{run.pk}").json()
    assert detail["status"] == "succeeded"
    assert detail["fits"]["bgnbd"]["params"].keys() == {"r", "alpha", "a", "b"}
    assert detail["fits"]["bgnbd"]["converged"] is True
    assert len(detail["pareto"]) == 100 and detail["pareto"][-1]["value_share"] == pytest.approx(1.0)
    assert detail["diagnostics"]["by_frequency"]
    assert api_for(member).get(f"/value/runs/{run.pk + 100}").status_code == 404


def test_member_sees_only_their_accounts_scores(api_for, member, run, base):
    response = api_for(member).get("/value/scores?limit=500")
    assert response.status_code == 200
    ids = {row["account_id"] for row in response.json()["items"]}
    own = {a.pk for a in base.with_orders if a.owner_id == member.pk}
    assert ids == own
    assert all(row["lifecycle_strategy"] for row in response.json()["items"])


def test_scores_filter_by_tier_and_lifecycle_class(api_for, admin_user, run):
    body = api_for(admin_user).get("/value/scores?tier=A&limit=500").json()
    assert body["items"] and {row["abc_tier"] for row in body["items"]} == {"A"}
    assert len(body["items"]) == AccountScore.objects.filter(run=run, abc_tier="A").count()
    sleeping = api_for(admin_user).get("/value/scores?lifecycle_class=sleeping&limit=500").json()["items"]
    assert {row["lifecycle_class"] for row in sleeping} == {"sleeping"}
    segment = AccountScore.objects.filter(run=run).values_list("rfm_segment", flat=True).first()
    by_rfm = api_for(admin_user).get(f"/value/scores?rfm_segment={segment}&limit=500").json()["items"]
    assert by_rfm and {row["rfm_segment"] for row in by_rfm} == {segment}


@pytest.mark.parametrize("order", ["-clv", "clv", "-p_alive", "p_alive", "-revenue", "revenue", "account"])
def test_keyset_pages_cover_every_visible_score_once_in_order(api_for, admin_user, run, order):
    seen, cursor = [], None
    while True:
        url = f"/value/scores?order={order}&limit=7" + (f"&cursor={cursor}" if cursor else "")
        body = api_for(admin_user).get(url).json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == run.customers_scored == len({row["account_id"] for row in seen})
    name = "account_id" if order == "account" else order.lstrip("-")
    values = [row[name] for row in seen if row[name] is not None]
    assert values == sorted(values, reverse=order.startswith("-"))


def test_scores_without_clv_come_last(api_for, admin_user, run):
    AccountScore.objects.filter(run=run, abc_tier="D").update(clv=None)
    rows = []
    cursor = None
    while True:
        body = (
            api_for(admin_user).get("/value/scores?order=-clv&limit=9" + (f"&cursor={cursor}" if cursor else "")).json()
        )
        rows += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(rows) == run.customers_scored
    nulls = [i for i, row in enumerate(rows) if row["clv"] is None]
    assert nulls == list(range(len(rows) - len(nulls), len(rows)))


def test_bad_order_and_forged_cursor_are_422(api_for, admin_user, run):
    bad_order = api_for(admin_user).get("/value/scores?order=name")
    assert bad_order.status_code == 422 and bad_order.json()["field"] == "order"
    forged = api_for(admin_user).get("/value/scores?cursor=bm90LWEtY3Vyc29y")
    assert forged.status_code == 422 and forged.json()["field"] == "cursor"


def test_scores_before_the_first_run_are_an_empty_page(api_for, member):
    body = api_for(member).get("/value/scores").json()
    assert body == {"items": [], "next_cursor": None}


def test_account_value_is_404_for_accounts_the_member_may_not_see(api_for, member, outsider, run, base):
    hidden = next(a for a in base.with_orders if a.owner_id == outsider.pk)
    own = next(a for a in base.repeat if a.owner_id == member.pk)
    assert api_for(member).get(f"/value/accounts/{hidden.pk}").status_code == 404
    assert api_for(member).get("/value/accounts/999999").status_code == 404
    body = api_for(member).get(f"/value/accounts/{own.pk}").json()
    assert body["latest"]["account_id"] == own.pk
    assert body["latest"]["abc_tier"] and body["strategy"]
    assert body["is_current"] is True
    assert [row["run_id"] for row in body["history"]] == [run.pk]


def test_account_without_orders_has_no_value_yet(api_for, admin_user, run, base):
    body = api_for(admin_user).get(f"/value/accounts/{base.without_orders[0].pk}").json()
    assert body == {
        "account_id": base.without_orders[0].pk,
        "latest": None,
        "run": None,
        "is_current": False,
        "strategy": "",
        "tier_change": 0,
        "clv_change": None,
        "history": [],
    }


def test_account_history_spans_runs(api_for, admin_user, base):
    services.run_scoring(admin_user)
    second = services.run_scoring(admin_user)
    body = api_for(admin_user).get(f"/value/accounts/{base.repeat[0].pk}").json()
    assert [row["run_id"] for row in body["history"]] == [second.pk, second.pk - 1]
    assert body["latest"]["previous_abc_tier"] == body["history"][1]["abc_tier"]


def test_segments(api_for, admin_user, member, run, base):
    assert api_for(admin_user).get("/value/segments").status_code == 200
    everything = api_for(member).get("/value/segments").json()
    assert everything["scope"] == "all"
    assert sum(row["accounts"] for row in everything["tiers"]) == run.customers_scored
    assert {row["name"] for row in everything["lifecycle"]} == {
        "sleeping",
        "fast_growing",
        "loyal",
        "worth_nurturing",
        "steady",
    }
    assert all(row["strategy"] for row in everything["lifecycle"])
    assert sum(row["accounts"] for row in everything["rfm"]) == run.customers_scored
    visible = api_for(member).get("/value/segments?scope=visible").json()
    own = [a for a in base.with_orders if a.owner_id == member.pk]
    assert visible["scope"] == "visible"
    assert sum(row["accounts"] for row in visible["tiers"]) == len(own)
    assert visible["totals"]["accounts"] == len(own)
    assert api_for(member).get("/value/segments?scope=mine").status_code == 422


def test_segments_before_the_first_run_is_404(api_for, member):
    response = api_for(member).get("/value/segments")
    assert response.status_code == 404
    assert "No scoring run" in response.json()["message"]


def test_transitions_between_two_runs(api_for, admin_user, base):
    first = services.run_scoring(admin_user)
    assert api_for(admin_user).get("/value/transitions").status_code == 404
    second = services.run_scoring(admin_user)
    body = api_for(admin_user).get("/value/transitions").json()
    assert (body["from_run"], body["to_run"]) == (first.pk, second.pk)
    assert sum(body["matrix"][tier][tier] for tier in body["tiers"]) == second.customers_scored


def test_scores_removed_by_retention_are_410_with_the_reason(api_for, admin_user, base):
    first = services.run_scoring(admin_user)
    services.run_scoring(admin_user)
    services.remove_old_scores(keep=1)
    client = api_for(admin_user)
    for path in (f"/value/scores?run={first.pk}", f"/value/scores/export.csv?run={first.pk}",
                 f"/value/transitions?from_run={first.pk}"):
        response = client.get(path)
        assert response.status_code == 410, path
        assert "retention setting" in response.json()["message"]
    detail = client.get(f"/value/runs/{first.pk}").json()
    assert detail["scores_removed_at"] is not None and detail["summary"]


def test_members_may_not_start_a_run(api_for, member):
    response = api_for(member).post("/value/runs", {})
    assert response.status_code == 403
    assert not ScoreRun.objects.exists()


def test_managers_enqueue_a_run_for_the_worker(api_for, manager, base):
    response = api_for(manager).post("/value/runs", {})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert ScoreRun.objects.get(pk=body["id"]).requested_by == manager
    again = api_for(manager).post("/value/runs", {})
    assert again.status_code == 409


@override_settings(TASKS=IMMEDIATE)
def test_an_immediate_backend_runs_the_enqueued_run(api_for, admin_user, base):
    response = api_for(admin_user).post("/value/runs", {"engine": "duckdb"})
    assert response.status_code == 202
    run = ScoreRun.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.SUCCEEDED
    assert run.scores.count() == len(base.with_orders)


def test_csv_export_holds_the_visible_scores(api_for, member, run, base):
    response = api_for(member).get("/value/scores/export.csv?order=-revenue")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    own = {a.pk for a in base.with_orders if a.owner_id == member.pk}
    assert {int(row["account_id"]) for row in rows} == own
    revenue = [float(row["revenue"]) for row in rows]
    assert revenue == sorted(revenue, reverse=True)
    assert all(row["abc_tier"] and row["lifecycle_strategy"] for row in rows)
    assert api_for(member).get("/value/scores/export.csv?order=bogus").status_code == 422


def test_settings_read_by_all_changed_by_admins(api_for, admin_user, member):
    assert api_for(member).get("/value/settings").json()["abc_shares"] == [0.2, 0.3, 0.3, 0.2]
    assert api_for(member).patch("/value/settings", {"horizon_months": 24}).status_code == 403
    changed = api_for(admin_user).patch("/value/settings", {"horizon_months": 24, "abc_method": "cumulative"})
    assert changed.status_code == 200
    assert changed.json()["horizon_months"] == 24 and changed.json()["abc_method"] == "cumulative"
    bad = api_for(admin_user).patch("/value/settings", {"abc_shares": [0.5, 0.6]})
    assert bad.status_code == 422
    assert bad.json()["field"] == "abc_shares"
    assert api_for(admin_user).patch("/value/settings", {"abc_method": "median"}).status_code == 422


def test_segments_of_a_failed_run_are_404(api_for, admin_user, run):
    failed = ScoreRun.objects.create(status=RunStatus.FAILED, error="boom")
    assert api_for(admin_user).get(f"/value/runs/{failed.pk}").json()["error"] == "boom"
    assert api_for(admin_user).get(f"/value/segments?run={failed.pk}").status_code == 404
    assert api_for(admin_user).get(f"/value/segments?run={run.pk}").status_code == 200
    assert api_for(admin_user).get(f"/value/transitions?to_run={run.pk}&from_run={failed.pk}").status_code == 404
