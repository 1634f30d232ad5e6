"""Pareto/NBD: Poisson purchasing with an exponential lifetime (Schmittlein, Morrison & Colombo 1987).

The likelihood follows Fader & Hardie, "A Note on Deriving the Pareto/NBD Model and Related Expressions"
(2005), eq. (22)-(24), with the Gaussian hypergeometric terms rewritten by Euler's transformation so they
stay bounded for heavy buyers, and the difference A0 taken in log space.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.special import expit, gammaln, hyp2f1

from patron.analytics.lifetime._common import (
    MAX_ITERATIONS,
    FloatArray,
    LifetimeModel,
    central_difference_gradient,
    customer_rows,
    evaluate_per_distinct_row,
    group_rows,
    horizon_input,
    log1mexp,
    maximise_log_likelihood,
    prediction_inputs,
    require_identified,
    require_repeat_buyers,
)


def _log_a0_term(params: FloatArray, x: FloatArray, u: FloatArray) -> FloatArray:
    """Return log of one of the two terms of A0 in the note, evaluated at time u (t_x or T)."""
    r, alpha, s, beta = params
    if alpha >= beta:
        # 2F1(r+s+x, s+1; r+s+x+1; z) / (alpha+u)^(r+s+x), z = (alpha-beta)/(alpha+u), after Euler:
        # (1-z)^-s 2F1(1, r+x; r+s+x+1; z); the new 2F1 lies between 1 and 1/(1-z).
        z = (alpha - beta) / (alpha + u)
        return -(r + x) * np.log(alpha + u) - s * np.log(beta + u) + np.log(hyp2f1(1.0, r + x, r + s + x + 1, z))
    # 2F1(r+s+x, r+x; r+s+x+1; z) / (beta+u)^(r+s+x), z = (beta-alpha)/(beta+u); the original 2F1 grows
    # like (1-z)^-(r+x) and overflows for large x, Euler's form (1-z)^(1-r-x) 2F1(1, s+1; ...) does not.
    z = (beta - alpha) / (beta + u)
    return (1 - r - x) * np.log(alpha + u) - (1 + s) * np.log(beta + u) + np.log(hyp2f1(1.0, s + 1, r + s + x + 1, z))


def _log_a0(params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
    """Return log A0 = log(term(t_x) - term(T)); -inf when the last purchase is at T."""
    with np.errstate(invalid="ignore", over="ignore"):
        at_last_purchase = _log_a0_term(params, x, t_x)
        at_age = _log_a0_term(params, x, age)
        log_a0 = at_last_purchase + log1mexp(at_age - at_last_purchase)
    return _repair_log_a0(params, x, t_x, age, log_a0)


# Gauss-Legendre rule per panel of the quadrature fallback, and the panels' bounds: each panel spans a
# change of at most _PANEL_LOG_CHANGE in the log of the integrand, which 16 nodes integrate to rounding.
_NODES, _NODE_WEIGHTS = np.polynomial.legendre.leggauss(16)
_PANEL_LOG_CHANGE = 4.0
_MAX_PANELS = 64


def _repair_log_a0(
    params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray, log_a0: FloatArray
) -> FloatArray:
    """Recompute by quadrature the log A0 values the hypergeometric function could not give.

    SciPy's hyp2f1 returns NaN for large s and beta with z near 1 (s = 1e5, beta = 7e6: customers that
    look alike in their dropout rate), which the optimiser meets on its way and the identification
    check on purpose. A0 is also (r+s+x) times the integral over (t_x, T] of (alpha+tau)^-(r+x)
    (beta+tau)^-(s+1), the density of dying at tau after x purchases; that integral is taken in
    y = log(alpha + tau), where the integrand's log is close to linear.
    """
    broken = np.isnan(log_a0) | np.isposinf(log_a0) | (np.isneginf(log_a0) & (t_x < age))
    if not broken.any():
        return log_a0
    r, alpha, s, beta = params
    xs, start, end = (np.asarray(column, dtype=float)[broken] for column in (x, t_x, age))
    low, high = np.log(alpha + start), np.log(alpha + end)

    def log_integrand(y: FloatArray, x_: FloatArray) -> FloatArray:
        # dtau = e^y dy, so the power of alpha + tau loses one.
        return (1 - r - x_) * y - (s + 1) * np.log(beta - alpha + np.exp(y))

    change = np.abs(log_integrand(low, xs) - log_integrand(high, xs)) + np.abs(1 - r - xs) * (high - low)
    panels = int(np.clip(np.ceil(np.max(change) / _PANEL_LOG_CHANGE), 1, _MAX_PANELS))
    edges = np.linspace(0.0, 1.0, panels + 1)
    # Nodes on [0, 1]: panel midpoints plus half-widths times the Legendre nodes.
    unit_nodes = ((edges[:-1, None] + edges[1:, None]) / 2 + np.outer(np.diff(edges) / 2, _NODES)).ravel()
    unit_weights = np.outer(np.diff(edges) / 2, _NODE_WEIGHTS).ravel()
    width = (high - low)[:, None]
    y = low[:, None] + width * unit_nodes[None, :]
    values = log_integrand(y, xs[:, None]) + np.log(unit_weights)[None, :]
    top = values.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A last purchase at T leaves nothing to integrate: A0 is 0 and its log -inf, as hyp2f1 gives it.
        log_integral = (top + np.log(np.exp(values - top).sum(axis=1, keepdims=True)) + np.log(width)).ravel()
    log_integral[(high - low) <= 0] = -np.inf
    repaired = np.array(log_a0, dtype=float, copy=True)
    repaired[broken] = np.log(r + s + xs) + log_integral
    return repaired


def _log_alive_odds(params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
    """Return log of (probability inactive / probability active) at T for each customer."""
    r, alpha, s, beta = params
    return (
        np.log(s)
        - np.log(r + s + x)
        + (r + x) * np.log(alpha + age)
        + s * np.log(beta + age)
        + _log_a0(params, x, t_x, age)
    )


def _one_minus_power_over(exponent: float, log_base_ratio: FloatArray) -> FloatArray:
    """Return (1 - exp(-exponent * log_base_ratio)) / exponent, with its limit at exponent = 0."""
    if abs(exponent) < 1e-12:
        return log_base_ratio
    return -np.expm1(-exponent * log_base_ratio) / exponent


class _ParetoLikelihood:
    """The Pareto/NBD log-likelihood over compressed rows; hypergeometric terms once per distinct pair."""

    def __init__(self, x: FloatArray, t_x: FloatArray, age: FloatArray, weight: FloatArray) -> None:
        self.x, self.t_x, self.age, self.weight = x, t_x, age, weight
        self.total_weight = float(weight.sum())
        self.distinct_x, x_index = np.unique(x, return_inverse=True)
        self.weight_by_x = np.bincount(x_index.ravel(), weights=weight, minlength=len(self.distinct_x))
        # The A0 terms depend on (x, t_x) and (x, T) separately, which repeat far more than full rows.
        self.recency_pairs = self._pairs(x, t_x)
        self.age_pairs = self._pairs(x, age)

    @staticmethod
    def _pairs(x: FloatArray, u: FloatArray) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        inverse, distinct = group_rows(x, u)
        representative = np.empty(distinct, dtype=np.int64)
        representative[inverse] = np.arange(len(x))
        return inverse, x[representative], u[representative]

    def log_likelihood(self, params: FloatArray) -> float:
        """Return the full log-likelihood summed over customers."""
        r, alpha, s, beta = params
        codes, pair_x, pair_u = self.recency_pairs
        with np.errstate(invalid="ignore", over="ignore"):
            at_last_purchase = _log_a0_term(params, pair_x, pair_u)[codes]
            codes, pair_x, pair_u = self.age_pairs
            at_age = _log_a0_term(params, pair_x, pair_u)[codes]
            log_a0 = at_last_purchase + log1mexp(at_age - at_last_purchase)
        log_a0 = _repair_log_a0(params, self.x, self.t_x, self.age, log_a0)
        alive_throughout = -(r + self.x) * np.log(alpha + self.age) - s * np.log(beta + self.age)
        per_row = np.logaddexp(alive_throughout, np.log(s) - np.log(r + s + self.x) + log_a0)
        per_x = gammaln(r + self.distinct_x) - gammaln(r)
        return (
            float(self.weight @ per_row)
            + float(self.weight_by_x @ per_x)
            + self.total_weight * (r * np.log(alpha) + s * np.log(beta))
        )

    def _negative_mean_value(self, log_params: FloatArray) -> float:
        return -self.log_likelihood(np.exp(log_params)) / self.total_weight

    def negative_mean(self, log_params: FloatArray) -> tuple[float, FloatArray]:
        """Return minus the mean log-likelihood and its numeric gradient in log-parameters."""
        value = self._negative_mean_value(log_params)
        return value, central_difference_gradient(self._negative_mean_value, log_params)


# What Pareto/NBD degenerates to when a (shape, scale) pair runs off to infinity together.
RIDGES = (
    (
        (0, 1),
        lambda p: f"customers look alike in their purchase rate (about r/alpha = {p[0] / p[1]:.3g} per time unit)",
    ),
    ((2, 3), lambda p: f"customers look alike in their dropout rate (about s/beta = {p[2] / p[3]:.3g} per time unit)"),
)


class ParetoNBD(LifetimeModel):
    """Pareto/NBD: Poisson purchasing while active and an exponential lifetime, both gamma-heterogeneous.

    Time is in whatever unit recency and T use (e.g. weeks); ``alpha``, ``beta`` and predictions share it.
    """

    kind = "paretonbd"
    label = "Pareto/NBD"
    param_names = ("r", "alpha", "s", "beta")

    def fit(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
        *,
        max_iterations: int = MAX_ITERATIONS,
    ) -> Self:
        """Fit by maximum likelihood on (x, t_x, T) per customer, or per row with ``weights`` counts."""
        x, t_x, age, weight = customer_rows(frequency, recency, T, weights)
        require_repeat_buyers(x, weight, self.label)
        likelihood = _ParetoLikelihood(x, t_x, age, weight)
        # Start at a purchase rate of one per mean customer age and a mean lifetime of similar length.
        time_scale = max(float(weight @ age) / float(weight @ (x + 1)), 1e-6)
        start = np.log([1.0, time_scale, 1.0, time_scale])
        log_params, iterations = maximise_log_likelihood(
            likelihood.negative_mean, start, label=self.label, max_iterations=max_iterations
        )
        params = np.exp(log_params)
        require_identified(likelihood.log_likelihood, params, label=self.label, names=self.param_names, ridges=RIDGES)
        self._store_fit(params, likelihood.log_likelihood(params), likelihood.total_weight, iterations)
        return self

    def p_alive(self, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> FloatArray:
        """Probability that each customer is still active at T."""
        params = np.array(self._values())
        x, t_x, age = prediction_inputs(x, t_x, T)
        return evaluate_per_distinct_row(lambda *row: expit(-_log_alive_odds(params, *row)), x, t_x, age)

    def _purchases_if_alive(self, t: FloatArray, x: FloatArray, age: FloatArray) -> FloatArray:
        """E[purchases in (T, T+t] | alive at T, x]; expected purchases are this times p_alive."""
        r, alpha, s, beta = self._values()
        # (r+x)(beta+T) / ((alpha+T)(s-1)) * [1 - ((beta+T)/(beta+T+t))^(s-1)]
        spread = _one_minus_power_over(s - 1, np.log1p(t / (beta + age)))
        return (r + x) * (beta + age) / (alpha + age) * spread

    def expected_purchases(
        self, t: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Expected number of purchases in the next ``t`` time units, given each customer's (x, t_x, T)."""
        horizon = horizon_input(t)
        x, t_x, age = prediction_inputs(x, t_x, T)
        return self.p_alive(x, t_x, age) * self._purchases_if_alive(horizon, x, age)

    def expected_purchases_new(self, t: npt.ArrayLike) -> FloatArray:
        """Expected repeat purchases E[X(t)] of a customer in the first ``t`` time units after their first."""
        horizon = horizon_input(t)
        return self._purchases_if_alive(horizon, np.zeros_like(horizon), np.zeros_like(horizon))
