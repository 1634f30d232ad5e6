"""API routes of customer value: scoring runs, scores (with CSV export), one account's value, segments.

No ``from __future__ import annotations``: django-ninja reads the route signatures at run time.
"""

import csv
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router

from patron.core.api import check_page_size, current_user
from patron.errors import Invalid, NotFound
from patron.value import schemas, services

router = Router(tags=["value"])


@router.get("/value/runs", response=schemas.RunPage, summary="List scoring runs, newest first")
def list_runs(request: HttpRequest, cursor: str | None = None, limit: int = settings.PATRON_PAGE_SIZE) -> Any:
    """Return one page of scoring runs."""
    check_page_size(limit)
    page = services.list_runs(current_user(request), cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post(
    "/value/runs",
    response={202: schemas.RunOut},
    summary="Recompute customer value in the background (admins and managers)",
)
def enqueue_run(request: HttpRequest, payload: schemas.EnqueueIn | None = None) -> Any:
    """Queue a scoring run for the background worker; 409 while another run is queued or running."""
    engine = payload.engine if payload is not None else None
    return 202, services.enqueue_scoring(current_user(request), engine=engine)


@router.get("/value/runs/{int:run_id}", response=schemas.RunDetailOut, summary="Get one scoring run with its fits")
def get_run(request: HttpRequest, run_id: int) -> Any:
    """Return a run with its settings, fitted models, Pareto curve, diagnostics and summary."""
    return services.get_run(current_user(request), run_id)


@router.get("/value/scores", response=schemas.ScorePage, summary="List the visible accounts' scores")
def list_scores(
    request: HttpRequest,
    filters: schemas.ScoreFiltersIn = Query(...),
    order: str | None = None,
    cursor: str | None = None,
    limit: int = settings.PATRON_PAGE_SIZE,
) -> Any:
    """Return one keyset page of scores of the latest run; order by clv, p_alive, revenue or account."""
    check_page_size(limit)
    page = services.latest_scores(current_user(request), filters.model_dump(), order, cursor, limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


@router.get(
    "/value/scores/export.csv",
    summary="Export the visible accounts' scores as CSV",
    openapi_extra={"responses": {200: {"content": {"text/csv": {}}}}},
)
def export_scores(
    request: HttpRequest, filters: schemas.ScoreFiltersIn = Query(...), order: str | None = None
) -> StreamingHttpResponse:
    """Stream every visible, filtered score of the latest run (or ``run``) as CSV."""
    user = current_user(request)
    rows = services.export_scores(user, filters.model_dump(), order)
    header = next(rows)  # validates the filters and the order before the response starts
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="customer-value-{stamp}.csv"'
    return response


@router.get("/value/accounts/{int:account_id}", response=schemas.AccountValueOut, summary="One account's value")
def account_value(request: HttpRequest, account_id: int) -> Any:
    """Return an account's latest score, strategy and trend, and its history; 404 for unseen accounts."""
    found = services.account_value(current_user(request), account_id)
    if found is None:
        return {"account_id": account_id, "latest": None, "history": []}
    return {
        "account_id": account_id,
        "latest": found["score"],
        "run": found["run"],
        "is_current": found["is_current"],
        "strategy": found["strategy"],
        "tier_change": found["tier_change"],
        "clv_change": found["clv_change"],
        "history": found["history"],
    }


@router.get("/value/segments", response=schemas.SegmentsOut, summary="Tier sizes, lifecycle classes, RFM segments")
def segments(request: HttpRequest, run: int | None = None, scope: str = "all") -> Any:
    """Return the segments of the latest run (or ``run``): the whole base, or ``scope=visible`` accounts."""
    user = current_user(request)
    chosen = services.get_finished_run(user, run) if run is not None else None
    data = services.segments(user, run=chosen, scope=scope)
    if data is None:
        raise NotFound(_("No scoring run has finished yet; start one with POST /api/v1/value/runs."))
    shown = chosen or services.latest_run()
    assert shown is not None  # segments() returned data, so there is a run
    return {**data, "run_id": shown.pk, "observation_end": shown.observation_end}


@router.get("/value/transitions", response=schemas.TransitionsOut, summary="ABC tier changes between two runs")
def transitions(
    request: HttpRequest, from_run: int | None = None, to_run: int | None = None, scope: str = "all"
) -> Any:
    """Return the tier transition matrix from ``from_run`` (default: the run before) to ``to_run`` (latest)."""
    user = current_user(request)
    if scope not in ("all", "visible"):
        raise Invalid(_("scope must be 'all' or 'visible'."), field="scope")
    target = services.get_finished_run(user, to_run) if to_run is not None else services.latest_run()
    if target is None:
        raise NotFound(_("No scoring run has finished yet."))
    source = services.get_finished_run(user, from_run) if from_run is not None else target.previous_run
    if source is None:
        raise NotFound(_("Scoring run %(id)s has no earlier run to compare with.") % {"id": target.pk})
    restrict = scope == "visible" and not services.is_unrestricted(user)
    return services.tier_transitions(source, target, user=user if restrict else None)


@router.get("/value/retention", response=schemas.RetentionOut, summary="Subscription retention by start cohort (sBG)")
def retention(request: HttpRequest, cohort_by: str = "auto", periods: int = 6) -> Any:
    """Fit sBG to each start cohort of the visible subscriptions and project ``periods`` months ahead."""
    return services.subscription_retention(current_user(request), cohort_by=cohort_by, periods=periods)


@router.get("/value/retention/{cohort}", response=schemas.RetentionOut, summary="Subscription retention of one cohort")
def retention_cohort(request: HttpRequest, cohort: str, periods: int = 6) -> Any:
    """Return one cohort (2025-03 or 2025-Q1); 404 when none of the visible subscriptions started in it."""
    return services.subscription_retention(current_user(request), cohort=cohort, periods=periods)


@router.get("/value/settings", response=schemas.SettingsOut, summary="The value settings")
def get_settings(request: HttpRequest) -> Any:
    """Return how customers are scored."""
    return services.get_settings()


@router.patch("/value/settings", response=schemas.SettingsOut, summary="Change the value settings (admins)")
def update_settings(request: HttpRequest, payload: schemas.SettingsPatch) -> Any:
    """Change some value settings; they apply from the next run."""
    return services.update_settings(current_user(request), payload.model_dump(exclude_unset=True))
