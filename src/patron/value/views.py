"""Pages of customer value: the dashboard, model diagnostics, the scores list and the settings."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from patron.analytics.segments import LIFECYCLE_CLASSES, RFM_SEGMENTS
from patron.core.models import User
from patron.errors import Conflict, Forbidden, Invalid
from patron.value import charts, services
from patron.value.forms import ValueSettingsForm
from patron.value.models import TIER_LETTERS, LifecycleClass


def signed_in(request: HttpRequest) -> User:
    """Return the user of a page behind login_required (never anonymous there)."""
    return cast(User, request.user)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Show the customer-value dashboard of the latest run (or how to make the first one)."""
    scope = request.GET.get("scope")
    data = services.dashboard_data(signed_in(request), scope=scope if scope in ("all", "visible") else None)
    segments = data["segments"]
    if segments:
        data["charts"] = _dashboard_charts(segments, data["run"])
        data["transitions"] = _transition_table(segments.get("transitions"))
        data["arpu_transitions"] = _arpu_table(segments.get("arpu_transitions"))
        data["top_share"] = _top_share(segments.get("pareto") or [])
    data["retention"] = services.subscription_retention(signed_in(request))
    data["retention_chart"] = _retention_chart(data["retention"])
    return render(request, "value/dashboard.html", data)


RETENTION_CHART_COHORTS = 3


def _retention_chart(retention: dict[str, Any]) -> dict[str, Any] | None:
    """Draw observed survival (solid) and the sBG projection (dashed) of the latest fitted cohorts."""
    fitted = [c for c in retention["cohorts"] if c["status"] == "fitted"][-RETENTION_CHART_COHORTS:]
    if not fitted:
        return None
    series: list[dict[str, Any]] = []
    for index, cohort in enumerate(fitted):
        css = charts.SERIES_CLASSES[index % len(charts.SERIES_CLASSES)]
        size = cohort["survivors"][0]
        series.append(
            {
                "name": _("%(cohort)s observed") % {"cohort": cohort["cohort"]},
                "points": [(k, n / size) for k, n in enumerate(cohort["survivors"])],
                "css": css,
            }
        )
        last = cohort["observed_periods"]
        series.append(
            {
                "name": _("%(cohort)s projected") % {"cohort": cohort["cohort"]},
                "points": [(last, cohort["survivors"][-1] / size)]
                + [(p["period"], p["survival"]) for p in cohort["projected"]],
                "css": css,
                "dashed": True,
            }
        )
    return charts.line_chart(
        series,
        title=_("Subscription survival by start cohort"),
        x_label=_("Months since start"),
        y_label=_("Share still subscribed"),
        y_max=1.0,
        y_percent=True,
        markers=True,
    )


