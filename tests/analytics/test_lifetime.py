"""The lifetime-value models against the published CDNOW and retention numbers, and their edge cases."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from scipy.special import hyp2f1

from patron.analytics.lifetime import (
    BetaGeo,
    GammaGamma,
    ParetoNBD,
    ShiftedBetaGeometric,
    _common,
    clv,
    clv_lifetimes_compatible,
    compress,
)
from patron.analytics.lifetime.bgnbd import _BetaGeoLikelihood
from patron.analytics.lifetime.gammagamma import _GammaGammaLikelihood
from patron.analytics.lifetime.paretonbd import _log_a0
from patron.errors import CannotFit, Invalid

CDNOW_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cdnow_sample.txt"
CALIBRATION_END = np.datetime64("1997-09-30")
HOLDOUT_END = np.datetime64("1998-06-30")
HOLDOUT_WEEKS = 39.0


class CdnowSummary(NamedTuple):
    """Per-customer CDNOW summary in weeks, calibration through 1997-09-30, holdout to 1998-06-30."""

    x: np.ndarray  # repeat purchase days in calibration
    t_x: np.ndarray  # weeks from first to last calibration purchase
    T: np.ndarray  # weeks from first purchase to the end of calibration
    monetary_value: np.ndarray  # mean spend of calibration repeat purchases (0 when x = 0)
    x_holdout: np.ndarray  # purchase days in the holdout period
    first_purchase_week: np.ndarray  # weeks from 1997-01-01 to the first purchase
    repeat_purchase_weeks: np.ndarray  # weeks from 1997-01-01 of every repeat purchase day, all customers


@functools.cache
def cdnow_summary() -> CdnowSummary:
    """Summarise the CDNOW sample as lifetimes' summary_data_from_transaction_data(freq="D") / 7 does.

    Purchases on the same day are one transaction (amounts summed); times are days / 7, so weeks with
    day precision, which is what reproduces the published BG/NBD and Pareto/NBD estimates.
    """
    raw = np.loadtxt(
        CDNOW_SAMPLE,
        dtype={"names": ("customer", "full_id", "date", "cds", "amount"), "formats": ("i8", "i8", "U8", "i8", "f8")},
    )
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw["date"]], dtype="datetime64[D]")
    start = np.datetime64("1997-01-01")
    day = (dates - start).astype(np.int64)
    calibration_end = int((CALIBRATION_END - start).astype(np.int64))

    # One row per customer-day, sorted by customer then day.
    customer_day, merged = np.unique(raw["customer"] * 1_000_000 + day, return_inverse=True)
    spend = np.bincount(merged, weights=raw["amount"])
    customer, day = customer_day // 1_000_000, customer_day % 1_000_000
    _, first_row, owner = np.unique(customer, return_index=True, return_inverse=True)
    first_day = day[first_row]
    in_calibration = day <= calibration_end
    is_repeat = np.arange(len(day)) != first_row[owner]

    purchases = np.bincount(owner, weights=in_calibration)
    last_day = np.zeros(len(first_row), dtype=np.int64)
    np.maximum.at(last_day, owner[in_calibration], day[in_calibration])
    repeat_spend = np.bincount(owner, weights=spend * (in_calibration & is_repeat))
    x = purchases - 1
    return CdnowSummary(
        x=x,
        t_x=(last_day - first_day) / 7,
        T=(calibration_end - first_day) / 7,
        monetary_value=np.divide(repeat_spend, x, out=np.zeros_like(x), where=x > 0),
        x_holdout=np.bincount(owner, weights=~in_calibration).astype(float),
        first_purchase_week=first_day / 7,
        repeat_purchase_weeks=day[is_repeat] / 7,
    )


@functools.cache
def fitted_bgnbd() -> BetaGeo:
    """BG/NBD fitted once on the CDNOW calibration period."""
    data = cdnow_summary()
    return BetaGeo().fit(data.x, data.t_x, data.T)


@functools.cache
def fitted_gamma_gamma() -> GammaGamma:
    """Gamma-Gamma fitted once on the CDNOW calibration repeat buyers."""
    data = cdnow_summary()
    return GammaGamma().fit(data.x, data.monetary_value)


def test_cdnow_summary_matches_the_papers_counts():
    data = cdnow_summary()
    assert len(data.x) == 2357
    assert int((data.x > 0).sum()) == 946
    assert data.x.sum() == 2457  # repeat transactions in weeks 1-39, as in FHL (2005)
    # Customer 1 of Hardie's BG/NBD spreadsheet note: x = 2, t_x = 30.43, T = 38.86.
    assert (data.x[0], round(data.t_x[0], 2), round(data.T[0], 2)) == (2, 30.43, 38.86)


# --- BG/NBD ------------------------------------------------------------------------------------------


def test_bgnbd_reproduces_fader_hardie_lee_2005():
    model = fitted_bgnbd()
    params = model.params
    assert (round(params["r"], 3), round(params["alpha"], 3), round(params["a"], 3), round(params["b"], 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(model.log_likelihood, 1) == -9582.4
    assert model.customers == 2357
    assert model.converged
    assert 0 < model.iterations < _common.MAX_ITERATIONS
    assert model.as_dict() == {
        "model": "bgnbd",
        "params": params,
        "log_likelihood": model.log_likelihood,
        "customers": 2357,
        "converged": True,
    }


def test_bgnbd_fits_cdnow_well_under_a_second():
    data = cdnow_summary()
    started = time.perf_counter()
    BetaGeo().fit(data.x, data.t_x, data.T)
    assert time.perf_counter() - started < 1.0


def test_bgnbd_estimate_is_a_stationary_point_of_the_analytic_likelihood():
    data = cdnow_summary()
    x, t_x, age, weight = _common.customer_rows(data.x, data.t_x, data.T, None)
    likelihood = _BetaGeoLikelihood(x, t_x, age, weight)
    _, gradient = likelihood.negative_mean(np.log(list(fitted_bgnbd().params.values())))
    assert np.max(np.abs(gradient)) < 1e-6


def test_bgnbd_analytic_gradient_matches_finite_differences():
    data = cdnow_summary()
    likelihood = _BetaGeoLikelihood(*_common.customer_rows(data.x, data.t_x, data.T, None))
    for point in (np.log([0.5, 3.0, 1.5, 0.8]), np.log([2.0, 10.0, 0.3, 5.0])):
        _, analytic = likelihood.negative_mean(point)
        numeric = _common.central_difference_gradient(lambda p: likelihood.negative_mean(p)[0], point)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_bgnbd_conditional_expectation_matches_the_paper_and_the_direct_formula():
    model = fitted_bgnbd()
    data = cdnow_summary()
    # Hardie's spreadsheet note: customer 1 is expected to make 1.226 purchases in the next 39 weeks.
    assert round(float(model.expected_purchases(39, 2, 30.43, 38.86)), 3) == 1.226

    # FHL (2005) eq. (10) evaluated literally; our Euler-transformed form must agree.
    r, alpha, a, b = model.params.values()
    x, t_x, age, t = data.x, data.t_x, data.T, 39.0
    z = t / (alpha + age + t)
    numerator = (
        (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
    )
    denominator = 1 + (x > 0) * a / (b + np.maximum(x, 1) - 1) * ((alpha + age) / (alpha + t_x)) ** (r + x)
    np.testing.assert_allclose(model.expected_purchases(t, x, t_x, age), numerator / denominator, rtol=1e-9)

    # Eq. (9): the unconditional expectation for a new customer.
    new = np.array([0.0, 1.0, 10.0, 39.0, 78.0])
    direct = (a + b - 1) / (a - 1) * (1 - hyp2f1(r, b, a + b - 1, new / (alpha + new)) * (alpha / (alpha + new)) ** r)
    np.testing.assert_allclose(model.expected_purchases_new(new), direct, rtol=1e-10, atol=1e-15)


def test_bgnbd_predictions_behave():
    model = fitted_bgnbd()
    data = cdnow_summary()
    alive = model.p_alive(data.x, data.t_x, data.T)
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(alive[data.x == 0] == 1)
    assert np.all(model.expected_purchases(0, data.x, data.t_x, data.T) == 0)
    soon, later = (
        model.expected_purchases(10, data.x, data.t_x, data.T),
        model.expected_purchases(50, data.x, data.t_x, data.T),
    )
    assert np.all(later >= soon)
    # Heavy buyers: the paper's form overflows here, ours must not.
    heavy = model.expected_purchases(52, [300, 2000], [38.0, 38.5], [38.86, 38.86])
    assert np.all(np.isfinite(heavy)) and np.all(heavy > 0)
    assert np.all(np.isfinite(model.p_alive([2000, 2000], [0.5, 38.0], [38.86, 38.86])))


def test_predictions_on_many_rows_evaluate_each_distinct_row_once_with_the_same_result(monkeypatch):
    model = fitted_bgnbd()
    data = cdnow_summary()
    direct = model.expected_purchases(39, data.x, data.t_x, data.T)
    monkeypatch.setattr(_common, "DEDUPLICATE_ABOVE", 10)
    np.testing.assert_allclose(model.expected_purchases(39, data.x, data.t_x, data.T), direct, rtol=1e-13)


# --- Pareto/NBD --------------------------------------------------------------------------------------


def test_pareto_nbd_reproduces_the_published_cdnow_fit():
    data = cdnow_summary()
    model = ParetoNBD().fit(data.x, data.t_x, data.T)
    assert round(model.log_likelihood, 1) == -9595.0
    params = model.params
    assert (round(params["r"], 2), round(params["alpha"], 2), round(params["s"], 2), round(params["beta"], 2)) == (
        0.55,
        10.58,
        0.61,
        11.67,
    )
    assert model.as_dict()["model"] == "paretonbd"
    alive = model.p_alive(data.x, data.t_x, data.T)
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(model.expected_purchases(0, data.x, data.t_x, data.T) == 0)


@pytest.mark.parametrize("params", [(0.55, 10.58, 0.61, 11.67), (0.55, 11.67, 0.61, 10.58), (1.3, 5.0, 2.0, 5.0)])
def test_pareto_nbd_a0_matches_the_notes_direct_formula(params):
    # Fader & Hardie's note, eq. (22)-(23), literally, for moderate x where it does not overflow.
    r, alpha, s, beta = params
    x = np.array([0.0, 1, 3, 10, 25])
    t_x = np.array([0.0, 5.0, 20.0, 30.0, 37.0])
    age = np.full(5, 38.86)
    if alpha >= beta:

        def term(u):
            return hyp2f1(r + s + x, s + 1, r + s + x + 1, (alpha - beta) / (alpha + u)) / (alpha + u) ** (r + s + x)
    else:

        def term(u):
            return hyp2f1(r + s + x, r + x, r + s + x + 1, (beta - alpha) / (beta + u)) / (beta + u) ** (r + s + x)

    direct = term(t_x) - term(age)
    np.testing.assert_allclose(np.exp(_log_a0(np.array(params), x, t_x, age)), direct, rtol=1e-9)


def test_pareto_nbd_new_customer_expectation_matches_the_closed_form():
    model = ParetoNBD.from_dict({"model": "paretonbd", "params": {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}})
    t = np.array([0.0, 1.0, 39.0, 78.0])
    r, alpha, s, beta = 0.55, 10.58, 0.61, 11.67
    expected = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    np.testing.assert_allclose(model.expected_purchases_new(t), expected, rtol=1e-12)


# --- Gamma-Gamma -------------------------------------------------------------------------------------


def test_gamma_gamma_reproduces_fader_hardie_lee_rfm_and_clv():
    # Mean spend of the calibration repeat purchases (first purchase excluded), same-day amounts summed,
    # as in FHL's "RFM and CLV" and lifetimes. Averaging over all purchases instead gives p = 14.3,
    # q = 3.95, v = 7.29, far from the published numbers.
    model = fitted_gamma_gamma()
    params = model.params
    assert (round(params["p"], 2), round(params["q"], 2), round(params["v"], 2)) == (6.25, 3.74, 15.44)
    assert model.customers == 946
    assert model.as_dict()["model"] == "gammagamma"
    assert round(model.population_mean_spend(), 2) == 35.17  # p v / (q - 1)


def test_gamma_gamma_analytic_gradient_matches_finite_differences():
    data = cdnow_summary()
    repeat = data.x > 0
    likelihood = _GammaGammaLikelihood(data.x[repeat], data.monetary_value[repeat], np.ones(int(repeat.sum())))
    point = np.log([3.0, 2.5, 20.0])
    _, analytic = likelihood.negative_mean(point)
    numeric = _common.central_difference_gradient(lambda p: likelihood.negative_mean(p)[0], point)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_gamma_gamma_expected_spend_shrinks_towards_the_population_mean():
    model = fitted_gamma_gamma()
    p, q, v = model.params.values()
    spend = model.conditional_expected_spend([0, 1, 10, 10], [0.0, 100.0, 100.0, 10.0])
    assert spend[0] == pytest.approx(p * v / (q - 1))
    assert spend[0] < spend[1] < spend[2] < 100  # more purchases, more weight on the customer's own mean
    assert spend[3] < spend[0]


def test_gamma_gamma_rejects_negative_and_zero_spend():
    data = cdnow_summary()
    negative = data.monetary_value.copy()
    negative[np.flatnonzero(data.x > 0)[0]] = -5.0
    with pytest.raises(Invalid):
        GammaGamma().fit(data.x, negative)
    zero = data.monetary_value.copy()
    zero[np.flatnonzero(data.x > 0)[:3]] = 0.0
    with pytest.raises(CannotFit, match="positive spend"):
        GammaGamma().fit(data.x, zero)


# --- sBG ---------------------------------------------------------------------------------------------


REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("alive", "alpha", "beta", "log_likelihood"),
    [(REGULAR, 0.704, 1.182, -1680.27), (HIGH_END, 0.668, 3.806, -1611.16)],
)
def test_sbg_reproduces_fader_hardie_2007(alive, alpha, beta, log_likelihood):
    model = ShiftedBetaGeometric().fit(alive)
    assert (round(model.params["alpha"], 3), round(model.params["beta"], 3)) == (alpha, beta)
    assert round(model.log_likelihood, 2) == log_likelihood
    assert model.customers == 1000
    assert model.as_dict()["model"] == "sbg"


def test_sbg_survival_retention_and_projection_agree():
    model = ShiftedBetaGeometric().fit(REGULAR)
    alpha, beta = model.params.values()
    periods = np.arange(1, 13)
    survival = model.survival(np.arange(0, 13))
    assert survival[0] == pytest.approx(1.0)
    np.testing.assert_allclose(model.retention(periods), survival[1:] / survival[:-1], rtol=1e-12)
    np.testing.assert_allclose(model.retention(1), beta / (alpha + beta))
    np.testing.assert_allclose(model.projected_survival(5), survival[8:13], rtol=1e-12)
    # The fit tracks the data it was fitted on within a few customers per period.
    np.testing.assert_allclose(model.survival(np.arange(8)) * 1000, REGULAR, atol=15)


def test_sbg_analytic_gradient_matches_finite_differences():
    lost = -np.diff(np.array(REGULAR, dtype=float))
    periods = np.arange(1.0, 8.0)
    point = np.array([0.9, 1.7])
    _, analytic = ShiftedBetaGeometric._log_likelihood(point, periods, lost, 241.0)
    numeric = _common.central_difference_gradient(
        lambda p: ShiftedBetaGeometric._log_likelihood(p, periods, lost, 241.0)[0], point
    )
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


@pytest.mark.parametrize("alive", [[500, 500, 500, 500], [500, 0, 0]])
def test_sbg_cannot_fit_a_cohort_without_churn_to_estimate(alive):
    with pytest.raises(CannotFit):
        ShiftedBetaGeometric().fit(alive)


@pytest.mark.parametrize("alive", [[1000], [1000, 1100], [0, 0], [1000, -1]])
def test_sbg_rejects_impossible_cohorts(alive):
    with pytest.raises(Invalid):
        ShiftedBetaGeometric().fit(alive)


# --- compression and weights -------------------------------------------------------------------------


def test_compress_counts_rows_and_maps_back():
    x = [0, 2, 0, 2, 1]
    t_x = [0.0, 3.5, 0.0, 3.5, 1.0]
    age = [5.0, 6.0, 5.0, 6.0, 5.0]
    ux, ut, ua, counts, inverse = compress(x, t_x, age, return_inverse=True)
    assert list(zip(ux, ut, ua, counts, strict=True)) == [(0, 0, 5, 2), (1, 1, 5, 1), (2, 3.5, 6, 2)]
    np.testing.assert_array_equal(ux[inverse], x)
    np.testing.assert_array_equal(ut[inverse], t_x)
    *_, weighted = compress(x, t_x, age, weights=[1, 2, 3, 4, 5])
    np.testing.assert_array_equal(weighted, [4, 5, 6])


def test_compress_handles_high_cardinality_columns():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 5, 200_000).astype(float)
    t_x = rng.random(200_000).round(3)
    age = t_x + rng.integers(0, 3, 200_000)
    *columns, counts, inverse = compress(x, t_x, age, return_inverse=True)
    assert counts.sum() == 200_000
    for unique, original in zip(columns, (x, t_x, age), strict=True):
        np.testing.assert_array_equal(unique[inverse], original)
    expected = np.unique(np.column_stack([x, t_x, age]), axis=0)
    np.testing.assert_array_equal(np.column_stack(columns), expected)


def test_weighted_compressed_fit_equals_the_per_customer_fit():
    data = cdnow_summary()
    x, t_x, age, counts = compress(data.x, data.t_x, data.T)
    assert len(x) < len(data.x)
    per_customer, weighted = fitted_bgnbd(), BetaGeo().fit(x, t_x, age, weights=counts)
    for name in per_customer.params:
        assert weighted.params[name] == pytest.approx(per_customer.params[name], rel=1e-9)
    assert weighted.log_likelihood == pytest.approx(per_customer.log_likelihood, rel=1e-12)
    assert weighted.customers == per_customer.customers

    repeat = data.x > 0
    x, spend, counts = compress(data.x[repeat], data.monetary_value[repeat])
    doubled = GammaGamma().fit(np.tile(data.x[repeat], 2), np.tile(data.monetary_value[repeat], 2))
    weighted_spend = GammaGamma().fit(x, spend, weights=2 * counts)
    for name in doubled.params:
        assert weighted_spend.params[name] == pytest.approx(doubled.params[name], rel=1e-9)


# --- refusing to fit ---------------------------------------------------------------------------------


def few_repeat_buyers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """200 customers, only 5 of whom bought again."""
    x = np.zeros(200)
    t_x = np.zeros(200)
    x[:5] = [1, 2, 1, 3, 1]
    t_x[:5] = [3.0, 10.0, 4.0, 20.0, 1.0]
    return x, t_x, np.full(200, 30.0)


@pytest.mark.parametrize("model_class", [BetaGeo, ParetoNBD])
def test_too_few_repeat_buyers_cannot_fit(model_class):
    with pytest.raises(CannotFit, match="at least 10 customers who bought more than once"):
        model_class().fit(*few_repeat_buyers())
    with pytest.raises(CannotFit):
        model_class().fit(np.zeros(50), np.zeros(50), np.full(50, 10.0))


def test_gamma_gamma_needs_repeat_buyers():
    x, _, _ = few_repeat_buyers()
    with pytest.raises(CannotFit):
        GammaGamma().fit(x, np.where(x > 0, 20.0, 0.0))


def test_a_fit_that_runs_out_of_iterations_says_so_and_returns_nothing():
    data = cdnow_summary()
    model = BetaGeo()
    with pytest.raises(CannotFit, match="BG/NBD did not converge after 2 iterations"):
        model.fit(data.x, data.t_x, data.T, max_iterations=2)
    assert model.params == {}
    assert not model.converged
    with pytest.raises(RuntimeError, match="not been fitted"):
        model.p_alive(1, 1.0, 2.0)


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "message"),
    [
        ([1, 2], [1.0], [5.0, 5.0], "one value per customer"),
        ([1, 2], [1.0, 6.0], [5.0, 5.0], "cannot exceed T"),
        ([-1, 2], [0.0, 1.0], [5.0, 5.0], "whole numbers"),
        ([1.5, 2], [1.0, 1.0], [5.0, 5.0], "whole numbers"),
        ([0, 2], [1.0, 1.0], [5.0, 5.0], "recency must be 0"),
        ([1, 2], [1.0, np.nan], [5.0, 5.0], "missing or infinite"),
        ([1, 2], [-1.0, 1.0], [5.0, 5.0], "must not be negative"),
    ],
)
def test_impossible_histories_are_invalid(frequency, recency, age, message):
    with pytest.raises(Invalid, match=message):
        BetaGeo().fit(frequency, recency, age)


def test_negative_weights_are_invalid():
    x, t_x, age = few_repeat_buyers()
    with pytest.raises(Invalid, match="weights"):
        BetaGeo().fit(x, t_x, age, weights=-np.ones(200))


def test_models_round_trip_through_as_dict():
    model = fitted_bgnbd()
    loaded = BetaGeo.from_dict(model.as_dict())
    assert loaded.as_dict() == model.as_dict()
    data = cdnow_summary()
    np.testing.assert_array_equal(loaded.p_alive(data.x, data.t_x, data.T), model.p_alive(data.x, data.t_x, data.T))
    with pytest.raises(Invalid):
        ParetoNBD.from_dict(model.as_dict())
    with pytest.raises(Invalid):
        BetaGeo.from_dict({"model": "bgnbd", "params": {"r": 1.0, "alpha": -1.0, "a": 1.0, "b": 1.0}})


# --- CLV ---------------------------------------------------------------------------------------------


def lifetimes_clv(
    bgnbd: BetaGeo, gamma_gamma: GammaGamma, frequency, recency, age, monetary_value, time, discount_rate, freq
):
    """Reference: lifetimes 0.11 GammaGammaFitter.customer_lifetime_value, restated with its own formulas.

    Its BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time (FHL eq. 10, the untransformed
    2F1), its conditional_expected_average_profit and utils._customer_lifetime_value's monthly loop.
    """
    r, alpha, a, b = bgnbd.params.values()
    p, q, v = gamma_gamma.params.values()

    def predict(t):
        x = frequency
        z = t / (alpha + age + t)
        second = 1 - np.exp(
            np.log(hyp2f1(r + x, b + x, a + b + x - 1, z)) + (r + x) * np.log((alpha + age) / (alpha + t + age))
        )
        denominator = 1 + (x > 0) * (a / (b + x - 1)) * ((alpha + age) / (alpha + recency)) ** (r + x)
        return (a + b + x - 1) / (a - 1) * second / denominator

    individual_weight = p * frequency / (p * frequency + q - 1)
    profit = (1 - individual_weight) * (v * p / (q - 1)) + individual_weight * monetary_value
    factor = {"W": 4.345, "M": 1.0, "D": 30, "H": 30 * 24}[freq]
    value = np.zeros(len(frequency))
    for i in np.arange(1, time + 1) * factor:
        value += profit * (predict(i) - predict(i - factor)) / (1 + discount_rate) ** (i / factor)
    return value


def test_clv_matches_lifetimes_to_the_cent():
    data = cdnow_summary()
    bgnbd, gamma_gamma = fitted_bgnbd(), fitted_gamma_gamma()
    ours = clv_lifetimes_compatible(
        bgnbd, gamma_gamma, data.x, data.t_x, data.T, data.monetary_value, months=12, freq="W", monthly_discount=0.01
    )
    reference = lifetimes_clv(bgnbd, gamma_gamma, data.x, data.t_x, data.T, data.monetary_value, 12, 0.01, "W")
    np.testing.assert_allclose(ours, reference, rtol=0, atol=0.005)
    assert np.all(ours >= 0)
    daily_steps = clv_lifetimes_compatible(
        bgnbd, gamma_gamma, data.x, data.t_x, data.T, data.monetary_value, periods_per_month=30 / 7
    )
    assert np.all(daily_steps < ours + 1e-12)  # shorter months, less time to buy


def test_clv_sums_discounted_period_increments():
    data = cdnow_summary()
    bgnbd, gamma_gamma = fitted_bgnbd(), fitted_gamma_gamma()
    args = (data.x, data.t_x, data.T)
    spend = gamma_gamma.conditional_expected_spend(data.x, data.monetary_value)
    naive = sum(
        (bgnbd.expected_purchases(i, *args) - bgnbd.expected_purchases(i - 1, *args)) * spend / 1.002**i
        for i in range(1, 53)
    )
    value = clv(bgnbd, gamma_gamma, *args, data.monetary_value, horizon=52, discount_rate=0.002, margin=0.3)
    np.testing.assert_allclose(value, 0.3 * naive, rtol=1e-10)

    # Without discounting the steps telescope to expected purchases over the horizon times spend.
    undiscounted = clv(
        bgnbd, gamma_gamma, *args, data.monetary_value, horizon=52, discount_rate=0.0, steps_per_period=7
    )
    np.testing.assert_allclose(undiscounted, bgnbd.expected_purchases(52, *args) * spend, rtol=1e-10)
    # Finer steps discount each purchase closer to when it happens: a little more value, never less.
    daily = clv(bgnbd, gamma_gamma, *args, data.monetary_value, horizon=52, discount_rate=0.002, steps_per_period=7)
    assert np.all(daily >= naive - 1e-9) and np.all(daily <= undiscounted + 1e-9)


def test_clv_rejects_nonsense_units():
    data = cdnow_summary()
    with pytest.raises(Invalid):
        clv(
            fitted_bgnbd(),
            fitted_gamma_gamma(),
            data.x,
            data.t_x,
            data.T,
            data.monetary_value,
            horizon=2.5,
            discount_rate=0.01,
        )
    with pytest.raises(Invalid):
        clv_lifetimes_compatible(
            fitted_bgnbd(), fitted_gamma_gamma(), data.x, data.t_x, data.T, data.monetary_value, freq="Y"
        )
