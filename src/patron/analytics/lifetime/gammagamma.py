"""Gamma-Gamma: the spend per transaction model of Fader, Hardie & Lee (2005), "RFM and CLV"."""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import digamma, gammaln

from patron.analytics.lifetime._common import (
    MAX_ITERATIONS,
    FloatArray,
    LifetimeModel,
    as_vector,
    check_frequency,
    check_same_length,
    check_weights,
    maximise_log_likelihood,
    require_identified,
    require_repeat_buyers,
)
from patron.errors import CannotFit, Invalid


def _distinct(values: FloatArray) -> tuple[FloatArray, np.ndarray]:
    """Return the distinct values (in order of first appearance) and each row's index into them.

    A hash table in linear time; np.unique sorts, which was most of the fit's time on a million customers.
    """
    encoded = pc.dictionary_encode(pa.array(values, pa.float64()))
    return encoded.dictionary.to_numpy(), encoded.indices.to_numpy().astype(np.intp)


class _GammaGammaLikelihood:
    """The log-likelihood of each repeat buyer's mean spend, with its analytic gradient.

    Only log(v + x m) needs every row at every step, and only once per distinct total spend x m; the
    other terms are summed once (by x where they involve p).
    """

    def __init__(self, x: FloatArray, mean_spend: FloatArray, weight: FloatArray) -> None:
        self.x, self.weight = x, weight
        self.total_spend = x * mean_spend
        self.total_weight = float(weight.sum())
        self.distinct_x, x_index = _distinct(x)
        self.weight_by_x = np.bincount(x_index, weights=weight, minlength=len(self.distinct_x))
        weighted_log_spend = weight * np.log(mean_spend)
        self.sum_log_spend = float(weighted_log_spend.sum())
        self.sum_x_log_spend = float(weighted_log_spend @ x)
        self.sum_x_log_x = float(self.weight_by_x @ (self.distinct_x * np.log(self.distinct_x)))
        self.weighted_x = weight * x
        self.sum_x = float(self.weighted_x.sum())
        # log(v + x m) depends on the customer's total repeat spend x m alone, and sums of cents repeat a
        # lot (1M customers: 650k repeat buyers, 87k distinct totals): each step takes one log per
        # distinct total, summed with the weight (and weight times x) of the customers who have it.
        self.distinct_spend, spend_index = _distinct(self.total_spend)
        self.weight_by_spend = np.bincount(spend_index, weights=weight, minlength=len(self.distinct_spend))
        self.weighted_x_by_spend = np.bincount(spend_index, weights=self.weighted_x, minlength=len(self.distinct_spend))

    def _evaluate(self, params: FloatArray, *, with_gradient: bool) -> tuple[float, FloatArray]:
        p, q, v = params
        xs = self.distinct_x
        log_pooled = np.log(v + self.distinct_spend)
        sum_log_pooled = float(self.weight_by_spend @ log_pooled)
        sum_x_log_pooled = float(self.weighted_x_by_spend @ log_pooled)
        # Density of the mean of x gamma(p, nu) spends, nu ~ gamma(q, v), per FHL (2005) eq. (3)-(4).
        value = (
            float(self.weight_by_x @ (gammaln(p * xs + q) - gammaln(p * xs)))
            + self.total_weight * (q * np.log(v) - gammaln(q))
            + p * (self.sum_x_log_x + self.sum_x_log_spend)
            - self.sum_log_spend
            - p * sum_x_log_pooled
            - q * sum_log_pooled
        )
        if not with_gradient:
            return value, np.empty(0)
        inverse_pooled = 1.0 / (v + self.distinct_spend)
        d_p = (
            float(self.weight_by_x @ (xs * (digamma(p * xs + q) - digamma(p * xs))))
            + self.sum_x_log_x
            + self.sum_x_log_spend
            - sum_x_log_pooled
        )
        d_q = (
            float(self.weight_by_x @ digamma(p * xs + q))
            - self.total_weight * (digamma(q) - np.log(v))
            - sum_log_pooled
        )
        d_v = (
            self.total_weight * q / v
            - p * float(self.weighted_x_by_spend @ inverse_pooled)
            - q * float(self.weight_by_spend @ inverse_pooled)
        )
        return value, np.array([d_p, d_q, d_v])

    def log_likelihood(self, params: FloatArray) -> float:
        """Return the full log-likelihood summed over repeat buyers."""
        return self._evaluate(params, with_gradient=False)[0]

    def negative_mean(self, log_params: FloatArray) -> tuple[float, FloatArray]:
        """Return minus the mean log-likelihood and its gradient with respect to the log-parameters."""
        params = np.exp(log_params)
        value, gradient = self._evaluate(params, with_gradient=True)
        return -value / self.total_weight, -gradient * params / self.total_weight


