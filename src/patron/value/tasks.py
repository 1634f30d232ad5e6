"""Background scoring with django-tasks: the database-backed worker (``patron db_worker``) runs it.

Enqueued by the dashboard's "Recompute" button (admins and managers), ``POST /api/v1/value/runs``,
``patron score --background``, and by the automatic schedule in the value settings (daily, weekly or monthly at an
hour: :func:`scheduled_scoring` queues the next run each time it starts). Without that schedule, run ``patron score`` from cron, e.g.
``0 2 * * * DATABASE_URL=... patron score --quiet``, or enqueue from cron with
``patron score --background`` and keep ``patron db_worker`` running (systemd, supervisord or a container).
"""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def score_all(run_id: int | None = None, engine: str | None = None) -> dict[str, Any]:
    """Score the whole base into the queued run ``run_id`` (or a new run) and return what it did."""
    from patron.value import services

    # run_scoring writes the scores in one transaction of its own and, on failure, records why in the run
    # (outside that transaction, so the reason survives the rollback); so no transaction around it here.
    run = services.run_scoring(run=run_id, engine=engine)
    return {
        "run_id": run.pk,
        "status": run.status,
        "customers_scored": run.customers_scored,
        "warnings": run.warnings,
    }


@task()
def scheduled_scoring(slot: str) -> dict[str, Any]:
    """Score the base for the automatic run due at ``slot`` (ISO time) and queue the next one."""
    from patron.value import services

    run = services.run_scheduled(slot)
    if run is None:
        return {"slot": slot, "skipped": True}
    return {"slot": slot, "run_id": run.pk, "status": run.status, "customers_scored": run.customers_scored}
