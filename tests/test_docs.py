"""The documentation states the defaults the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from patron.analytics import segments

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _segments_doc() -> str:
    return (DOCS / "segments.md").read_text(encoding="utf-8")


def test_segments_doc_states_every_lifecycle_threshold_default():
    doc = _segments_doc()
    rules = segments.LifecycleRules()
    for name, value in vars(rules).items():
        if name == "strategies":
            continue
        shown = f"`{name}` = {value:g}"
        assert shown in doc, f"docs/segments.md should say {shown}"


def test_segments_doc_states_every_default_strategy_text():
    doc = _segments_doc()
    for name, text in segments.LifecycleRules().strategies.items():
        assert re.search(rf"^\| {name} \|.*\| {re.escape(text)} \|$", doc, re.M), f"{name}: {text}"


def test_segments_doc_states_the_tier_and_rfm_defaults():
    doc = _segments_doc()
    defaults = segments.SegmentSettings()
    assert f"| `abc_method` | `{defaults.abc_method}` |" in doc
    assert f"| `abc_value` | `{defaults.abc_value}` |" in doc
    assert f"| `abc_shares` | {', '.join(f'{s:g}' for s in defaults.abc_shares)} |" in doc
    assert f"| `abc_cumulative` | {', '.join(f'{s:g}' for s in defaults.abc_cumulative)} |" in doc
    assert f"| `rfm_bins` | {defaults.rfm_bins} |" in doc
    assert f"| `pareto_points` | {defaults.pareto_points} |" in doc
    assert defaults.arpu_thresholds is None and "| `arpu_thresholds` | none |" in doc


def test_segments_doc_shows_the_rfm_grid_the_code_uses():
    doc = _segments_doc()
    for r in range(1, 6):
        row = [str(segments.rfm_segments([r], [f])[0]) for f in range(1, 6)]
        assert f"| {r} | {' | '.join(row)} |" in doc