def _top_share(pareto: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the Pareto point at the top 20% of accounts."""
    for point in pareto:
        if point["top_percent"] >= 20 - 1e-9:
            return point
    return None


def _dashboard_charts(segments: dict[str, Any], run: Any) -> dict[str, Any]:
    pareto = segments.get("pareto") or []
    points = [(0.0, 0.0)] + [(p["top_percent"], p["value_share"]) for p in pareto]
    top = _top_share(pareto)
    notes = []
    if top is not None:
        notes.append(
            {
                "x": top["top_percent"],
                "y": top["value_share"],
                "label": _("Top %(top)s of accounts: %(share)s of value")
                % {
                    "top": charts.fmt_percent(top["top_percent"] / 100),
                    "share": charts.fmt_percent(top["value_share"]),
                },
            }
        )
    basis = _value_basis_label(run)
    result: dict[str, Any] = {
        "pareto": line_or_none(
            points,
            lambda: charts.line_chart(
                [
                    {"name": _("Share of %(basis)s") % {"basis": basis}, "points": points},
                    {
                        "name": _("Equal shares"),
                        "points": [(0.0, 0.0), (100.0, 1.0)],
                        "dashed": True,
                        "css": "series-c",
                    },
                ],
                title=_("Pareto curve"),
                # xgettext:no-python-format
                x_label=_("Top % of accounts"),
                y_label=_("Share of %(basis)s") % {"basis": basis},
                x_max=100,
                y_max=1.0,
                x_percent=True,
                y_percent=True,
                notes=notes,
            ),
        )
    }
    tiers = segments.get("tiers") or []
    if tiers:
        result["tiers"] = charts.bar_chart(
            [row["name"] for row in tiers],
            [
                {"name": _("Share of accounts"), "values": [row["account_share"] for row in tiers]},
                {"name": _("Share of revenue"), "values": [row["revenue_share"] for row in tiers]},
            ],
            title=_("ABC tiers: accounts and revenue"),
            y_label=_("Share"),
            x_label=_("Tier"),
            y_percent=True,
        )
    histogram = segments.get("clv_histogram") or {}
    bins = list(histogram.get("bins", []))
    while bins and not bins[-1]["accounts"]:
        bins.pop()
    while bins and not bins[0]["accounts"]:
        bins.pop(0)
    if bins:
        labels = [
            _("below %(high)s") % {"high": charts.fmt_compact(b["high"])}
            if b["low"] == 0
            else f"{charts.fmt_compact(b['low'])}–{charts.fmt_compact(b['high'])}"
            for b in bins
        ]
        result["histogram"] = charts.bar_chart(
            labels,
            [{"name": _("Accounts"), "values": [b["accounts"] for b in bins]}],
            title=_("CLV distribution"),
            y_label=_("Accounts"),
            x_label=_("CLV (log-spaced bins)"),
        )
    lifecycle = segments.get("lifecycle") or []
    if any(row["accounts"] for row in lifecycle):
        result["lifecycle"] = charts.bar_chart(
            [services.lifecycle_label(row["name"]) for row in lifecycle],
            [{"name": _("Accounts"), "values": [row["accounts"] for row in lifecycle]}],
            title=_("Lifecycle classes"),
            y_label=_("Accounts"),
            height=240,
        )
    return result


def line_or_none(points: list[Any], build: Any) -> dict[str, Any] | None:
    """Build a line chart only when there is more than the origin to draw."""
    return build() if len(points) > 1 else None


def _value_basis_label(run: Any) -> str:
    basis = (run.settings.get("segments") or {}).get("abc_value", "revenue") if run else "revenue"
    return {"revenue": _("revenue"), "margin": _("margin"), "clv": _("CLV")}.get(basis, basis)


def _transition_table(transitions: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return the tier transition matrix as table rows with 'up'/'down'/'same' marks."""
    if not transitions:
        return None
    tiers = transitions["tiers"]
    rows = []
    for source in transitions["rows"]:
        cells = []
        for target in transitions["columns"]:
            count = transitions["matrix"].get(source, {}).get(target, 0)
            mark = ""
            if source in tiers and target in tiers:
                mark = "same" if source == target else ("up" if target < source else "down")
            cells.append({"target": target, "count": count, "mark": mark if count else ""})
        label = _("New") if source == "new" else source
        rows.append({"source": source, "label": label, "cells": cells, "total": sum(c["count"] for c in cells)})
    columns = [_("Not scored") if c == "lost" else c for c in transitions["columns"]]
    return {"columns": columns, "rows": rows, "from_run": transitions["from_run"], "to_run": transitions["to_run"]}


def _arpu_table(arpu: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return the ARPU tier moves into a month as table rows, with the two months compared (older runs: one)."""
    if not arpu:
        return None
    from patron.value.templatetags.value_tags import arpu_label

    columns = ["high", "middle", "low", "gone"]
    names = {"new": _("New"), "gone": _("No purchase")}
    rows = [
        {
            "label": names.get(source) or arpu_label(source),
            "cells": [arpu["matrix"].get(source, {}).get(target, 0) for target in columns],
        }
        for source in ["new", "high", "middle", "low", "gone"]
    ]
    month = dt.date.fromisoformat(arpu["month"])
    previous = arpu.get("previous_month")
    return {
        "month": month,
        "previous_month": dt.date.fromisoformat(previous) if previous else None,
        "columns": [names.get(c) or arpu_label(c) for c in columns],
        "rows": rows,
        "tiers": arpu.get("tiers") or [],
    }


@login_required
@require_POST
def recompute(request: HttpRequest) -> HttpResponse:
    """Queue a scoring run (admins and managers) and go back to the dashboard."""
    try:
        run = services.enqueue_scoring(signed_in(request))
    except Conflict as exc:
        messages.warning(request, exc.message)
    else:
        if run.is_pending:
            messages.success(
                request,
                _("Scoring run %(id)s is queued; the background worker will recompute every account.") % {"id": run.pk},
            )
        elif run.status == "failed":
            messages.error(request, _("Scoring run %(id)s failed: %(error)s") % {"id": run.pk, "error": run.error})
        else:
            messages.success(request, _("Scoring run %(id)s has finished.") % {"id": run.pk})
    return redirect("value:dashboard")


@login_required
def diagnostics(request: HttpRequest) -> HttpResponse:
    """Show the fitted models and how well the transaction model predicted a holdout period."""
    run_id = request.GET.get("run")
    try:
        chosen = int(run_id) if run_id else None
    except ValueError:
        raise Invalid(_("run must be a run id."), field="run") from None
    data = services.diagnostics_data(signed_in(request), chosen)
    found = data["diagnostics"] or {}
    unit = found.get("time_unit") or (data["run"].time_unit if data["run"] else "week")
    unit_label = {"day": _("days"), "week": _("weeks"), "month": _("months")}.get(unit, unit)
    if found.get("by_frequency"):
        rows = found["by_frequency"]
        data["calibration_chart"] = charts.bar_chart(
            [row["label"] for row in rows],
            [
                {
                    "name": _("Actual"),
                    "values": [row["actual"] for row in rows],
                    "labels": [charts.fmt_number(row["actual"], 2) for row in rows],
                },
                {
                    "name": _("Predicted"),
                    "values": [row["predicted"] for row in rows],
                    "labels": [charts.fmt_number(row["predicted"], 2) for row in rows],
                },
            ],
            title=_("Holdout purchases by calibration frequency"),
            y_label=_("Mean purchases in holdout"),
            x_label=_("Repeat purchases in the calibration period"),
        )
    if found.get("tracking"):
        tracking = found["tracking"]
        data["tracking_chart"] = charts.line_chart(
            [
                {"name": _("Actual"), "points": [(row["period"], row["actual"]) for row in tracking]},
                {
                    "name": _("Model"),
                    "points": [(row["period"], row["expected"]) for row in tracking],
                    "dashed": True,
                    "css": "series-b",
                },
            ],
            title=_("Tracking: cumulative repeat purchases"),
            x_label=_("Time (%(unit)s)") % {"unit": unit_label},
            y_label=_("Cumulative repeat purchases"),
        )
        data["tracking_chart_period"] = charts.line_chart(
            [
                {"name": _("Actual"), "points": [(row["period"], row["actual_in_period"]) for row in tracking]},
                {
                    "name": _("Model"),
                    "points": [(row["period"], row["expected_in_period"]) for row in tracking],
                    "dashed": True,
                    "css": "series-b",
                },
            ],
            title=_("Tracking: repeat purchases per period"),
            x_label=_("Time (%(unit)s)") % {"unit": unit_label},
            y_label=_("Repeat purchases"),
        )
        if data["run"] and found.get("calibration_end"):
            data["holdout"] = found
    data["unit_label"] = unit_label
    data["fit_rows"] = _fit_rows(data["fits"])
    return render(request, "value/diagnostics.html", data)


MODEL_LABELS = {"bgnbd": "BG/NBD", "paretonbd": "Pareto/NBD", "gammagamma": "Gamma-Gamma"}


def _fit_rows(fits: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for kind, fit in (fits or {}).items():
        rows.append(
            {
                "kind": kind,
                "label": MODEL_LABELS.get(kind, kind),
                "fit": fit,
                "params": [{"name": name, "value": value} for name, value in ((fit or {}).get("params") or {}).items()],
            }
        )
    return rows


SCORE_ORDERS = (
    ("-clv", gettext_lazy("CLV, highest first")),
    ("clv", gettext_lazy("CLV, lowest first")),
    ("-p_alive", gettext_lazy("P(alive), highest first")),
    ("p_alive", gettext_lazy("P(alive), lowest first")),
    ("-revenue", gettext_lazy("Revenue, highest first")),
    ("revenue", gettext_lazy("Revenue, lowest first")),
)


@login_required
def scores(request: HttpRequest) -> HttpResponse:
    """List the visible accounts' scores, filtered by tier, lifecycle class and RFM segment, sorted."""
    filters = services.ScoreFilters.from_mapping(request.GET)
    order = request.GET.get("order") or "-clv"
    cursor = request.GET.get("cursor")
    page = services.latest_scores(signed_in(request), filters, order, cursor, 50)
    run, _qs = services.scores_query(signed_in(request), filters)
    query = {k: v for k, v in request.GET.items() if k != "cursor" and v}
    next_url = f"?{urlencode({**query, 'cursor': page.next_cursor})}" if page.next_cursor else None
    export_url = "/api/v1/value/scores/export.csv" + (f"?{urlencode(query)}" if query else "")
    return render(
        request,
        "value/scores.html",
        {
            "page": page,
            "run": run,
            "filters": filters,
            "order": order,
            "orders": [(value, str(label)) for value, label in SCORE_ORDERS],
            "tiers": TIER_LETTERS,
            "lifecycle_classes": [(name, services.lifecycle_label(name)) for name in LIFECYCLE_CLASSES],
            "rfm_segments": [(name, services.rfm_label(name)) for name in RFM_SEGMENTS],
            "arpu_tiers": [(name, str(label)) for name, label in services.ARPU_LABELS.items()],
            "filtered": any(getattr(filters, name) for name in services.SCORE_FILTERS),
            "next_url": next_url,
            "first_url": f"?{urlencode(query)}" if cursor else None,
            "export_url": export_url,
            "lifecycle_choices": LifecycleClass,
        },
    )


@login_required
def value_settings(request: HttpRequest) -> HttpResponse:
    """Let admins change how customers are scored (the next run uses the new settings)."""
    if not signed_in(request).is_admin:
        raise Forbidden(_("Only admins may change the value settings."))
    current = services.get_settings()
    form = ValueSettingsForm(request.POST or None, instance=current)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            changed = {name: form.cleaned_data[name] for name in form.fields}
            try:
                services.update_settings(signed_in(request), changed)
            except Invalid as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Value settings saved; the next scoring run uses them."))
                return redirect("value:settings")
        status = 422
    return render(request, "value/settings.html", {"form": form, "settings": current}, status=status)
