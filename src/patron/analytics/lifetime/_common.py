"""Shared machinery of the lifetime-value models: input checks, compression, the optimiser, the base class."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from patron.errors import CannotFit, Invalid

FloatArray = npt.NDArray[np.float64]

# Below this many repeat buyers the dropout and heterogeneity parameters are not identified; the fit
# "converges" to numbers that mean nothing, so we refuse instead.
MIN_REPEAT_BUYERS = 10
MAX_ITERATIONS = 500
# Parameters are optimised as logs; exp(±20) spans 2e-9..5e8, far beyond any sensible estimate, so an
# estimate at this edge means the likelihood kept improving towards a degenerate model.
LOG_PARAM_BOUND = 20.0
# Identification check: a parameter (or a shape and scale together) is not determined by the data when
# moving it this many times further towards 0 or infinity lowers the whole log-likelihood by less than
# FLAT_LOG_LIKELIHOOD: the likelihood is flat out to the edge, its supremum is the degenerate limit model,
# and the optimiser stopped wherever the slope fell below its tolerance (a = 5.6e7 or 2.5e8 alike). A drop
# this small is a likelihood ratio of 1.05, far inside any confidence interval. (Weakly determined but
# finite maxima, a drop of 0.05 to 1.92, are still returned.)
IDENTIFICATION_FACTOR = 1e3
FLAT_LOG_LIKELIHOOD = 0.05
# A projected gradient (per customer, log-parameter space) this small counts as a maximum even when
# L-BFGS-B stops with a line-search warning, which it does when rounding limits further progress.
GRADIENT_TOLERANCE = 1e-5
# Grouping by searchsorted is fast while the distinct values fit in cache; beyond that a full argsort is
# faster (searchsorted into millions of values thrashes the cache).
_SEARCHSORTED_MAX_UNIQUE = 1 << 16
# A combined integer key with at most this many possible values is ranked with a lookup table (linear
# time) rather than a sort; the table costs 9 bytes per possible key, 300 MB at worst.
_BINCOUNT_MAX_KEYS = 1 << 25
# ... and only while the key space is at most this many times the number of keys (else a sort is faster).
_TABLE_MAX_SPARSITY = 8
# Predictions on fewer rows than this are computed directly; above it, expensive special functions are
# evaluated once per distinct input row, which is what makes scoring 10M customers cheap.
DEDUPLICATE_ABOVE = 50_000


def as_vector(values: npt.ArrayLike, name: str) -> FloatArray:
    """Return ``values`` as a 1-D float array, raising Invalid for anything else or non-finite entries."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise Invalid(f"{name} must be numbers.", field=name) from error
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise Invalid(f"{name} must be a one-dimensional list of numbers.", field=name)
    if not np.all(np.isfinite(array)):
        raise Invalid(f"{name} contains missing or infinite values.", field=name)
    return array


