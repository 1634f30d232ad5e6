"""The same pipeline on DuckDB and on Spark (local[*]) gives identical summaries, scores and tiers."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from patron.analytics.engines import connect, engine_of
from patron.analytics.scoring import score
from patron.analytics.sources import read_transactions
from patron.analytics.summary import holdout_counts, monthly_revenue, summarize
from tests.analytics.conftest import CDNOW_CALIBRATION_END, CDNOW_COLUMNS

pytestmark = pytest.mark.spark

ORDER_COLUMNS = {"customer_col": "customer", "date_col": "day", "amount_col": "spend", "product_col": "group"}


@pytest.fixture(scope="module")
def spark():
    """One local Spark backend for the whole module (starting Spark takes seconds)."""
    pytest.importorskip("pyspark")
    return connect("spark", "local[2]")


@pytest.fixture(scope="module")
def duckdb():
    return connect("duckdb")


@pytest.fixture(scope="module")
def orders_csv(tmp_path_factory, orders):
    path = tmp_path_factory.mktemp("parity") / "orders.csv"
    pacsv.write_csv(orders, path, pacsv.WriteOptions(quoting_style="none"))
    return path


def assert_identical(left: pa.Table, right: pa.Table) -> None:
    """Tables must match bit for bit: same columns, types, order and values (nulls included)."""
    assert left.schema == right.schema
    for name in left.column_names:
        assert left.column(name).equals(right.column(name)), f"column {name} differs"


def test_engines_are_what_they_say(spark, duckdb):
    assert engine_of(spark) == "spark" and engine_of(duckdb) == "duckdb"


@pytest.mark.parametrize(
    "options",
    [
        {"observation_end": CDNOW_CALIBRATION_END, "time_unit": "week"},
        {"observation_end": None, "time_unit": "month"},
        {"observation_end": CDNOW_CALIBRATION_END, "time_unit": "week", "integer_periods": True},
    ],
    ids=["calibration-weeks", "default-end-months", "integer-weeks"],
)
def test_cdnow_summaries_are_identical(spark, duckdb, cdnow_path, options):
    on_duckdb = summarize(read_transactions(cdnow_path, **CDNOW_COLUMNS, backend=duckdb), **options)
    on_spark = summarize(read_transactions(cdnow_path, **CDNOW_COLUMNS, backend=spark), **options)
    assert on_duckdb.num_rows == 2357
    assert_identical(on_duckdb, on_spark)


def test_generated_base_with_products_from_a_file_is_identical(spark, duckdb, orders_csv):
    results = []
    for backend in (duckdb, spark):
        transactions = read_transactions(orders_csv, **ORDER_COLUMNS, backend=backend)
        results.append(
            (
                summarize(transactions, observation_end="2024-10-31", time_unit="day"),
                holdout_counts(transactions, calibration_end="2024-06-30", holdout_end="2024-12-31"),
                monthly_revenue(transactions),
            )
        )
    for on_duckdb, on_spark in zip(*results, strict=True):
        assert_identical(on_duckdb, on_spark)
    assert results[0][0].column("product_groups").null_count == 0


def test_scores_and_tiers_are_identical(spark, duckdb, orders):
    on_duckdb = score(orders, **ORDER_COLUMNS, backend=duckdb, monthly=True)
    on_spark = score(orders, **ORDER_COLUMNS, backend=spark, monthly=True)
    assert on_spark.engine == "spark"
    assert on_duckdb.fits == on_spark.fits
    assert on_duckdb.customers.column("clv").null_count == 0
    assert_identical(on_duckdb.customers, on_spark.customers)
    assert_identical(on_duckdb.pareto, on_spark.pareto)
    assert_identical(on_duckdb.arpu_transitions, on_spark.arpu_transitions)


def test_cdnow_scores_are_identical(spark, duckdb, cdnow_path):
    on_duckdb = score(cdnow_path, **CDNOW_COLUMNS, backend=duckdb, observation_end=CDNOW_CALIBRATION_END)
    on_spark = score(cdnow_path, **CDNOW_COLUMNS, backend=spark, observation_end=CDNOW_CALIBRATION_END)
    assert on_duckdb.fits == on_spark.fits
    assert_identical(on_duckdb.customers, on_spark.customers)


def test_bad_values_are_reported_on_spark_too(spark, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("customer,date,amount\na,2024-01-01,5\nb,2024-01-02,five\n")
    from patron.errors import Invalid

    with pytest.raises(Invalid, match=r"amount column 'amount' has 'five' on line 3"):
        summarize(read_transactions(path, customer_col="customer", backend=spark))
