"""Shifted-beta-geometric retention model for one cohort (Fader & Hardie 2007, "How to project customer
retention", Journal of Interactive Marketing 21(1))."""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma

from patron.analytics.lifetime._common import (
    MAX_ITERATIONS,
    FloatArray,
    LifetimeModel,
    as_vector,
    maximise_log_likelihood,
    require_identified,
)
from patron.errors import CannotFit, Invalid

# What sBG degenerates to when alpha and beta run off to infinity together.
RIDGES = (
    (
        (0, 1),
        lambda p: (
            f"customers look alike in their churn probability (about alpha/(alpha+beta) = "
            f"{p[0] / (p[0] + p[1]):.3g} per period)"
        ),
    ),
)


class ShiftedBetaGeometric(LifetimeModel):
    """sBG: each customer churns at the end of a period with probability theta ~ beta(alpha, beta).

    Periods are the contract periods of the data (months, years); survival is a fraction of the cohort.
    """

    kind = "sbg"
    label = "sBG"
    param_names = ("alpha", "beta")

    def __init__(self) -> None:
        super().__init__()
        self.observed_periods: int = 0

    def fit(self, alive: npt.ArrayLike, *, max_iterations: int = MAX_ITERATIONS) -> Self:
        """Fit to one cohort's survivor counts ``[N0, N1, ..., Nn]`` at the start and after each period."""
        survivors = as_vector(alive, "alive")
        if len(survivors) < 2:
            raise Invalid("alive needs the cohort size and at least one later survivor count.", field="alive")
        if survivors[0] <= 0 or np.any(survivors < 0):
            raise Invalid("alive must start with a positive cohort size and never go negative.", field="alive")
        if np.any(np.diff(survivors) > 0):
            raise Invalid("alive must not increase: a cohort only loses customers.", field="alive")
        lost = -np.diff(survivors)
        # Both edges are maxima at theta = 0 or 1 where the likelihood is flat, not estimates.
        if not lost.any():
            raise CannotFit("sBG cannot be fitted: no customer left the cohort, so there is no churn to model.")
        if survivors[1] == 0:
            raise CannotFit("sBG cannot be fitted: every customer left in the first period.")
        periods = np.arange(1, len(survivors), dtype=float)
        still_alive = float(survivors[-1])

        def negative_mean(log_params: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(log_params)
            value, gradient = self._log_likelihood(params, periods, lost, still_alive)
            return -value / survivors[0], -gradient * params / survivors[0]

        log_params, iterations = maximise_log_likelihood(
            negative_mean, np.zeros(2), label=self.label, max_iterations=max_iterations
        )
        params = np.exp(log_params)
        require_identified(
            lambda values: self._log_likelihood(values, periods, lost, still_alive)[0],
            params,
            label=self.label,
            names=self.param_names,
            ridges=RIDGES,
        )
        log_likelihood, _ = self._log_likelihood(params, periods, lost, still_alive)
        self._store_fit(params, log_likelihood, float(survivors[0]), iterations)
        self.observed_periods = len(periods)
        return self

    @staticmethod
    def _log_likelihood(
        params: FloatArray, periods: FloatArray, lost: FloatArray, still_alive: float
    ) -> tuple[float, FloatArray]:
        """Return the paper's LL: lost customers' log P(T = t) plus survivors' log S(n), and its gradient."""
        alpha, beta = params
        n = periods[-1]
        # P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta);  S(n) = B(alpha, beta + n) / B(alpha, beta)
        log_churn = betaln(alpha + 1, beta + periods - 1) - betaln(alpha, beta)
        log_survive = betaln(alpha, beta + n) - betaln(alpha, beta)
        value = float(lost @ log_churn) + still_alive * log_survive
        both = digamma(alpha + beta)
        d_churn_alpha = digamma(alpha + 1) - digamma(alpha + beta + periods) - digamma(alpha) + both
        d_churn_beta = digamma(beta + periods - 1) - digamma(alpha + beta + periods) - digamma(beta) + both
        d_survive_alpha = both - digamma(alpha + beta + n)
        d_survive_beta = digamma(beta + n) - digamma(alpha + beta + n) - digamma(beta) + both
        gradient = np.array(
            [
                float(lost @ d_churn_alpha) + still_alive * d_survive_alpha,
                float(lost @ d_churn_beta) + still_alive * d_survive_beta,
            ]
        )
        return value, gradient

    def survival(self, t: npt.ArrayLike) -> FloatArray:
        """Share of the cohort still a customer after ``t`` periods, S(t) = B(alpha, beta + t) / B(alpha, beta)."""
        alpha, beta = self._values()
        periods = np.asarray(t, dtype=float)
        if np.any(periods < 0):
            raise Invalid("The number of periods must be 0 or more.", field="t")
        return np.exp(betaln(alpha, beta + periods) - betaln(alpha, beta))

    def retention(self, t: npt.ArrayLike) -> FloatArray:
        """Retention rate in period ``t`` (1, 2, ...): r_t = S(t)/S(t-1) = (beta + t - 1)/(alpha + beta + t - 1)."""
        alpha, beta = self._values()
        periods = np.asarray(t, dtype=float)
        if np.any(periods < 1):
            raise Invalid("Retention is defined for periods 1, 2, ...", field="t")
        return (beta + periods - 1) / (alpha + beta + periods - 1)

    def projected_survival(self, periods: int) -> FloatArray:
        """Survival fractions S(n+1), ..., S(n+periods) for the periods after the n observed ones.

        Fractions of the original cohort; multiply by N0 for head counts.
        """
        if periods < 0:
            raise Invalid("periods must be 0 or more.", field="periods")
        if not self.observed_periods:
            raise RuntimeError("projected_survival needs a model fitted with fit(); use survival(t) otherwise.")
        return self.survival(np.arange(self.observed_periods + 1, self.observed_periods + periods + 1))