def check_same_length(**arrays: FloatArray) -> int:
    """Return the common length of the arrays, raising Invalid when they differ or are empty."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise Invalid(f"The inputs must have one value per customer, but {described}.")
    length = next(iter(lengths.values()))
    if length == 0:
        raise Invalid("There are no customers to fit.")
    return length


def check_weights(weights: npt.ArrayLike | None, length: int) -> FloatArray:
    """Return per-row weights (ones when None), raising Invalid for negative or mismatched weights."""
    if weights is None:
        return np.ones(length)
    weight_array = as_vector(weights, "weights")
    check_same_length(customers=np.empty(length), weights=weight_array)
    if np.any(weight_array < 0):
        raise Invalid("weights must not be negative.", field="weights")
    return weight_array


def check_frequency(frequency: FloatArray) -> None:
    """Raise Invalid unless every frequency is a whole number of repeat purchases."""
    if np.any(frequency < 0) or np.any(frequency != np.floor(frequency)):
        raise Invalid("frequency must be whole numbers of repeat purchases, 0 or more.", field="frequency")


def check_rfm(frequency: FloatArray, recency: FloatArray, age: FloatArray) -> None:
    """Raise Invalid unless (frequency, recency, T) describe possible purchase histories."""
    check_frequency(frequency)
    if np.any(recency < 0):
        raise Invalid("recency must not be negative.", field="recency")
    # Tolerance: recency and T are often computed as day counts divided by 7, which round identically,
    # but a caller's own arithmetic may differ in the last bit.
    if np.any(recency > age * (1 + 1e-9) + 1e-12):
        raise Invalid("recency (time of the last purchase) cannot exceed T (age of the customer).", field="recency")
    if np.any(recency[frequency == 0] != 0):
        raise Invalid("recency must be 0 for customers without repeat purchases.", field="recency")


def customer_rows(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike, weights: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Validate one (x, t_x, T) row per customer and return them compressed, with summed weights.

    Rows that come with ``weights`` are taken as already compressed (as ``compress`` or the scoring's
    distinct rows give them) and are not compressed again: duplicates among them would still give the
    same likelihood, only evaluated row by row. At 1M customers the second compression cost more than
    the whole Gamma-Gamma fit.
    """
    x = as_vector(frequency, "frequency")
    t_x = as_vector(recency, "recency")
    big_t = as_vector(age, "T")
    length = check_same_length(frequency=x, recency=t_x, T=big_t)
    weight = check_weights(weights, length)
    check_rfm(x, t_x, big_t)
    if weights is None:
        x, t_x, big_t, weight = compress(x, t_x, big_t, weights=weight)
    keep = weight > 0
    return x[keep], t_x[keep], big_t[keep], weight[keep]


def require_repeat_buyers(frequency: FloatArray, weight: FloatArray, label: str) -> None:
    """Raise CannotFit when too few customers bought again for the model to be identified."""
    repeat_buyers = float(weight[frequency > 0].sum())
    if repeat_buyers < MIN_REPEAT_BUYERS:
        raise CannotFit(
            f"{label} needs at least {MIN_REPEAT_BUYERS} customers who bought more than once; "
            f"the data has {repeat_buyers:g}."
        )


def _factorize(values: FloatArray) -> tuple[npt.NDArray[np.int64], int]:
    """Return codes numbering the distinct values in sorted order, and how many there are."""
    distinct = np.unique(values)
    if len(distinct) <= _SEARCHSORTED_MAX_UNIQUE:
        return np.searchsorted(distinct, values).astype(np.int64), len(distinct)
    _, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64).ravel(), len(distinct)


def _rank(keys: npt.NDArray[np.int64], key_space: int) -> tuple[npt.NDArray[np.int64], int]:
    """Renumber integer keys densely (0..distinct-1) preserving their order."""
    # The lookup table costs time in proportion to the key space, a sort in proportion to the keys: for
    # a sparse key space (e.g. re-compressing 400k already distinct rows, 33M possible keys) the sort is
    # ~50x faster. Both give the same numbering.
    if key_space <= _BINCOUNT_MAX_KEYS and key_space <= _TABLE_MAX_SPARSITY * len(keys):
        present = np.zeros(key_space, dtype=bool)
        present[keys] = True
        dense = np.cumsum(present, dtype=np.int64) - 1
        return dense[keys], int(dense[-1]) + 1
    distinct, codes = np.unique(keys, return_inverse=True)
    return codes.astype(np.int64).ravel(), len(distinct)


def group_rows(*columns: FloatArray) -> tuple[npt.NDArray[np.int64], int]:
    """Return, for each row, the number of its distinct row (lexicographic order) and the distinct count."""
    keys, key_space = _factorize(columns[0])
    for column in columns[1:]:
        codes, distinct = _factorize(column)
        # Renumber densely whenever the mixed-radix key space would outgrow linear-time ranking (and,
        # far beyond that, int64): ranking a small key space is cheap, sorting 10M keys is not.
        if key_space * distinct > _BINCOUNT_MAX_KEYS:
            keys, key_space = _rank(keys, key_space)
        keys = keys * distinct + codes
        key_space *= distinct
    return _rank(keys, key_space)


