"""Automatic scoring runs: the value settings' schedule queues the next run for the database worker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from patron.errors import Invalid
from patron.value import services
from patron.value.models import RunStatus, ScoreRun

pytestmark = pytest.mark.django_db


def at(text: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(text))


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        ("daily", "2026-11-23 01:30", "2026-11-23 02:00"),
        ("daily", "2026-11-23 02:00", "2026-11-24 02:00"),
        ("weekly", "2026-11-23 01:00", "2026-11-23 02:00"),  # a Monday
        ("weekly", "2026-11-25 09:00", "2026-11-30 02:00"),
        ("monthly", "2026-11-01 01:59", "2026-11-01 02:00"),
        ("monthly", "2026-11-23 09:00", "2026-12-01 02:00"),
        ("monthly", "2026-12-05 09:00", "2027-01-01 02:00"),
    ],
)
def test_next_slot_is_the_first_scheduled_time_after_now(schedule, now, expected):
    assert services.next_slot(schedule, 2, at(now)) == at(expected)


def test_no_slot_when_the_schedule_is_off():
    assert services.next_slot("off", 2, timezone.now()) is None


def test_choosing_a_schedule_queues_one_run_for_the_worker_at_that_time(admin_user):
    saved = services.update_settings(admin_user, {"schedule": "daily", "schedule_hour": 3})
    task = DBTaskResult.objects.get()
    assert task.task_path == "patron.value.tasks.scheduled_scoring"
    assert task.run_after == saved.next_scheduled_at
    assert timezone.localtime(saved.next_scheduled_at).hour == 3
    services.update_settings(admin_user, {"schedule": "daily", "schedule_hour": 3, "margin_percent": 40})
    assert DBTaskResult.objects.count() == 1


def test_turning_the_schedule_off_leaves_the_queued_run_with_nothing_to_do(admin_user, base):
    services.update_settings(admin_user, {"schedule": "weekly"})
    slot = services.get_settings().next_scheduled_at
    services.update_settings(admin_user, {"schedule": "off"})
    assert services.get_settings().next_scheduled_at is None
    assert services.run_scheduled(slot.isoformat()) is None
    assert not ScoreRun.objects.exists()


def test_an_hour_outside_the_day_is_refused(admin_user):
    with pytest.raises(Invalid) as refused:
        services.update_settings(admin_user, {"schedule": "daily", "schedule_hour": 24})
    assert refused.value.field == "schedule_hour"


@pytest.mark.django_db(transaction=True)
def test_the_worker_scores_at_the_slot_and_queues_the_next(admin_user, base):
    services.update_settings(admin_user, {"schedule": "daily", "schedule_hour": 2})
    first = services.get_settings().next_scheduled_at
    DBTaskResult.objects.update(run_after=timezone.now() - dt.timedelta(seconds=1))  # the slot has come
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)
    run = ScoreRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.requested_by is None
    assert run.scores.count() == len(base.with_orders)
    assert services.get_settings().next_scheduled_at == first + dt.timedelta(days=1)
    queued = DBTaskResult.objects.filter(status="READY").get()
    assert queued.run_after == first + dt.timedelta(days=1)


def test_the_settings_page_and_dashboard_say_when_the_next_run_is(client, admin_user, base):
    services.update_settings(admin_user, {"schedule": "monthly"})
    client.force_login(admin_user)
    assert "Next automatic run" in client.get("/value/settings/").content.decode()
    assert "Next automatic run" in client.get("/value/").content.decode()


def test_the_api_reads_and_changes_the_schedule(api_for, admin_user):
    changed = api_for(admin_user).patch("/value/settings", {"schedule": "daily", "schedule_hour": 5})
    assert changed.status_code == 200
    body = changed.json()
    assert body["schedule"] == "daily" and body["schedule_hour"] == 5 and body["next_scheduled_at"]
    assert api_for(admin_user).patch("/value/settings", {"schedule": "hourly"}).status_code == 422
