"""The background scoring task: queued for the database worker, run by it, or run at once in tests."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from patron.value import services
from patron.value.models import RunStatus, ScoreRun
from patron.value.tasks import score_all

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def test_enqueue_stores_the_task_for_the_database_worker(base, manager):
    run = services.enqueue_scoring(manager)
    assert run.status == RunStatus.QUEUED
    task = DBTaskResult.objects.get()
    assert task.task_path == "patron.value.tasks.score_all"
    assert task.args_kwargs["kwargs"] == {"run_id": run.pk, "engine": "duckdb"}


@pytest.mark.django_db(transaction=True)
def test_the_database_worker_runs_the_queued_run(base, manager):
    # The worker runs in autocommit mode as in production (it closes connections left in a transaction).
    run = services.enqueue_scoring(manager)
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.scores.count() == len(base.with_orders)
    task = DBTaskResult.objects.get()
    assert task.status == "SUCCESSFUL"
    assert task.return_value["run_id"] == run.pk
    assert task.return_value["customers_scored"] == len(base.with_orders)


@override_settings(TASKS=IMMEDIATE)
def test_the_immediate_backend_scores_at_once(base):
    result = score_all.enqueue()
    assert result.status == "SUCCESSFUL"
    run = ScoreRun.objects.get(pk=result.return_value["run_id"])
    assert run.status == RunStatus.SUCCEEDED
    assert run.customers_scored == len(base.with_orders)


@override_settings(TASKS=IMMEDIATE)
def test_a_failing_task_leaves_the_run_failed_with_its_reason(manager):
    run = services.enqueue_scoring(manager)
    assert run.status == RunStatus.FAILED
    assert "no orders" in run.error