def _spend_inputs(frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validate per-customer (x, mean repeat spend): whole frequencies and no negative spend."""
    x = as_vector(frequency, "frequency")
    mean_spend = as_vector(monetary_value, "monetary_value")
    check_same_length(frequency=x, monetary_value=mean_spend)
    check_frequency(x)
    if np.any(mean_spend < 0):
        raise Invalid("monetary_value (mean spend per repeat purchase) must not be negative.", field="monetary_value")
    return x, mean_spend


# What Gamma-Gamma degenerates to when q and v run off to infinity together.
RIDGES = (
    (
        (1, 2),
        lambda p: f"customers look alike in their mean spend (about p v/q = {p[0] * p[2] / p[1]:.4g} per purchase)",
    ),
)


class GammaGamma(LifetimeModel):
    """Gamma-Gamma: each customer's spend per transaction is gamma(p, nu) with nu ~ gamma(q, v).

    Fitted on repeat buyers only; ``monetary_value`` is the mean spend of their repeat transactions
    (the first purchase excluded, as in the paper and in ``lifetimes``). Currency is the data's own.
    """

    kind = "gammagamma"
    label = "Gamma-Gamma"
    param_names = ("p", "q", "v")

    def fit(
        self,
        frequency: npt.ArrayLike,
        monetary_value: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
        *,
        max_iterations: int = MAX_ITERATIONS,
    ) -> Self:
        """Fit on customers with frequency > 0 (others carry no repeat spend and are skipped)."""
        x, mean_spend = _spend_inputs(frequency, monetary_value)
        weight = check_weights(weights, len(x))
        repeat = (x > 0) & (weight > 0)
        # No row compression here: mean spends are nearly all distinct, and the likelihood only needs
        # one log per row per step anyway (see _GammaGammaLikelihood).
        x, mean_spend, weight = x[repeat], mean_spend[repeat], weight[repeat]
        require_repeat_buyers(x, weight, self.label)
        if np.any(mean_spend == 0):
            raise CannotFit(
                f"Gamma-Gamma needs positive spend, but {int(np.count_nonzero(mean_spend == 0))} repeat "
                "buyers have a mean spend of 0; leave out free orders or zero-value customers first."
            )
        likelihood = _GammaGammaLikelihood(x, mean_spend, weight)
        # Start where the implied population mean spend p v / (q - 1) equals the observed mean.
        start = np.log([1.0, 2.0, float(weight @ mean_spend) / likelihood.total_weight])
        log_params, iterations = maximise_log_likelihood(
            likelihood.negative_mean, start, label=self.label, max_iterations=max_iterations
        )
        params = np.exp(log_params)
        require_identified(likelihood.log_likelihood, params, label=self.label, names=self.param_names, ridges=RIDGES)
        if params[1] <= 1:
            raise CannotFit(
                f"Gamma-Gamma fitted q = {params[1]:.3g} <= 1, which implies an infinite mean spend; the "
                "spend data is too heavy-tailed for this model."
            )
        self._store_fit(params, likelihood.log_likelihood(params), likelihood.total_weight, iterations)
        return self

    def conditional_expected_spend(self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> FloatArray:
        """Expected spend per future transaction given x repeat purchases with mean spend monetary_value.

        A weighted average of the population mean p v / (q - 1) and the customer's own mean, which gets
        more weight the more they bought; customers with x = 0 get the population mean.
        """
        p, q, v = self._values()
        x, mean_spend = _spend_inputs(frequency, monetary_value)
        return p * (v + x * mean_spend) / (p * x + q - 1)

    def population_mean_spend(self) -> float:
        """Expected spend per transaction of a customer we know nothing about, p v / (q - 1)."""
        p, q, v = self._values()
        return p * v / (q - 1)
