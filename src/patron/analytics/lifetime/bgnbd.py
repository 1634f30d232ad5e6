"""BG/NBD: the beta-geometric / negative-binomial model of repeat buying (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from patron.analytics.lifetime._common import (
    MAX_ITERATIONS,
    FloatArray,
    LifetimeModel,
    customer_rows,
    evaluate_per_distinct_row,
    horizon_input,
    maximise_log_likelihood,
    prediction_inputs,
    require_identified,
    require_repeat_buyers,
)


class _BetaGeoLikelihood:
    """The BG/NBD log-likelihood and its analytic gradient over compressed (x, t_x, T, weight) rows."""

    def __init__(self, x: FloatArray, t_x: FloatArray, age: FloatArray, weight: FloatArray) -> None:
        self.x, self.t_x, self.age, self.weight = x, t_x, age, weight
        self.total_weight = float(weight.sum())
        # Special functions of x are evaluated once per distinct x (a few hundred at most) and summed
        # with the weight of each x, instead of once per row.
        self.distinct_x, self.x_index = np.unique(x, return_inverse=True)
        self.x_index = self.x_index.ravel()
        self.weight_by_x = np.bincount(self.x_index, weights=weight, minlength=len(self.distinct_x))
        self.repeat_x = self.distinct_x > 0
        # Likewise log(alpha + T) and log(alpha + t_x): T and t_x are whole days or weeks, so there are
        # a few hundred distinct values; each step takes logs of those and gathers them per row. The
        # "alive" term -(r + x) log(alpha + T) is summed per distinct T with the weights below.
        self.distinct_age, self.age_index = np.unique(age, return_inverse=True)
        self.age_index = self.age_index.ravel()
        self.distinct_t_x, self.t_x_index = np.unique(t_x, return_inverse=True)
        self.t_x_index = self.t_x_index.ravel()
        self.weight_by_age = np.bincount(self.age_index, weights=weight, minlength=len(self.distinct_age))
        self.weighted_x_by_age = np.bincount(self.age_index, weights=weight * x, minlength=len(self.distinct_age))

    def log_likelihood(self, params: FloatArray) -> float:
        """Return the full log-likelihood (every term, as the paper prints it) summed over customers."""
        return self._evaluate(params, with_gradient=False)[0]

    def negative_mean(self, log_params: FloatArray) -> tuple[float, FloatArray]:
        """Return minus the mean log-likelihood and its gradient with respect to the log-parameters."""
        params = np.exp(log_params)
        value, gradient = self._evaluate(params, with_gradient=True)
        return -value / self.total_weight, -gradient * params / self.total_weight

    def _evaluate(self, params: FloatArray, *, with_gradient: bool) -> tuple[float, FloatArray]:
        r, alpha, a, b = params
        xs = self.distinct_x
        # log(a / (b + x - 1)) is the extra factor of the "dropped out right after the last purchase"
        # term; that term does not exist for x = 0 (and b + x - 1 may be negative there).
        b_x_minus_1 = np.where(self.repeat_x, b + xs - 1, 1.0)
        log_second_factor = np.where(self.repeat_x, np.log(a) - np.log(b_x_minus_1), -np.inf)

        # Per customer: log L = alive + log(1 + exp(excess)), with alive = -(r + x) log(alpha + T) and
        # excess = dropped - alive = log(a / (b + x - 1)) + (r + x) (log(alpha + T) - log(alpha + t_x)).
        log_alpha_age = np.log(alpha + self.distinct_age)
        log_alpha_t_x = np.log(alpha + self.distinct_t_x)
        log_ratio = log_alpha_age[self.age_index]
        log_ratio -= log_alpha_t_x[self.t_x_index]
        r_plus_x = r + self.x
        excess = r_plus_x * log_ratio
        excess += log_second_factor[self.x_index]
        alive_weight_by_age = r * self.weight_by_age + self.weighted_x_by_age
        alive_sum = -float(alive_weight_by_age @ log_alpha_age)

        per_x = gammaln(r + xs) - gammaln(r) + betaln(a, b + xs) - betaln(a, b)
        value = (
            alive_sum
            + float(self.weight @ np.logaddexp(0.0, excess))
            + float(self.weight_by_x @ per_x)
            + self.total_weight * r * np.log(alpha)
        )
        if not with_gradient:
            return value, np.empty(0)

        # Share of each customer's likelihood coming from the "dropped out" term, times the weight.
        weighted_dropped = expit(excess)
        weighted_dropped *= self.weight
        dropped_by_x = np.bincount(self.x_index, weights=weighted_dropped, minlength=len(xs))

        d_r = (
            float(self.weight_by_x @ (digamma(r + xs) - digamma(r)))
            + self.total_weight * np.log(alpha)
            - float(self.weight_by_age @ log_alpha_age)
            + float(weighted_dropped @ log_ratio)
        )
        inverse_age = 1.0 / (alpha + self.distinct_age)
        inverse_t_x = 1.0 / (alpha + self.distinct_t_x)
        inverse_gap = inverse_t_x[self.t_x_index]
        inverse_gap -= inverse_age[self.age_index]
        d_alpha = (
            self.total_weight * r / alpha
            - float(alive_weight_by_age @ inverse_age)
            - float((weighted_dropped * r_plus_x) @ inverse_gap)
        )
        d_a = float(self.weight_by_x @ (digamma(a + b) - digamma(a + b + xs))) + dropped_by_x.sum() / a
        d_b = float(self.weight_by_x @ (digamma(b + xs) - digamma(b) + digamma(a + b) - digamma(a + b + xs))) - float(
            dropped_by_x @ np.where(self.repeat_x, 1.0 / b_x_minus_1, 0.0)
        )
        return value, np.array([d_r, d_alpha, d_a, d_b])


# What BG/NBD degenerates to when a (shape, scale) pair runs off to infinity together.
RIDGES = (
    (
        (0, 1),
        lambda p: f"customers look alike in their purchase rate (about r/alpha = {p[0] / p[1]:.3g} per time unit)",
    ),
    (
        (2, 3),
        lambda p: (
            f"customers look alike in their dropout probability (about a/(a+b) = {p[2] / (p[2] + p[3]):.3g} "
            "after each purchase)"
        ),
    ),
)


class BetaGeo(LifetimeModel):
    """BG/NBD: Poisson purchasing while active, a coin flip after each purchase decides dropout.

    Time is in whatever unit recency and T use (e.g. weeks); ``alpha`` and all predictions share it.
    """

    kind = "bgnbd"
    label = "BG/NBD"
    param_names = ("r", "alpha", "a", "b")

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
        likelihood = _BetaGeoLikelihood(x, t_x, age, weight)
        # Start at a purchase rate of one per mean customer age and a dropout probability of 1/2.
        rate_scale = float(weight @ age) / float(weight @ (x + 1))
        start = np.log([1.0, max(rate_scale, 1e-6), 1.0, 1.0])
        log_params, iterations = maximise_log_likelihood(
            likelihood.negative_mean, start, label=self.label, max_iterations=max_iterations
        )
        params = np.exp(log_params)
        require_identified(likelihood.log_likelihood, params, label=self.label, names=self.param_names, ridges=RIDGES)
        self._store_fit(params, likelihood.log_likelihood(params), likelihood.total_weight, iterations)
        return self

    def p_alive(self, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> FloatArray:
        """Probability that each customer is still active at T (1 for customers with no repeat purchase)."""
        r, alpha, a, b = self._values()
        x, t_x, age = prediction_inputs(x, t_x, T)
        return self._p_alive(x, t_x, age, r, alpha, a, b)

    @staticmethod
    def _p_alive(
        x: FloatArray, t_x: FloatArray, age: FloatArray, r: float, alpha: float, a: float, b: float
    ) -> FloatArray:
        repeat = x > 0
        # 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)) in log space: the power overflows for big x.
        log_odds_dropped = (
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) + (r + x) * np.log1p((age - t_x) / (alpha + t_x))
        )
        return np.where(repeat, expit(-log_odds_dropped), 1.0)

    def _purchases_if_alive(self, t: FloatArray, x: FloatArray, age: FloatArray) -> FloatArray:
        """E[purchases in (T, T+t] | alive at T, x]; expected purchases are this times p_alive."""
        r, alpha, a, b = self._values()
        z = t / (alpha + age + t)
        # Euler's transformation of the paper's 2F1(r+x, b+x; a+b+x-1; z) times ((alpha+T)/(alpha+T+t))^(r+x):
        # the first two parameters no longer grow with x, so nothing overflows for heavy buyers.
        shrink = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * (1 - shrink)

    def expected_purchases(
        self, t: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Expected number of purchases in the next ``t`` time units, given each customer's (x, t_x, T)."""
        r, alpha, a, b = self._values()
        horizon = horizon_input(t)
        x, t_x, age = prediction_inputs(x, t_x, T)
        if_alive = evaluate_per_distinct_row(self._purchases_if_alive, horizon, x, age)
        return self._p_alive(x, t_x, age, r, alpha, a, b) * if_alive

    def expected_purchases_new(self, t: npt.ArrayLike) -> FloatArray:
        """Expected repeat purchases E[X(t)] of a customer in the first ``t`` time units after their first."""
        horizon = horizon_input(t)
        return evaluate_per_distinct_row(
            self._purchases_if_alive, horizon, np.zeros_like(horizon), np.zeros_like(horizon)
        )
