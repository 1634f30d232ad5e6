"""Monthly ARPU tiers on the dashboard use the last complete calendar month; tier choices follow the settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import pairwise

import pyarrow as pa
import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from patron.analytics import segments as seg
from patron.value import charts, services
from patron.value.models import ValueSettings
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_last_complete_month():
    assert services.last_complete_month(dt.date(2026, 11, 23)) == dt.date(2026, 10, 1)
    assert services.last_complete_month(dt.date(2026, 11, 1)) == dt.date(2026, 10, 1)
    assert services.last_complete_month(dt.date(2026, 11, 30)) == dt.date(2026, 11, 1)
    assert services.last_complete_month(dt.date(2026, 1, 5)) == dt.date(2025, 12, 1)


def monthly(rows: list[tuple[str, str, float]]) -> pa.Table:
    rows = sorted(rows)
    table = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "month": pa.array([dt.date.fromisoformat(r[1]) for r in rows], pa.date32()),
            "revenue": [r[2] for r in rows],
        }
    )
    return seg.arpu_tiers(table, thresholds=(100.0, 500.0))


def test_moves_into_the_last_complete_month_leave_the_running_month_out():
    tiers = monthly(
        [
            ("c1", "2026-09-01", 600.0),
            ("c1", "2026-10-01", 50.0),  # high -> low
            ("c2", "2026-09-01", 600.0),
            ("c2", "2026-11-01", 700.0),  # high -> no purchase in October
            ("c3", "2026-08-01", 200.0),
            ("c3", "2026-10-01", 200.0),  # came back: gone -> middle
            ("c4", "2026-10-01", 800.0),  # new -> high
            ("c5", "2026-11-01", 300.0),  # only in the running month: not counted
            ("c6", "2026-09-01", 200.0),
            ("c6", "2026-10-01", 300.0),  # middle -> middle
        ]
    )
    found = services.monthly_arpu_summary(tiers, dt.date(2026, 11, 3))
    assert found["month"] == "2026-10-01" and found["previous_month"] == "2026-09-01"
    moves = {(a, b): n for a, row in found["matrix"].items() for b, n in row.items() if n}
    assert moves == {
        ("high", "low"): 1,
        ("high", "gone"): 1,
        ("gone", "middle"): 1,
        ("new", "high"): 1,
        ("middle", "middle"): 1,
    }
    # The same moves the engine counts for October.
    assert found["matrix"] == seg.transition_matrix(seg.arpu_transitions(tiers), month="2026-10-01")
    assert [(t["name"], t["accounts"], t["revenue"]) for t in found["tiers"]] == [
        ("high", 1, 800.0),
        ("middle", 2, 500.0),
        ("low", 1, 50.0),
    ]
    assert found["tiers"][0]["revenue_share"] == pytest.approx(800 / 1350)
    # On the last day of November, November is complete.
    assert services.monthly_arpu_summary(tiers, dt.date(2026, 11, 30))["month"] == "2026-11-01"
    assert services.monthly_arpu_summary(tiers, dt.date(2026, 8, 10)) is None  # nothing in June or July


def test_a_run_early_in_a_month_compares_the_two_months_before(base, admin_user):
    end = services.last_complete_month(base.today) + dt.timedelta(days=2)
    OrderFactory(account=base.repeat[0], ordered_at=end, amount=Decimal("120.00"))
    run = services.run_scoring(admin_user, observation_end=end)
    arpu = run.summary["arpu_transitions"]
    expected = services.last_complete_month(end)
    assert arpu["month"] == expected.isoformat()
    assert arpu["previous_month"] == services.last_complete_month(expected - dt.timedelta(days=1)).isoformat()
    assert [row["name"] for row in arpu["tiers"]] == ["high", "middle", "low"]
    named = [row["name"] for row in run.summary["arpu"]]
    assert named == [name for name in ("high", "middle", "low") if name in named]

    client = Client()
    client.force_login(admin_user)
    html = client.get(reverse("value:dashboard")).content.decode()
    table = html[html.index('id="arpu-month-tiers"') :]
    table = table[: table.index("</table>")]
    assert table.index("High") < table.index("Middle") < table.index("Low")
    assert f"Moves from {_month(arpu['previous_month'])} to {_month(arpu['month'])}" in html
    assert "the last complete calendar month" in html


def _month(iso: str) -> str:
    from django.utils.formats import date_format

    return date_format(dt.date.fromisoformat(iso), "YEAR_MONTH_FORMAT")


def test_tier_choices_follow_the_settings(admin_user):
    assert services.tier_choices() == [("A", "A"), ("B", "B"), ("C", "C"), ("D", "D")]
    services.update_settings(admin_user, {"abc_shares": [0.1, 0.1, 0.2, 0.2, 0.2, 0.2]})
    assert [value for value, _label in services.tier_choices()] == ["A", "B", "C", "D", "E", "F"]
    services.update_settings(admin_user, {"abc_method": "cumulative", "abc_cumulative": [0.8, 0.2]})
    assert services.tier_choices() == [("A", "A"), ("B", "B")]
    assert services.tier_choices(ValueSettings(abc_method="share", abc_shares=[0.5, 0.3, 0.2])) == [
        ("A", "A"),
        ("B", "B"),
        ("C", "C"),
    ]


def test_many_histogram_bins_get_slanted_labels_that_do_not_overlap():
    edges = services.histogram_edges(2_500_000)
    labels = [f"{charts.fmt_compact(low)}–{charts.fmt_compact(high)}" for low, high in pairwise(edges)]
    chart = charts.bar_chart(labels, [{"name": "Accounts", "values": list(range(len(labels)))}], title="t", y_label="y")
    assert chart["slanted"]
    written = [tick for tick in chart["x_ticks"] if tick["label"]]
    # Slanted labels sit one text line apart at least, and the chart grew to keep them off the axis title.
    assert all(b["x"] - a["x"] >= charts.LABEL_LINE_HEIGHT for a, b in pairwise(written))
    assert chart["height"] - chart["box"]["bottom"] > charts.MARGIN["bottom"]
    few = charts.bar_chart(["A", "B", "C"], [{"name": "n", "values": [1, 2, 3]}], title="t", y_label="y")
    assert not few["slanted"] and few["height"] == charts.HEIGHT


def test_the_dashboard_histogram_slants_its_labels_when_bins_are_many(admin_user):
    from patron.value.views import _dashboard_charts

    edges = [0.0, *services.histogram_edges(4_000_000)]
    bins = [{"low": low, "high": high, "accounts": 5} for low, high in pairwise(edges)]
    run = type("Run", (), {"settings": {}})()
    chart = _dashboard_charts({"clv_histogram": {"bins": bins, "without_clv": 0}}, run)["histogram"]
    assert chart["slanted"] and len(chart["x_ticks"]) == len(bins)
    html = Template('{% include "value/charts/bars.html" %}').render(Context({"chart": chart}))
    assert html.count('class="tick-slanted"') == len([t for t in chart["x_ticks"] if t["label"]])
    assert "rotate(-40" in html
