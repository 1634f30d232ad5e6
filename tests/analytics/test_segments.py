"""ABC tiers, the Pareto curve, RFM, monthly ARPU tiers and lifecycle classes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from patron.analytics import segments as seg
from patron.errors import Invalid


def test_abc_by_customer_share_ranks_by_value_and_breaks_ties_by_row_order():
    values = np.array([5.0, 100.0, 5.0, 50.0, 1.0, 5.0, 0.0, 20.0, 5.0, 10.0])
    tiers = seg.abc_tiers(values)  # 20% / 30% / 30% / 20% of 10 customers: 2, 3, 3, 2
    order = seg.rank_by_value(values)
    # Ranked: 100 (1), 50 (3), 20 (7), 10 (9), then the four 5s in row order 0, 2, 5, 8, then 1, 0.
    assert list(order) == [1, 3, 7, 9, 0, 2, 5, 8, 4, 6]
    expected = {1: "A", 3: "A", 7: "B", 9: "B", 0: "B", 2: "C", 5: "C", 8: "C", 4: "D", 6: "D"}
    assert {row: tiers[row] for row in range(10)} == expected


def test_abc_by_cumulative_value_80_15_5():
    values = np.array([50.0, 30.0, 10.0, 5.0, 3.0, 2.0, 0.0])
    tiers = seg.abc_tiers(values, method="cumulative")
    # Before each: 0, 50, 80, 90, 95, 98 (%): A while under 80%, B under 95%, then C; zero value is C.
    assert list(tiers) == ["A", "A", "B", "B", "C", "C", "C"]


def test_abc_custom_shares_and_validation():
    tiers = seg.abc_tiers(np.arange(10.0), shares=(0.5, 0.5))
    assert sorted(tiers) == ["A"] * 5 + ["B"] * 5
    with pytest.raises(Invalid, match="add up to 1"):
        seg.SegmentSettings(abc_shares=(0.5, 0.2))
    with pytest.raises(Invalid, match="abc_method"):
        seg.SegmentSettings(abc_method="median")


def test_pareto_curve_share_held_by_the_top_customers():
    values = np.array([80.0] + [20.0 / 9] * 9)
    curve = seg.pareto_curve(values, points=10).to_pydict()
    assert curve["top_percent"][0] == 10.0 and curve["customers"][0] == 1
    assert curve["value_share"][0] == pytest.approx(0.8)
    assert curve["value_share"][-1] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(curve["value_share"], curve["value_share"][1:], strict=False))
    assert len(seg.pareto_curve(np.ones(1000)).to_pydict()["top_percent"]) == 100


def test_quantile_scores_give_ties_the_same_score():
    scores = seg.quantile_scores(np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4]))
    assert list(scores) == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert list(seg.quantile_scores(np.arange(10.0))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # Shifting every value alike changes no score.
    values = np.random.default_rng(0).integers(0, 50, 1000).astype(float)
    assert np.array_equal(seg.quantile_scores(values), seg.quantile_scores(values + 0.5))


def _sorted_abc_codes(values, shares):
    """The definition by a full stable sort: rank customers from the highest value down, cut at shares."""
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values))
    bounds = np.round(np.cumsum(shares) * len(values)).astype(np.int64)
    bounds[-1] = len(values)
    return np.minimum(np.searchsorted(bounds, ranks, side="right"), len(shares) - 1)


def _sorted_quantile_scores(values, bins=5):
    """The definition by counting: 1 + floor(bins * values strictly smaller / count)."""
    finite = np.nan_to_num(values, nan=-np.inf)
    worse = np.searchsorted(np.sort(finite), finite, side="left")
    return 1 + (bins * worse) // len(values)


@pytest.mark.parametrize("shared_sort", [False, True], ids=["partitions", "one shared sort"])
@pytest.mark.parametrize("seed", range(6))
def test_share_tiers_and_quantile_scores_match_the_sorted_definitions(seed, shared_sort):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 400 if seed < 4 else 3000))
    # Heavy ties (a few distinct amounts), zeros and a missing value, as real revenue columns have.
    values = rng.choice([0.0, 9.99, 19.5, 100.0, rng.random() * 1e3], size=size) + (seed % 2) * rng.random(size)
    values[rng.integers(0, size)] = np.nan
    ascending = seg.sorted_values(values) if shared_sort else None
    for shares in ((0.2, 0.3, 0.3, 0.2), (0.5, 0.5), (0.01, 0.99), (1.0,)):
        codes = seg.abc_tier_codes(values, shares=shares, ascending=ascending)
        assert np.array_equal(codes, _sorted_abc_codes(values, shares)), shares
    # Whole numbers (days, counts) take the histogram path: the same definition holds.
    days = rng.integers(-3, 60, size=size).astype(float)
    for bins in (3, 5, 10):
        scores = seg.quantile_scores(values, bins=bins, ascending=ascending)
        assert np.array_equal(scores, _sorted_quantile_scores(values, bins)), bins
        assert np.array_equal(seg.quantile_scores(days, bins=bins), _sorted_quantile_scores(days, bins)), bins


def test_the_pareto_curve_from_a_shared_sort_equals_the_partitioned_one():
    rng = np.random.default_rng(5)
    values = rng.choice([0.0, 9.99, 19.5, 100.0], size=3000) + rng.random(3000)
    values[17] = np.nan
    shared = seg.pareto_curve(values, points=100, ascending=seg.sorted_values(values)).column("value_share").to_numpy()
    partitioned = seg.pareto_curve(values, points=100).column("value_share").to_numpy()
    assert np.allclose(shared, partitioned, rtol=1e-12)
    assert not np.isnan(shared).any()


def test_pareto_curve_without_an_order_equals_the_sorted_curve():
    values = np.random.default_rng(3).pareto(1.2, 5000)
    ranked = np.sort(values)[::-1]
    curve = seg.pareto_curve(values, points=100)
    customers = curve.column("customers").to_numpy()
    expected = np.concatenate([[0.0], np.cumsum(ranked)])[customers] / ranked.sum()
    assert np.allclose(curve.column("value_share").to_numpy(), expected, rtol=1e-12)
    by_order = seg.pareto_curve(values, points=100, order=seg.rank_by_value(values))
    assert np.allclose(by_order.column("value_share").to_numpy(), expected, rtol=1e-12)


def test_rfm_scores_recent_frequent_and_big_spenders_score_high():
    r, f, m = seg.rfm_scores([1, 400, 30, 200, 5], [10, 0, 3, 1, 6], [900, 10, 100, 50, 500])
    assert list(r) == [5, 1, 3, 2, 4]
    assert list(f) == [5, 1, 3, 2, 4]
    assert list(m) == [5, 1, 3, 2, 4]


def test_rfm_segment_grid_covers_every_cell_and_every_segment():
    r, f = np.meshgrid(np.arange(1, 6), np.arange(1, 6), indexing="ij")
    names = seg.rfm_segments(r.ravel(), f.ravel())
    assert set(names) == set(seg.RFM_SEGMENTS)
    cell = dict(zip(zip(r.ravel(), f.ravel(), strict=True), names, strict=True))
    assert cell[(5, 5)] == "champions" and cell[(5, 1)] == "new_customers"
    assert cell[(1, 5)] == "cant_lose_them" and cell[(1, 1)] == "lost" and cell[(2, 1)] == "hibernating"
    assert cell[(3, 3)] == "need_attention" and cell[(4, 1)] == "promising"
    assert set(seg.rfm_segments([1, 3, 1], [3, 1, 1], bins=3)) <= set(seg.RFM_SEGMENTS)


def monthly(rows):
    return pa.table(
        {
            "customer_id": [row[0] for row in rows],
            "month": pa.array([row[1] for row in rows], pa.date32()),
            "revenue": [float(row[2]) for row in rows],
        }
    )


def test_arpu_tiers_by_thresholds_and_by_tertiles():
    jan = dt.date(2024, 1, 1)
    table = monthly([("a", jan, 10), ("b", jan, 50), ("c", jan, 200), ("d", jan, 120)])
    fixed = seg.arpu_tiers(table, thresholds=(20, 100)).column("tier").to_pylist()
    assert fixed == ["low", "middle", "high", "high"]
    six = monthly([(name, jan, value) for name, value in zip("abcdef", (60, 10, 40, 20, 50, 30), strict=True)])
    tertiles = seg.arpu_tiers(six).column("tier").to_pylist()
    assert tertiles == ["high", "low", "middle", "low", "high", "middle"]


def test_arpu_transitions_count_moves_including_new_and_gone():
    jan, feb, mar = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)
    table = monthly(
        [
            ("a", jan, 200), ("a", feb, 10), ("a", mar, 300),  # high -> low -> high
            ("b", jan, 10),  # low -> gone in February
            ("c", feb, 500), ("c", mar, 400),  # new in February
            ("d", mar, 5),  # new in March
        ]
    )
    tiers = seg.arpu_tiers(table, thresholds=(50, 100))
    transitions = seg.arpu_transitions(tiers)
    february = seg.transition_matrix(transitions, month="2024-02-01")
    assert february["high"]["low"] == 1
    assert february["low"]["gone"] == 1
    assert february["new"]["high"] == 1
    march = seg.transition_matrix(transitions, month=mar)
    assert march["low"]["high"] == 1 and march["high"]["high"] == 1 and march["new"]["low"] == 1
    assert march["gone"] == {"high": 0, "middle": 0, "low": 0, "gone": 0}  # b stays gone: not counted
    total = seg.transition_matrix(transitions)
    assert total["new"]["high"] == 2 + 0 and sum(total["new"].values()) == 4


def test_a_customer_coming_back_moves_from_gone():
    jan, mar = dt.date(2024, 1, 1), dt.date(2024, 3, 1)
    transitions = seg.arpu_transitions(seg.arpu_tiers(monthly([("a", jan, 10), ("a", mar, 10)]), thresholds=(5, 50)))
    matrix = seg.transition_matrix(transitions)
    assert matrix["middle"]["gone"] == 1 and matrix["gone"]["middle"] == 1


def lifecycle(**overrides):
    base = {
        "frequency": [0.0],
        "recency_days": [0.0],
        "days_since_last": [10.0],
        "total_revenue": [100.0],
        "revenue_last_6m": [100.0],
        "revenue_prev_6m": [0.0],
    }
    base.update({key: [value] if not isinstance(value, list) else value for key, value in overrides.items()})
    classes, strategies = seg.lifecycle_classes(**base)
    return classes[0], strategies[0]


def test_lifecycle_classes_and_strategies():
    assert lifecycle(frequency=4.0, recency_days=400.0, days_since_last=30.0, revenue_last_6m=100.0,
                     revenue_prev_6m=90.0) == ("loyal", "Protect service quality")
    assert lifecycle(frequency=4.0, recency_days=400.0, days_since_last=30.0, revenue_last_6m=200.0,
                     revenue_prev_6m=100.0) == ("fast_growing", "Add account coverage")
    # Mean gap 100 days; 301 days without a purchase is more than 3 gaps.
    assert lifecycle(frequency=4.0, recency_days=400.0, days_since_last=301.0, revenue_last_6m=0.0,
                     revenue_prev_6m=100.0) == ("sleeping", "Create new demand")
    assert lifecycle(frequency=4.0, recency_days=400.0, days_since_last=30.0, revenue_last_6m=100.0,
                     revenue_prev_6m=90.0, p_alive=0.1)[0] == "sleeping"
    assert lifecycle() == ("steady", "Keep in regular contact")


def test_sleeping_uses_the_base_median_gap_for_one_time_buyers():
    classes, _ = seg.lifecycle_classes(
        frequency=[2.0, 2.0, 0.0, 0.0],
        recency_days=[20.0, 40.0, 0.0, 0.0],  # gaps 10 and 20 days: median 15
        days_since_last=[5.0, 5.0, 44.0, 46.0],
        total_revenue=[10.0] * 4,
        revenue_last_6m=[10.0] * 4,
        revenue_prev_6m=[0.0] * 4,
    )
    assert list(classes) == ["steady", "steady", "steady", "sleeping"]


def test_worth_nurturing_needs_new_or_small_and_high_predicted_value():
    classes, _ = seg.lifecycle_classes(
        frequency=[0.0, 0.0, 3.0, 0.0, 0.0],
        recency_days=[0.0, 0.0, 500.0, 0.0, 0.0],
        days_since_last=[20.0, 20.0, 20.0, 20.0, 20.0],
        total_revenue=[10.0, 10.0, 500.0, 10.0, 10.0],
        revenue_last_6m=[10.0, 10.0, 0.0, 10.0, 10.0],
        revenue_prev_6m=[0.0, 0.0, 500.0, 0.0, 0.0],
        predicted_value=[900.0, 1.0, 1000.0, 2.0, 3.0],
    )
    assert list(classes) == ["worth_nurturing", "steady", "steady", "steady", "steady"]


def test_each_customer_gets_exactly_one_class_with_fixed_precedence():
    rng = np.random.default_rng(1)
    count = 2000
    frequency = rng.integers(0, 8, count).astype(float)
    classes, strategies = seg.lifecycle_classes(
        frequency=frequency,
        recency_days=frequency * rng.uniform(5, 90, count),
        days_since_last=rng.uniform(0, 600, count),
        total_revenue=rng.uniform(0, 1000, count),
        revenue_last_6m=rng.uniform(0, 300, count),
        revenue_prev_6m=rng.uniform(0, 300, count),
        p_alive=rng.uniform(0, 1, count),
        predicted_value=rng.uniform(0, 500, count),
    )
    assert len(classes) == count and set(classes) <= set(seg.LIFECYCLE_CLASSES)
    rules = seg.LifecycleRules()
    assert all(rules.strategies[name] == text for name, text in zip(classes, strategies, strict=True))


@pytest.mark.parametrize("count", [1, 2, 7, 2000, 2001])
def test_lifecycle_classes_are_the_same_with_the_revenue_already_sorted(count):
    rng = np.random.default_rng(count)
    frequency = rng.integers(0, 8, count).astype(float)
    inputs = {
        "frequency": frequency,
        "recency_days": frequency * rng.uniform(5, 90, count),
        "days_since_last": rng.uniform(0, 600, count),
        # A few repeated amounts, so the median falls on ties as well as between two values.
        "total_revenue": rng.choice([5.0, 10.0, 10.0, 99.5, 250.0], count) + rng.integers(0, 2, count) * 0.5,
        "revenue_last_6m": rng.uniform(0, 300, count) * rng.integers(0, 2, count),
        "revenue_prev_6m": rng.uniform(0, 300, count) * rng.integers(0, 2, count),
        "p_alive": rng.uniform(0, 1, count),
        "predicted_value": rng.uniform(0, 500, count),
    }
    plain = seg.lifecycle_class_codes(**inputs)
    shared = seg.lifecycle_class_codes(**inputs, revenue_ascending=seg.sorted_values(inputs["total_revenue"]))
    assert np.array_equal(plain, shared)
    assert seg._median_of_sorted(seg.sorted_values(inputs["total_revenue"])) == np.median(inputs["total_revenue"])


def test_settings_round_trip_through_json_data():
    settings = seg.SegmentSettings(
        abc_method="cumulative",
        abc_value="clv",
        arpu_thresholds=(10, 100),
        lifecycle=seg.LifecycleRules(fast_growing_trend=0.5, strategies={**seg.LifecycleRules().strategies,
                                                                          "loyal": "Call every quarter"}),
    )
    data = settings.as_dict()
    assert data["lifecycle"]["fast_growing_trend"] == 0.5
    assert seg.SegmentSettings.from_dict(data) == settings
    assert seg.SegmentSettings.from_dict({}) == seg.SegmentSettings()
    with pytest.raises(Invalid, match="Unknown segment settings: colour"):
        seg.SegmentSettings.from_dict({"colour": "red"})
    with pytest.raises(Invalid, match="strategies are missing"):
        seg.LifecycleRules(strategies={"loyal": "x"})
