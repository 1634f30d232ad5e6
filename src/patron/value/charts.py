"""Geometry of the server-rendered SVG charts: axes, ticks, bars, lines and their value labels.

Functions here return plain dicts of coordinates and (already localised) labels; the templates in
``templates/value/charts/`` draw them. No JavaScript and no chart library: charts work offline and print.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from django.utils.formats import number_format

WIDTH = 640
HEIGHT = 300
MARGIN = {"left": 64, "right": 20, "top": 24, "bottom": 52}
SERIES_CLASSES = ("series-a", "series-b", "series-c")
# Axis labels are drawn at about 12px: a character takes some 7px, a line some 14px.
LABEL_CHAR_WIDTH = 7
LABEL_LINE_HEIGHT = 14
SLANT_DEGREES = 40


def fmt_number(value: float | None, decimals: int = 0) -> str:
    """Return a number formatted for the current language, with thousands grouped."""
    if value is None:
        return "–"
    return number_format(value, decimals, use_l10n=True, force_grouping=True)


def fmt_compact(value: float) -> str:
    """Return a short label for an axis or a bin edge: 950, 1.5k, 20k, 3M."""
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = value / limit
            return f"{fmt_number(scaled, 0 if scaled >= 10 or scaled == int(scaled) else 1)}{suffix}"
    return fmt_number(value, 0 if value == int(value) else 1)


def fmt_percent(share: float | None, decimals: int = 0) -> str:
    """Return a share (0..1) as a percentage label."""
    if share is None:
        return "–"
    return f"{fmt_number(share * 100, decimals)}%"


def nice_step(span: float, ticks: int = 5) -> float:
    """Return a round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * power:
            return multiple * power
    return 10 * power


def _plot_box(width: int, height: int, *, bottom: int | None = None) -> dict[str, float]:
    left, top = MARGIN["left"], MARGIN["top"]
    bottom = MARGIN["bottom"] if bottom is None else bottom
    return {
        "left": left,
        "top": top,
        "right": width - MARGIN["right"],
        "bottom": height - bottom,
        "width": width - MARGIN["left"] - MARGIN["right"],
        "height": height - MARGIN["top"] - bottom,
    }


def _y_ticks(box: dict[str, float], y_max: float, *, percent: bool) -> list[dict[str, Any]]:
    step = nice_step(y_max)
    ticks = []
    value = 0.0
    while value <= y_max * 1.0001:
        y = box["bottom"] - value / y_max * box["height"]
        ticks.append({"y": round(y, 1), "label": fmt_percent(value) if percent else fmt_compact(value)})
        value = round(value + step, 10)
    return ticks