def compress(
    *columns: npt.ArrayLike, weights: npt.ArrayLike | None = None, return_inverse: bool = False
) -> tuple[Any, ...]:
    """Collapse identical rows, e.g. ``compress(x, t_x, T)``, into ``(*unique_columns, counts[, inverse])``.

    ``counts`` sums ``weights`` (default 1 per row), so compressed rows can be compressed again;
    ``unique_column[inverse]`` rebuilds the original rows, which maps per-row predictions back.
    """
    arrays = [as_vector(column, f"column {position}") for position, column in enumerate(columns, start=1)]
    if not arrays:
        raise Invalid("compress needs at least one column.")
    length = check_same_length(**{f"column {position}": array for position, array in enumerate(arrays, 1)})
    weight = check_weights(weights, length)
    inverse, distinct = group_rows(*arrays)
    representative = np.empty(distinct, dtype=np.int64)
    representative[inverse] = np.arange(length)
    counts = np.bincount(inverse, weights=weight, minlength=distinct)
    unique_columns = tuple(array[representative] for array in arrays)
    if return_inverse:
        return (*unique_columns, counts, inverse)
    return (*unique_columns, counts)


def evaluate_per_distinct_row(function: Callable[..., FloatArray], *columns: FloatArray) -> FloatArray:
    """Apply an elementwise ``function`` to broadcast columns, once per distinct row when that pays off."""
    broadcast = np.broadcast_arrays(*columns)
    shape = broadcast[0].shape
    flat = [np.ascontiguousarray(column, dtype=float).ravel() for column in broadcast]
    if flat[0].size <= DEDUPLICATE_ABOVE:
        return np.asarray(function(*flat), dtype=float).reshape(shape)
    inverse, distinct = group_rows(*flat)
    representative = np.empty(distinct, dtype=np.int64)
    representative[inverse] = np.arange(flat[0].size)
    values = np.asarray(function(*(column[representative] for column in flat)), dtype=float)
    return values[inverse].reshape(shape)


