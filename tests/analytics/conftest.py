"""Fixtures of the analytics tests: the CDNOW sample, small generated bases, an engine per test module."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[2]
# The package lives under src/; make it importable when the project is not installed in the venv.
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

CDNOW = ROOT / "tests" / "data" / "cdnow_sample.txt"
CDNOW_COLUMNS = {"no_header": True, "customer_col": 1, "date_col": 3, "amount_col": 5}
CDNOW_CALIBRATION_END = dt.date(1997, 9, 30)


@pytest.fixture(scope="session")
def cdnow_path() -> Path:
    """The CDNOW 1/10 sample: whitespace separated, no header, YYYYMMDD dates."""
    return CDNOW


def generated_orders(customers: int = 400, seed: int = 3, dropout: tuple[float, float] | None = (1.0, 2.5)) -> pa.Table:
    """A small base with repeat buyers, dropouts, same-day orders, product groups, two years of history.

    Each customer drops out after a purchase with a probability drawn from beta(*dropout) (the BG/NBD
    story); ``dropout=None`` gives everyone the same 30%, where BG/NBD's a and b run off to millions.
    """
    rng = np.random.default_rng(seed)
    ids, days = [], []
    for customer in range(customers):
        day = int(rng.integers(0, 500))
        mean_gap = rng.uniform(10, 120)
        churn = rng.beta(*dropout) if dropout else 0.3
        while day < 730:
            ids.append(customer)
            days.append(day)
            if rng.random() < 0.15:  # a second order on the same day
                ids.append(customer)
                days.append(day)
            if rng.random() < churn:  # drops out after this purchase
                break
            day += 1 + int(rng.exponential(mean_gap))
    id_array = np.array(ids)
    dates = np.datetime64("2023-01-01") + np.array(days).astype("timedelta64[D]")
    amounts = np.round(rng.gamma(2.0, 25.0, len(ids)) + 1, 2)
    products = np.array(["books", "music", "video", "games", "toys"])[rng.integers(0, 5, len(ids))]
    order = rng.permutation(len(ids))
    return pa.table(
        {
            "customer": pa.array([f"c{value:04d}" for value in id_array[order]]),
            "day": pa.array(dates[order].astype("datetime64[D]")),
            "spend": pa.array(amounts[order]),
            "group": pa.array(products[order]),
        }
    )


@pytest.fixture(scope="session")
def orders() -> pa.Table:
    """The generated base as an Arrow table (columns customer, day, spend, group)."""
    return generated_orders()


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write text to a file in tmp_path and return its path."""

    def write(text: str, name: str = "tx.csv") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
