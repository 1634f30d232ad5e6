"""score(): summary, fits, predictions and segments in one run."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from patron.analytics.lifetime import BetaGeo, GammaGamma, clv, clv_lifetimes_compatible
from patron.analytics.scoring import SCORE_COLUMNS, _predict, distinct_rows, per_unit_discount_rate, score
from patron.analytics.segments import LIFECYCLE_CLASSES, RFM_SEGMENTS, SegmentSettings
from patron.analytics.summary import SUMMARY_COLUMNS
from patron.errors import Invalid
from tests.analytics.conftest import CDNOW_CALIBRATION_END, CDNOW_COLUMNS, generated_orders


@pytest.fixture(scope="module")
def cdnow_scores(cdnow_path):
    stages = []
    result = score(
        cdnow_path,
        **CDNOW_COLUMNS,
        observation_end=CDNOW_CALIBRATION_END,
        progress=lambda stage, fraction: stages.append((stage, fraction)),
    )
    return result, stages


def test_cdnow_scores_have_one_row_per_customer_with_every_column(cdnow_scores):
    result, _ = cdnow_scores
    customers = result.customers
    assert customers.num_rows == 2357
    assert customers.column_names == [*SUMMARY_COLUMNS, *SCORE_COLUMNS]
    assert customers.column("customer_id").to_pylist() == sorted(customers.column("customer_id").to_pylist())
    assert set(customers.column("abc_tier").to_pylist()) == {"A", "B", "C", "D"}
    assert set(customers.column("rfm_segment").to_pylist()) <= set(RFM_SEGMENTS)
    assert set(customers.column("lifecycle_class").to_pylist()) <= set(LIFECYCLE_CLASSES)
    for name in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        assert customers.column(name).null_count == 0
    p_alive = customers.column("p_alive").to_numpy()
    assert ((p_alive > 0) & (p_alive <= 1)).all()
    assert result.warnings == []


def test_cdnow_fits_are_the_published_ones(cdnow_scores):
    result, _ = cdnow_scores
    bgnbd = result.fits["bgnbd"]
    assert {name: round(value, 3) for name, value in bgnbd["params"].items()} == {
        "r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426,
    }
    assert round(bgnbd["log_likelihood"], 1) == -9582.4
    gamma = result.fits["gammagamma"]
    assert {name: round(value, 2) for name, value in gamma["params"].items()} == {"p": 6.25, "q": 3.74, "v": 15.44}


def test_predictions_equal_the_models_own_per_customer(cdnow_scores):
    result, _ = cdnow_scores
    customers = result.customers
    x, t_x, big_t, monetary = (customers.column(name).to_numpy() for name in ("frequency", "recency", "T", "monetary_value"))
    bg = BetaGeo.from_dict(result.fits["bgnbd"])
    gg = GammaGamma.from_dict(result.fits["gammagamma"])
    np.testing.assert_allclose(customers.column("p_alive").to_numpy(), bg.p_alive(x, t_x, big_t), rtol=1e-12)
    np.testing.assert_allclose(
        customers.column("expected_purchases").to_numpy(), bg.expected_purchases(52, x, t_x, big_t), rtol=1e-12
    )
    expected = clv(bg, gg, x, t_x, big_t, monetary, horizon=52, discount_rate=per_unit_discount_rate(0.10, "week"))
    np.testing.assert_allclose(customers.column("clv").to_numpy(), expected, rtol=1e-10)


def test_progress_is_reported_per_stage_and_timed(cdnow_scores):
    result, stages = cdnow_scores
    names = [stage for stage, _ in stages]
    assert names == ["read", "summary", "fit", "predict", "segments", "done"]
    fractions = [fraction for _, fraction in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert set(result.timings) == {"read", "summary", "fit", "predict", "segments"}


def test_abc_tiers_hold_the_configured_shares(cdnow_scores):
    result, _ = cdnow_scores
    counts = result.counts("abc_tier")
    assert counts == {"A": 471, "B": 707, "C": 708, "D": 471}
    tiers = {row["tier"]: row for row in result.tier_summary()}
    assert tiers["A"]["revenue_share"] > 0.5
    assert result.pareto.num_rows == 100


def test_cumulative_abc_on_clv(cdnow_path):
    settings = SegmentSettings(abc_method="cumulative", abc_value="clv")
    result = score(cdnow_path, **CDNOW_COLUMNS, observation_end="1997-09-30", settings=settings)
    tiers = result.customers.column("abc_tier").to_numpy(zero_copy_only=False)
    value = result.customers.column("clv").to_numpy()
    assert set(tiers) == {"A", "B", "C"}
    assert value[tiers == "A"].sum() / value.sum() == pytest.approx(0.8, abs=0.01)


def test_failed_spend_model_leaves_clv_empty_with_a_reason():
    table = pa.table(
        {
            "customer_id": [f"c{i}" for i in range(40) for _ in range(3)],
            "date": [f"2024-0{1 + k}-1{i % 9}" for i in range(40) for k in range(3)],
            "amount": [0.0] * 120,  # free orders only: Gamma-Gamma has no spend to fit
        }
    )
    result = score(table, time_unit="day")
    assert result.fits["gammagamma"] is None
    assert result.customers.column("clv").null_count == result.customers.num_rows
    assert result.customers.column("expected_spend").null_count == result.customers.num_rows
    assert any(warning.startswith("Gamma-Gamma") for warning in result.warnings)
    assert result.customers.column("lifecycle_class").null_count == 0


def test_too_few_repeat_buyers_leave_the_model_columns_empty():
    table = pa.table({"customer_id": ["a", "b", "a"], "date": ["2024-01-01", "2024-01-02", "2024-02-01"],
                      "amount": [1.0, 2.0, 3.0]})
    result = score(table, time_unit="day")
    assert result.fits["bgnbd"] is None
    assert result.customers.column("p_alive").null_count == 2
    assert "at least 10 customers" in result.warnings[0]


def test_lifetimes_convention_matches_its_clv_formula(cdnow_path):
    result = score(cdnow_path, **CDNOW_COLUMNS, observation_end="1997-09-30", integer_periods=True,
                   clv_convention="lifetimes")
    customers = result.customers
    x, t_x, big_t, monetary = (customers.column(name).to_numpy() for name in ("frequency", "recency", "T", "monetary_value"))
    expected = clv_lifetimes_compatible(
        BetaGeo.from_dict(result.fits["bgnbd"]), GammaGamma.from_dict(result.fits["gammagamma"]),
        x, t_x, big_t, monetary, months=12, freq="W", monthly_discount=0.01,
    )
    np.testing.assert_allclose(customers.column("clv").to_numpy(), expected, rtol=1e-10)
    assert set(np.unique(big_t)) <= set(range(40))  # whole weeks


def test_margin_scales_clv(cdnow_path):
    full = score(cdnow_path, **CDNOW_COLUMNS, observation_end="1997-09-30")
    half = score(cdnow_path, **CDNOW_COLUMNS, observation_end="1997-09-30", margin=0.5)
    np.testing.assert_allclose(half.customers.column("clv").to_numpy(), full.customers.column("clv").to_numpy() * 0.5)


def test_monthly_arpu_tiers_are_optional(orders):
    result = score(orders, customer_col="customer", date_col="day", amount_col="spend", product_col="group",
                   monthly=True)
    assert result.arpu_monthly is not None and result.arpu_transitions is not None
    assert set(result.arpu_monthly.column("tier").to_pylist()) == {"high", "middle", "low"}
    assert result.customers.column("product_groups").null_count == 0
    assert "monthly" in result.timings


def test_predictions_that_overflow_are_empty_not_nan():
    # When nobody's dropout differs, BG/NBD's a and b run off to millions; the closed forms overflow.
    model = BetaGeo.from_dict({"model": "bgnbd", "params": {"r": 0.5, "alpha": 5.0, "a": 2e7, "b": 6e7}})
    spend = GammaGamma.from_dict({"model": "gammagamma", "params": {"p": 6.0, "q": 4.0, "v": 15.0}})
    frequency = np.array([0.0, 1.0, 5.0, 30.0])
    recency = np.array([0.0, 10.0, 40.0, 70.0])
    rows = distinct_rows(frequency, recency, np.full(4, 78.0), scale=1.0)
    warnings: list[str] = []
    with np.errstate(all="ignore"):
        result = _predict(
            model, spend, rows, frequency, np.array([0.0, 20.0, 35.0, 50.0]), horizon=52, discount_rate=0.1,
            margin=1.0, time_unit="week", convention="patron", warnings=warnings,
        )
    assert result["expected_purchases"].null_count == 4 and result["clv"].null_count == 4
    assert result["p_alive"].null_count == 0
    for column in result.values():
        values = column.to_numpy(zero_copy_only=False)
        assert not np.isinf(values).any()
        assert np.isnan(values).sum() == column.null_count
    assert any("expected_purchases could not be computed for 4 customers" in w for w in warnings)


def test_a_model_the_data_cannot_pin_down_leaves_predictions_empty_with_a_warning():
    # Everyone drops out with the same probability: depending on the optimiser, a and b either stop at
    # huge values (and the predictions overflow) or are reported as running off; both end empty.
    orders = generated_orders(dropout=None)
    result = score(orders, customer_col="customer", date_col="day", amount_col="spend")
    for name in ("p_alive", "expected_purchases", "clv"):
        values = result.customers.column(name).to_numpy(zero_copy_only=False)
        assert not np.isinf(values).any()
        assert np.isnan(values).sum() == result.customers.column(name).null_count
    if result.fits["bgnbd"] is None:
        assert result.customers.column("p_alive").null_count == result.customers.num_rows
        assert any("could not be fitted" in warning for warning in result.warnings)
    else:
        assert result.fits["bgnbd"]["params"]["a"] > 1e5


def test_distinct_rows_rebuild_every_customer():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 5, 1000).astype(float)
    recency_days = np.where(x > 0, rng.integers(0, 300, 1000), 0)
    age_days = recency_days + rng.integers(0, 300, 1000)
    rows = distinct_rows(x, recency_days / 7, age_days / 7, scale=7.0)
    np.testing.assert_array_equal(rows.x[rows.inverse], x)
    np.testing.assert_array_equal(rows.t_x[rows.inverse], recency_days / 7)
    np.testing.assert_array_equal(rows.T[rows.inverse], age_days / 7)
    assert rows.counts.sum() == 1000 and len(rows.x) < 1000


def test_bad_options_are_rejected(cdnow_path):
    with pytest.raises(Invalid, match="time unit"):
        score(cdnow_path, **CDNOW_COLUMNS, time_unit="fortnight")
    with pytest.raises(Invalid, match="model"):
        score(cdnow_path, **CDNOW_COLUMNS, model="magic")
    with pytest.raises(Invalid, match="engine"):
        score(cdnow_path, **CDNOW_COLUMNS, engine="oracle")


def test_engine_settings(monkeypatch):
    from patron.analytics import engines

    monkeypatch.delenv("PATRON_SPARK_MASTER", raising=False)
    assert engines.spark_master() == "local[*]"
    monkeypatch.setenv("PATRON_SPARK_MASTER", "spark://analytics:7077")
    assert engines.spark_master() == "spark://analytics:7077"
    assert engines.spark_master("local[2]") == "local[2]"
    with pytest.raises(Invalid, match="Unknown engine"):
        engines.connect("oracle")
    assert engines.engine_of(engines.connect()) == "duckdb"


def test_blas_runs_single_threaded_inside_the_block_and_is_restored():
    import ctypes

    from patron.analytics.engines import _loaded_openblas, single_threaded_blas

    getters = []
    for path in _loaded_openblas():
        library = ctypes.CDLL(path)
        getter = getattr(library, "scipy_openblas_get_num_threads64_", None) or getattr(
            library, "openblas_get_num_threads", None
        )
        if getter is not None:
            getters.append(getter)
    if not getters:
        pytest.skip("no OpenBLAS loaded")
    before = [getter() for getter in getters]
    with single_threaded_blas():
        assert [getter() for getter in getters] == [1] * len(getters)
    assert [getter() for getter in getters] == before