def prediction_inputs(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Broadcast and validate (x, t_x, T) for a prediction; scalars and arrays of any shape are fine."""
    try:
        x, t_x, big_t = np.broadcast_arrays(
            np.asarray(frequency, dtype=float), np.asarray(recency, dtype=float), np.asarray(age, dtype=float)
        )
    except ValueError as error:
        raise Invalid("frequency, recency and T must have the same length.") from error
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(big_t))):
        raise Invalid("frequency, recency and T must not contain missing or infinite values.")
    check_rfm(x.ravel(), t_x.ravel(), big_t.ravel())
    return x, t_x, big_t


def horizon_input(t: npt.ArrayLike) -> FloatArray:
    """Return a prediction horizon as floats, raising Invalid for negative or non-finite values."""
    horizon = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(horizon)) or np.any(horizon < 0):
        raise Invalid("The prediction horizon t must be 0 or more.", field="t")
    return horizon


def maximise_log_likelihood(
    negative_mean_log_likelihood: Callable[[FloatArray], tuple[float, FloatArray]],
    start: FloatArray,
    *,
    label: str,
    max_iterations: int,
) -> tuple[FloatArray, int]:
    """Maximise a likelihood over log-parameters with L-BFGS-B; return (log-parameters, iterations).

    The objective is the negative mean log-likelihood per customer with its gradient, so tolerances mean
    the same for 2,000 customers as for 10 million. Raises CannotFit rather than returning a bad optimum.
    """

    def guarded(log_params: FloatArray) -> tuple[float, FloatArray]:
        value, gradient = negative_mean_log_likelihood(log_params)
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            # A huge finite value makes the line search step back instead of aborting on inf/NaN.
            return 1e100, np.zeros_like(log_params)
        return value, gradient

    result = minimize(
        guarded,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_PARAM_BOUND, LOG_PARAM_BOUND)] * len(start),
        options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
    )
    iterations = int(result.nit)
    if result.status == 1 or iterations >= max_iterations:
        raise CannotFit(f"{label} did not converge after {iterations} iterations.")
    if not np.isfinite(result.fun) or result.fun >= 1e99 or not np.all(np.isfinite(result.x)):
        raise CannotFit(f"{label} could not be fitted: the likelihood is not finite for this data.")
    if np.any(np.abs(result.x) >= LOG_PARAM_BOUND - 1e-3):
        raise CannotFit(
            f"{label} could not be fitted: a parameter ran off to 0 or infinity, so the data cannot pin the model down."
        )
    log_params = _newton_polish(guarded, result.x)
    _, gradient = guarded(log_params)
    if not result.success and np.max(np.abs(gradient)) > GRADIENT_TOLERANCE:
        raise CannotFit(f"{label} did not converge after {iterations} iterations ({result.message}).")
    return log_params, iterations


def require_identified(
    log_likelihood: Callable[[FloatArray], float],
    params: FloatArray,
    *,
    label: str,
    names: tuple[str, ...],
    ridges: tuple[tuple[tuple[int, int], Callable[[FloatArray], str]], ...] = (),
) -> None:
    """Raise CannotFit when a parameter, or a declared (shape, scale) pair, is not determined by the data.

    Each parameter alone and each pair in ``ridges`` together is moved IDENTIFICATION_FACTOR times
    towards infinity and towards 0; if the full log-likelihood there is within FLAT_LOG_LIKELIHOOD of
    the maximum, the likelihood is flat out to that edge and the numbers would mean nothing.
    Each pair comes with a function of the parameters saying what the edge at infinity means (e.g.
    "customers look alike in their dropout probability, about a/(a+b) = 0.18 after each purchase").
    """
    best = log_likelihood(params)
    directions: list[tuple[tuple[int, ...], Callable[[FloatArray], str] | None]] = [
        ((index,), None) for index in range(len(params))
    ]
    directions += list(ridges)
    for indices, meaning in directions:
        for factor in (IDENTIFICATION_FACTOR, 1 / IDENTIFICATION_FACTOR):
            moved = params.copy()
            moved[list(indices)] *= factor
            with np.errstate(all="ignore"):
                value = log_likelihood(moved)
            # A likelihood that cannot be evaluated out there says nothing either way.
            if not np.isfinite(value) or value < best - FLAT_LOG_LIKELIHOOD:
                continue
            named = " and ".join(names[index] for index in indices)
            estimates = ", ".join(f"{names[index]} = {params[index]:.4g}" for index in indices)
            several = len(indices) > 1
            reason = (
                f"{label} cannot be fitted: the data do not determine {named}. Making {'both' if several else 'it'} "
                f"{IDENTIFICATION_FACTOR:.0f} times {'larger' if factor > 1 else 'smaller'} lowers the "
                f"log-likelihood by only {max(best - value, 0.0):.3f}: the likelihood is flat out to the edge, so the "
                f"estimate{'s' if several else ''} {estimates} "
                f"mean{'' if several else 's'} nothing"
            )
            if meaning is not None and factor > 1:
                reason += ": " + meaning(params)
            raise CannotFit(
                f"{reason}. A longer calibration period or more customers may pin {'them' if several else 'it'} down."
            )


def _newton_polish(
    objective: Callable[[FloatArray], tuple[float, FloatArray]], point: FloatArray, max_steps: int = 3
) -> FloatArray:
    """Take a few Newton steps from the L-BFGS-B answer, keeping each only if it improves the gradient.

    L-BFGS-B stops when its line search can no longer see progress, with gradients around 1e-8; with
    flat directions (Gamma-Gamma's p and v) that leaves parameters uncertain in the 7th digit and makes a
    fit depend on summation order. A Newton step, with the Hessian from forward differences of the
    gradient, lands on the optimum to rounding, so per-customer and weighted fits agree to 1e-9.
    """
    value, gradient = objective(point)
    step = 1e-6
    hessian = None
    for _ in range(max_steps):
        if np.max(np.abs(gradient)) < 1e-13:
            break
        if hessian is None:
            # The Hessian barely changes over steps this small, so it is computed once and reused: each
            # further step costs one evaluation instead of one per parameter plus one.
            hessian = np.empty((len(point), len(point)))
            for position in range(len(point)):
                shifted = point.copy()
                shifted[position] += step
                hessian[:, position] = (objective(shifted)[1] - gradient) / step
            hessian = (hessian + hessian.T) / 2
        try:
            np.linalg.cholesky(hessian)  # only a maximum (positive definite Hessian) earns a Newton step
            candidate = np.clip(point - np.linalg.solve(hessian, gradient), -LOG_PARAM_BOUND, LOG_PARAM_BOUND)
        except np.linalg.LinAlgError:
            break
        candidate_value, candidate_gradient = objective(candidate)
        improves = candidate_value <= value + 1e-12 * abs(value)
        if not improves or np.max(np.abs(candidate_gradient)) >= np.max(np.abs(gradient)):
            break
        point, value, gradient = candidate, candidate_value, candidate_gradient
    return point


def central_difference_gradient(function: Callable[[FloatArray], float], point: FloatArray) -> FloatArray:
    """Return the gradient of a scalar function by central differences (for likelihoods without one)."""
    # Step ~ cube root of machine epsilon balances truncation against rounding for a smooth function.
    step = 1e-5
    gradient = np.empty_like(point)
    for position in range(len(point)):
        shift = np.zeros_like(point)
        shift[position] = step
        gradient[position] = (function(point + shift) - function(point - shift)) / (2 * step)
    return gradient


def log1mexp(values: FloatArray) -> FloatArray:
    """Return log(1 - exp(values)) for values <= 0 accurately (-inf at 0)."""
    values = np.minimum(values, 0.0)
    with np.errstate(divide="ignore"):
        return np.where(values > -math.log(2), np.log(-np.expm1(values)), np.log1p(-np.exp(values)))


class LifetimeModel:
    """A fitted (or loaded) maximum-likelihood model with its parameters and fit statistics."""

    kind: ClassVar[str]
    label: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        self.params: dict[str, float] = {}
        self.log_likelihood: float = math.nan
        self.customers: int = 0
        self.converged: bool = False
        self.iterations: int = 0

    def _store_fit(self, params: FloatArray, log_likelihood: float, customers: float, iterations: int) -> None:
        """Record a converged fit; only called once every check has passed."""
        self.params = {name: float(value) for name, value in zip(self.param_names, params, strict=True)}
        self.log_likelihood = float(log_likelihood)
        self.customers = round(customers)
        self.converged = True
        self.iterations = iterations

    def _values(self) -> tuple[float, ...]:
        """Return the parameters in ``param_names`` order, or fail if the model was never fitted."""
        if not self.params:
            raise RuntimeError(f"The {self.label} model has not been fitted; call fit() or from_dict() first.")
        return tuple(self.params[name] for name in self.param_names)

    def as_dict(self) -> dict[str, Any]:
        """Return the fit as plain JSON-ready data: model, params, log_likelihood, customers, converged."""
        return {
            "model": self.kind,
            "params": dict(self.params),
            "log_likelihood": self.log_likelihood,
            "customers": self.customers,
            "converged": self.converged,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild a model from ``as_dict()`` output (e.g. stored parameters used for scoring)."""
        if data.get("model") != cls.kind:
            raise Invalid(f"Expected a {cls.kind} model, got {data.get('model')!r}.", field="model")
        params = data.get("params") or {}
        missing = [name for name in cls.param_names if name not in params]
        if missing:
            raise Invalid(f"The {cls.label} parameters are missing {', '.join(missing)}.", field="params")
        values = np.array([float(params[name]) for name in cls.param_names])
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise Invalid(f"The {cls.label} parameters must be positive numbers.", field="params")
        model = cls()
        model.params = {name: float(params[name]) for name in cls.param_names}
        model.log_likelihood = float(data.get("log_likelihood", math.nan))
        model.customers = int(data.get("customers", 0))
        model.converged = bool(data.get("converged", True))
        return model

    def __repr__(self) -> str:
        if not self.params:
            return f"<{type(self).__name__} (not fitted)>"
        shown = ", ".join(f"{name}={value:.4g}" for name, value in self.params.items())
        return f"<{type(self).__name__} {shown}; LL={self.log_likelihood:.1f} on {self.customers} customers>"