def line_chart(
    series: Sequence[dict[str, Any]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_max: float | None = None,
    y_max: float | None = None,
    x_percent: bool = False,
    y_percent: bool = False,
    x_tick_labels: Sequence[tuple[float, str]] | None = None,
    markers: bool = False,
    notes: Sequence[dict[str, Any]] = (),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> dict[str, Any]:
    """Return a line chart: each series is ``{"name", "points": [(x, y), …], "dashed"?}``.

    ``notes`` mark single points with a label, e.g. ``{"x": 20, "y": 0.8, "label": "Top 20%: 80%"}``.
    """
    box = _plot_box(width, height)
    all_points = [p for s in series for p in s["points"] if p[1] is not None]
    x_max = x_max or max((p[0] for p in all_points), default=1.0) or 1.0
    y_max = y_max or (max((p[1] for p in all_points), default=1.0) * 1.1) or 1.0
    y_max = max(y_max, 1e-9)

    def to_xy(x: float, y: float) -> tuple[float, float]:
        return (
            round(box["left"] + x / x_max * box["width"], 1),
            round(box["bottom"] - min(y, y_max) / y_max * box["height"], 1),
        )

    drawn = []
    for index, item in enumerate(series):
        coordinates = [to_xy(x, y) for x, y in item["points"] if y is not None]
        drawn.append(
            {
                "name": item["name"],
                "css": item.get("css") or SERIES_CLASSES[index % len(SERIES_CLASSES)],
                "dashed": item.get("dashed", False),
                "path": " ".join(f"{x},{y}" for x, y in coordinates),
                "markers": [
                    {"x": cx, "y": cy, "title": f"{item['name']}: {_point_label(px, py, x_percent, y_percent)}"}
                    for (cx, cy), (px, py) in zip(
                        coordinates, [p for p in item["points"] if p[1] is not None], strict=True
                    )
                ]
                if markers
                else [],
            }
        )
    if x_tick_labels is None:
        step = nice_step(x_max)
        x_tick_labels = []
        value = 0.0
        while value <= x_max * 1.0001:
            x_tick_labels.append((value, fmt_percent(value / 100) if x_percent else fmt_compact(value)))
            value = round(value + step, 10)
    x_ticks = [{"x": to_xy(x, 0)[0], "label": label} for x, label in x_tick_labels]
    placed_notes = []
    for note in notes:
        nx, ny = to_xy(note["x"], note["y"])
        placed_notes.append(
            {"x": nx, "y": ny, "label": note["label"], "anchor": "start" if nx < box["right"] - 160 else "end"}
        )
    return {
        "kind": "line",
        "title": title,
        "width": width,
        "height": height,
        "box": box,
        "x_label": x_label,
        "y_label": y_label,
        "x_ticks": x_ticks,
        "y_ticks": _y_ticks(box, y_max, percent=y_percent),
        "series": drawn,
        "notes": placed_notes,
        "legend": len(drawn) > 1,
    }


def _point_label(x: float, y: float, x_percent: bool, y_percent: bool) -> str:
    x_text = fmt_percent(x / 100) if x_percent else fmt_number(x, 0 if x == int(x) else 1)
    y_text = fmt_percent(y, 1) if y_percent else fmt_number(y, 2)
    return f"{x_text} → {y_text}"


def bar_chart(
    categories: Sequence[str],
    series: Sequence[dict[str, Any]],
    *,
    title: str,
    y_label: str,
    x_label: str = "",
    y_percent: bool = False,
    value_labels: bool = True,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> dict[str, Any]:
    """Return a (grouped) bar chart: each series is ``{"name", "values": [...], "labels"?: [...]}``.

    Category labels too wide for their slot are drawn slanted (the chart grows taller to make room), and
    when slots are too narrow even for slanted text only every n-th label is written.
    """
    groups = max(len(categories), 1)
    plot_width = width - MARGIN["left"] - MARGIN["right"]
    slot = plot_width / groups
    longest = max((len(str(name)) for name in categories), default=0) * LABEL_CHAR_WIDTH
    slanted = longest > slot * 0.9
    extra = 0
    label_every = 1
    if slanted:
        # A label slanted at SLANT_DEGREES needs its width times sin(angle) below the axis.
        needed = math.ceil(longest * math.sin(math.radians(SLANT_DEGREES))) + 12 + 24  # tick gap, axis title
        extra = max(0, needed - MARGIN["bottom"])
        label_every = max(1, math.ceil(LABEL_LINE_HEIGHT / slot))
        height += extra
    box = _plot_box(width, height, bottom=MARGIN["bottom"] + extra)
    values = [v for s in series for v in s["values"] if v is not None]
    y_max = (max(values, default=0) or 1.0) * 1.12
    if y_percent:
        y_max = min(max(y_max, 0.1), 1.0) if max(values, default=0) <= 1 else y_max
    group_width = box["width"] / groups
    bar_width = max(2.0, group_width * 0.8 / max(len(series), 1))
    bars = []
    for s_index, item in enumerate(series):
        labels = item.get("labels")
        for c_index, value in enumerate(item["values"]):
            value = value or 0.0
            bar_height = value / y_max * box["height"]
            x = box["left"] + c_index * group_width + group_width * 0.1 + s_index * bar_width
            y = box["bottom"] - bar_height
            text = labels[c_index] if labels else (fmt_percent(value, 0) if y_percent else fmt_compact(value))
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "width": round(bar_width - 1, 1),
                    "height": round(bar_height, 1),
                    "css": item.get("css") or SERIES_CLASSES[s_index % len(SERIES_CLASSES)],
                    "label": text if value_labels else "",
                    "label_x": round(x + (bar_width - 1) / 2, 1),
                    "label_y": round(y - 4, 1),
                    "title": f"{categories[c_index]} · {item['name']}: {text}",
                }
            )
    x_ticks = [
        {"x": round(box["left"] + (index + 0.5) * group_width, 1), "label": name if index % label_every == 0 else ""}
        for index, name in enumerate(categories)
    ]
    return {
        "kind": "bars",
        "slanted": slanted,
        "slant": -SLANT_DEGREES,
        "title": title,
        "width": width,
        "height": height,
        "box": box,
        "x_label": x_label,
        "y_label": y_label,
        "x_ticks": x_ticks,
        "y_ticks": _y_ticks(box, y_max, percent=y_percent),
        "bars": bars,
        "legend": [
            {"name": item["name"], "css": item.get("css") or SERIES_CLASSES[index % len(SERIES_CLASSES)]}
            for index, item in enumerate(series)
        ]
        if len(series) > 1
        else [],
    }
