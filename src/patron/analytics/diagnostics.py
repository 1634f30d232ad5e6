"""Model checks for the lifetime-value models: calibration vs holdout by frequency, and the tracking curve.

Numbers only (plain lists of dicts, JSON-ready); the charts are drawn elsewhere.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from patron.analytics.lifetime._common import as_vector, check_same_length, prediction_inputs
from patron.errors import Invalid


class RepeatPurchaseModel(Protocol):
    """A fitted transaction model (BetaGeo or ParetoNBD)."""

    def expected_purchases(
        self, t: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
    ) -> np.ndarray: ...

    def expected_purchases_new(self, t: npt.ArrayLike) -> np.ndarray: ...


def calibration_holdout_by_frequency(
    model: RepeatPurchaseModel,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    x_holdout: npt.ArrayLike,
    holdout_length: npt.ArrayLike,
    max_frequency: int = 7,
) -> list[dict[str, Any]]:
    """Mean actual vs predicted holdout purchases, by calibration frequency 0, 1, ..., ``max_frequency``+.

    One row per frequency bucket (the last bucket holds everyone at or above ``max_frequency``):
    ``frequency`` (bucket's lower bound), ``label`` ("0".."7+"), ``customers``, ``actual`` and
    ``predicted`` (mean holdout purchases per customer; None for an empty bucket) and ``actual_total``
    and ``predicted_total`` (sums). ``holdout_length`` is in the calibration time unit, one value or one
    per customer; predictions are each customer's conditional expected purchases over it.
    """
    if max_frequency < 0:
        raise Invalid("max_frequency must be 0 or more.", field="max_frequency")
    frequency, recency, age = (column.ravel() for column in prediction_inputs(x, t_x, T))
    actual = as_vector(x_holdout, "x_holdout")
    check_same_length(x=frequency, x_holdout=actual)
    if np.any(actual < 0):
        raise Invalid("x_holdout must not be negative.", field="x_holdout")
    predicted = np.broadcast_to(model.expected_purchases(holdout_length, frequency, recency, age), frequency.shape)

    bucket = np.minimum(frequency, max_frequency).astype(np.int64)
    buckets = max_frequency + 1
    customers = np.bincount(bucket, minlength=buckets)
    actual_total = np.bincount(bucket, weights=actual, minlength=buckets)
    predicted_total = np.bincount(bucket, weights=predicted, minlength=buckets)
    rows = []
    for lower in range(buckets):
        count = int(customers[lower])
        rows.append(
            {
                "frequency": lower,
                "label": f"{lower}+" if lower == max_frequency else str(lower),
                "customers": count,
                "actual": float(actual_total[lower] / count) if count else None,
                "predicted": float(predicted_total[lower] / count) if count else None,
                "actual_total": float(actual_total[lower]),
                "predicted_total": float(predicted_total[lower]),
            }
        )
    return rows


def tracking_curve(
    model: RepeatPurchaseModel,
    first_purchase_offsets: npt.ArrayLike,
    repeat_purchase_times: npt.ArrayLike,
    periods: int,
) -> list[dict[str, Any]]:
    """Actual vs expected cumulative repeat transactions of a cohort, period by period.

    Times are in the model's unit, measured from the start of the tracking window: each customer's first
    purchase at ``first_purchase_offsets[i]``, every repeat purchase of every customer (one flat list)
    at ``repeat_purchase_times``. Period k covers [k-1, k). For k = 1..``periods`` a row gives ``period``,
    ``actual`` (repeat purchases before k), ``expected`` (sum over customers who had started of
    E[X(k - offset)], the model's unconditional expectation for a new customer), and the same two for
    the period alone as ``actual_in_period`` and ``expected_in_period``.
    """
    if periods < 1:
        raise Invalid("periods must be 1 or more.", field="periods")
    offsets = as_vector(first_purchase_offsets, "first_purchase_offsets")
    times = np.sort(as_vector(repeat_purchase_times, "repeat_purchase_times"))
    if np.any(offsets < 0) or np.any(times < 0):
        raise Invalid("Times must be measured from the start of the tracking window, so 0 or more.")

    ends = np.arange(1, periods + 1, dtype=float)
    actual = np.searchsorted(times, ends, side="left").astype(float)
    # Customers sharing a first-purchase time share their expectation curve: evaluate once per distinct
    # offset (a few hundred dates) rather than once per customer.
    distinct_offsets, customers_at_offset = np.unique(offsets, return_counts=True)
    exposure = np.maximum(ends[:, None] - distinct_offsets[None, :], 0.0)
    expected_per_customer = model.expected_purchases_new(exposure.ravel()).reshape(exposure.shape)
    expected = expected_per_customer @ customers_at_offset.astype(float)

    previous_actual = np.concatenate([[0.0], actual[:-1]])
    previous_expected = np.concatenate([[0.0], expected[:-1]])
    return [
        {
            "period": int(period),
            "actual": float(actual[index]),
            "expected": float(expected[index]),
            "actual_in_period": float(actual[index] - previous_actual[index]),
            "expected_in_period": float(expected[index] - previous_expected[index]),
        }
        for index, period in enumerate(ends)
    ]
