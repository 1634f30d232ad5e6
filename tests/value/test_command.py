"""``patron score``: recompute the whole base from the command line, or queue it for the worker."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django_tasks_db.models import DBTaskResult

from patron.cli import _is_file_scoring
from patron.value.models import RunStatus, ScoreRun

pytestmark = pytest.mark.django_db


def test_score_recomputes_every_account_and_prints_a_summary(base):
    out = io.StringIO()
    call_command("score", stdout=out)
    run = ScoreRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert run.customers_scored == len(base.with_orders)
    text = out.getvalue()
    assert f"Run {run.pk}: {len(base.with_orders)} accounts" in text
    assert "ABC tiers" in text and "Lifecycle classes" in text and "bgnbd: LL" in text


def test_score_quiet_skips_the_progress_bar(base):
    out = io.StringIO()
    call_command("score", "--quiet", "--engine", "duckdb", stdout=out)
    assert "Reading orders" not in out.getvalue()
    assert ScoreRun.objects.get().engine == "duckdb"


def test_score_background_queues_a_run(base):
    out = io.StringIO()
    call_command("score", "--background", stdout=out)
    run = ScoreRun.objects.get()
    assert run.status == RunStatus.QUEUED and run.requested_by is None
    assert DBTaskResult.objects.count() == 1
    assert "db_worker" in out.getvalue()
    with pytest.raises(CommandError, match="already queued"):
        call_command("score", "--background", stdout=io.StringIO())


def test_score_without_orders_fails_clearly():
    with pytest.raises(CommandError, match="no orders"):
        call_command("score", "--quiet", stdout=io.StringIO())
    assert ScoreRun.objects.get().status == RunStatus.FAILED


def test_a_file_argument_goes_to_the_analytics_cli_and_options_to_the_crm():
    assert _is_file_scoring(["patron", "score", "orders.csv"])
    assert not _is_file_scoring(["patron", "score", "--engine", "spark"])
    assert not _is_file_scoring(["patron", "score"])
