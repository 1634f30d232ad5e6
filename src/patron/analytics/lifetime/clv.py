"""Discounted customer lifetime value from a transaction model and a spend model."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from patron.analytics.lifetime._common import FloatArray, group_rows, prediction_inputs
from patron.errors import Invalid

# Length of one "month" in each data time unit, exactly as lifetimes' _customer_lifetime_value has it
# (lifetimes 0.11: {"W": 4.345, "M": 1.0, "D": 30, "H": 30 * 24}).
LIFETIMES_PERIODS_PER_MONTH = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 720.0}


class TransactionModel(Protocol):
    """A fitted repeat-purchase model (BetaGeo or ParetoNBD)."""

    def p_alive(self, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> FloatArray: ...

    def _purchases_if_alive(self, t: FloatArray, x: FloatArray, age: FloatArray) -> FloatArray: ...


class SpendModel(Protocol):
    """A fitted spend-per-transaction model (GammaGamma)."""

    def conditional_expected_spend(self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> FloatArray: ...


def _discounted_purchases(
    transaction_model: TransactionModel,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    *,
    step_length: float,
    steps: int,
    discount_rate: float,
    rate_periods_per_step: float,
) -> FloatArray:
    """Sum over k = 1..steps of (E[X(k step)] - E[X((k-1) step)]) / (1 + discount_rate)^(k rate_periods_per_step)."""
    # Expected purchases factor into p_alive(x, t_x, T) times a function of (t, x, T) alone, so the
    # expensive part is evaluated per step on distinct (x, T) pairs only and p_alive once per customer.
    flat_x, flat_age = (np.ascontiguousarray(column).ravel() for column in np.broadcast_arrays(x, age))
    inverse, distinct = group_rows(flat_x, flat_age)
    representative = np.empty(distinct, dtype=np.int64)
    representative[inverse] = np.arange(flat_x.size)
    pair_x, pair_age = flat_x[representative], flat_age[representative]
    total = np.zeros(distinct)
    previous = np.zeros(distinct)
    for step in range(1, steps + 1):
        cumulative = transaction_model._purchases_if_alive(np.full(distinct, step * step_length), pair_x, pair_age)
        total += (cumulative - previous) / (1 + discount_rate) ** (step * rate_periods_per_step)
        previous = cumulative
    return transaction_model.p_alive(x, t_x, age) * total[inverse].reshape(np.shape(x))


def clv(
    transaction_model: TransactionModel,
    spend_model: SpendModel,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    *,
    horizon: float,
    discount_rate: float,
    margin: float = 1.0,
    steps_per_period: int = 1,
) -> FloatArray:
    """Discounted expected margin of each customer over the next ``horizon`` time units.

    Units: ``horizon`` and ``discount_rate`` are in the time unit of (t_x, T) — with weekly data,
    ``horizon=52, discount_rate=0.0019`` is a year at about 10% a year. The value is

        sum over steps k of (E[X(k h)] - E[X((k-1) h)]) * expected_spend * margin / (1 + discount_rate)^(k h)

    with step h = 1 / steps_per_period (so by default one step per time unit, i in 1..horizon), E[X(.)]
    the transaction model's conditional expected purchases and expected_spend the spend model's
    conditional expected spend per transaction. ``monetary_value`` is the mean spend of repeat purchases.
    """
    if steps_per_period < 1:
        raise Invalid("steps_per_period must be 1 or more.", field="steps_per_period")
    steps = horizon * steps_per_period
    if horizon < 0 or abs(steps - round(steps)) > 1e-9:
        raise Invalid("horizon must be 0 or more and a whole number of steps.", field="horizon")
    if discount_rate <= -1:
        raise Invalid(
            "discount_rate must be more than -1 (it is usually a small positive rate).", field="discount_rate"
        )
    frequency, recency, age = prediction_inputs(x, t_x, T)
    spend = spend_model.conditional_expected_spend(
        frequency.ravel(), np.broadcast_to(monetary_value, frequency.shape).ravel()
    )
    purchases = _discounted_purchases(
        transaction_model,
        frequency,
        recency,
        age,
        step_length=1.0 / steps_per_period,
        steps=round(steps),
        discount_rate=discount_rate,
        rate_periods_per_step=1.0 / steps_per_period,
    )
    return purchases * spend.reshape(frequency.shape) * margin


def clv_lifetimes_compatible(
    transaction_model: TransactionModel,
    spend_model: SpendModel,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    *,
    months: int = 12,
    freq: str = "W",
    monthly_discount: float = 0.01,
    margin: float = 1.0,
    periods_per_month: float | None = None,
) -> FloatArray:
    """CLV as ``lifetimes`` GammaGammaFitter.customer_lifetime_value(..., time, discount_rate, freq) computes it.

    ``freq`` is the data's time unit ("W", "D", "M" or "H"); lifetimes steps one month at a time, a month
    being 4.345 weeks, 30 days or 720 hours, and discounts month k by (1 + monthly_discount)^k. So
    ``clv_lifetimes_compatible(bg, gg, f, r, T, m, months=12, freq="W", monthly_discount=0.01)`` equals
    ``gg.customer_lifetime_value(bg, f, r, T, m, time=12, freq="W", discount_rate=0.01)``.
    ``periods_per_month`` overrides the month length, e.g. 30 / 7 for lifetimes releases before 0.11,
    which stepped 30 days at a time.
    """
    if periods_per_month is None:
        if freq not in LIFETIMES_PERIODS_PER_MONTH:
            raise Invalid(f"freq must be one of {', '.join(LIFETIMES_PERIODS_PER_MONTH)}.", field="freq")
        periods_per_month = LIFETIMES_PERIODS_PER_MONTH[freq]
    if periods_per_month <= 0:
        raise Invalid("periods_per_month must be positive.", field="periods_per_month")
    if months < 0:
        raise Invalid("months must be 0 or more.", field="months")
    frequency, recency, age = prediction_inputs(x, t_x, T)
    spend = spend_model.conditional_expected_spend(
        frequency.ravel(), np.broadcast_to(monetary_value, frequency.shape).ravel()
    )
    purchases = _discounted_purchases(
        transaction_model,
        frequency,
        recency,
        age,
        step_length=periods_per_month,
        steps=months,
        discount_rate=monthly_discount,
        rate_periods_per_step=1.0,
    )
    return purchases * spend.reshape(frequency.shape) * margin
