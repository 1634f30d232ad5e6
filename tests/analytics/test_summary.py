"""The per-customer summary and the readers behind it (DuckDB engine; Spark parity is tested separately)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from patron.analytics.engines import connect
from patron.analytics.sources import read_transactions
from patron.analytics.summary import (
    SUMMARY_COLUMNS,
    holdout_counts,
    monthly_revenue,
    months_before,
    observation_end_of,
    summarize,
)
from patron.errors import Invalid
from tests.analytics.conftest import CDNOW_CALIBRATION_END, CDNOW_COLUMNS


def lifetimes_reference(frame: pd.DataFrame, end: dt.date, unit_days: float) -> pd.DataFrame:
    """lifetimes' summary_data_from_transaction_data(freq="D") / unit, written out plainly in pandas."""
    frame = frame[frame["date"] <= pd.Timestamp(end)]
    days = frame.groupby(["customer_id", "date"], as_index=False)["amount"].sum().sort_values(["customer_id", "date"])
    grouped = days.groupby("customer_id")
    first = grouped["date"].min()
    last = grouped["date"].max()
    count = grouped["date"].count()
    first_amount = grouped["amount"].first()
    total = grouped["amount"].sum()
    out = pd.DataFrame(
        {
            "frequency": (count - 1).astype(float),
            "recency": (last - first).dt.days / unit_days,
            "T": (pd.Timestamp(end) - first).dt.days / unit_days,
        }
    )
    out["monetary_value"] = np.where(out["frequency"] > 0, (total - first_amount) / out["frequency"].where(out["frequency"] > 0, 1), 0.0)
    return out.sort_index()


def cdnow_frame(path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype={0: str, 2: str})
    return pd.DataFrame(
        {"customer_id": raw[0], "date": pd.to_datetime(raw[2], format="%Y%m%d"), "amount": raw[4].astype(float)}
    )


def test_cdnow_summary_matches_lifetimes_definitions(cdnow_path):
    transactions = read_transactions(cdnow_path, **CDNOW_COLUMNS)
    summary = summarize(transactions, observation_end=CDNOW_CALIBRATION_END, time_unit="week")
    assert summary.column_names == list(SUMMARY_COLUMNS)
    assert summary.num_rows == 2357
    ours = summary.to_pandas().set_index("customer_id")
    reference = lifetimes_reference(cdnow_frame(cdnow_path), CDNOW_CALIBRATION_END, 7.0)
    assert list(ours.index) == sorted(reference.index)
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[column].to_numpy(), reference[column].to_numpy())
    np.testing.assert_allclose(ours["monetary_value"], reference["monetary_value"], rtol=1e-12)
    # The first customer of the published CDNOW summary: x = 2, t_x = 30.43, T = 38.86 weeks.
    first = ours.loc["00004"]
    assert (first["frequency"], round(first["recency"], 2), round(first["T"], 2)) == (2, 30.43, 38.86)
    assert first["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


@pytest.mark.parametrize(("unit", "days"), [("day", 1.0), ("week", 7.0), ("month", 30.4375)])
def test_time_units_divide_day_counts(orders, unit, days):
    end = dt.date(2024, 6, 30)
    transactions = read_transactions(orders, customer_col="customer", date_col="day", amount_col="spend")
    ours = summarize(transactions, observation_end=end, time_unit=unit).to_pandas().set_index("customer_id")
    frame = orders.to_pandas().rename(columns={"customer": "customer_id", "day": "date", "spend": "amount"})
    frame["date"] = pd.to_datetime(frame["date"])
    reference = lifetimes_reference(frame, end, days)
    assert list(ours.index) == list(reference.index)
    np.testing.assert_array_equal(ours["recency"].to_numpy(), reference["recency"].to_numpy())
    np.testing.assert_array_equal(ours["T"].to_numpy(), reference["T"].to_numpy())
    np.testing.assert_allclose(ours["monetary_value"], reference["monetary_value"], rtol=1e-12, atol=1e-9)


def test_same_day_purchases_are_one_purchase_and_the_first_is_left_out_of_monetary_value(write_csv):
    path = write_csv(
        "customer,date,amount\n"
        "a,2024-01-01,10\n"
        "a,2024-01-01,5\n"  # same day: one purchase of 15
        "a,2024-01-08,20\n"
        "a,2024-01-08,4\n"  # same day: one purchase of 24
        "a,2024-01-15,30\n"
        "b,2024-01-10,7\n"
    )
    summary = summarize(read_transactions(path, customer_col="customer"), observation_end="2024-01-15", time_unit="day")
    rows = {row["customer_id"]: row for row in summary.to_pylist()}
    assert rows["a"]["frequency"] == 2
    assert rows["a"]["n_transactions"] == 5
    assert rows["a"]["recency"] == 14 and rows["a"]["T"] == 14
    assert rows["a"]["monetary_value"] == pytest.approx((24 + 30) / 2)
    assert rows["a"]["total_revenue"] == pytest.approx(69)
    assert rows["b"]["frequency"] == 0 and rows["b"]["monetary_value"] == 0 and rows["b"]["T"] == 5
    assert rows["a"]["days_since_last"] == 0 and rows["b"]["days_since_last"] == 5


@pytest.mark.parametrize("integer_periods", [False, True])
def test_ids_padded_with_spaces_are_the_same_customer(write_csv, integer_periods):
    padded = write_csv(
        "customer,date,amount,group\n"
        "a,2024-01-01,10,x\n"
        " a,2024-01-09,5,y\n"  # the same customer as "a"
        "a ,2024-01-20,20,x\n"
        "b,2024-01-10,7,x\n",
        "padded.csv",
    )
    plain = write_csv(
        "customer,date,amount,group\na,2024-01-01,10,x\na,2024-01-09,5,y\na,2024-01-20,20,x\nb,2024-01-10,7,x\n",
        "plain.csv",
    )
    summaries = [
        summarize(
            read_transactions(path, customer_col="customer", product_col="group"),
            observation_end="2024-01-31",
            integer_periods=integer_periods,
        ).to_pylist()
        for path in (padded, plain)
    ]
    assert [row["customer_id"] for row in summaries[0]] == ["a", "b"]
    assert summaries[0] == summaries[1]
    assert summaries[0][0]["frequency"] == 2 and summaries[0][0]["product_groups"] == 2


def test_a_blank_id_is_still_reported_when_ids_are_not_trimmed_first(write_csv):
    path = write_csv("customer,date,amount\na,2024-01-01,10\n   ,2024-01-02,5\n")
    with pytest.raises(Invalid, match="customer"):
        summarize(read_transactions(path, customer_col="customer"), observation_end="2024-01-31")


def test_transactions_after_the_observation_end_are_left_out_and_the_default_end_is_the_last_date(write_csv):
    path = write_csv("id;when;value\nx;20240105;1.5\nx;20240301;2.5\ny;20240210;4\n")
    transactions = read_transactions(path, customer_col="id", date_col="when", amount_col="value")
    assert observation_end_of(transactions) == dt.date(2024, 3, 1)
    calibration = {row["customer_id"]: row for row in summarize(transactions, observation_end="2024-02-15").to_pylist()}
    assert calibration["x"]["n_transactions"] == 1 and calibration["x"]["total_revenue"] == 1.5
    full = {row["customer_id"]: row for row in summarize(transactions).to_pylist()}
    assert full["x"]["n_transactions"] == 2
    assert full["x"]["T"] == pytest.approx((dt.date(2024, 3, 1) - dt.date(2024, 1, 5)).days / 7)


def test_revenue_windows_arpu_and_trend(write_csv):
    path = write_csv(
        "customer,date,amount\n"
        "a,2023-03-15,100\n"  # 12 to 6 months before the end
        "a,2023-09-30,50\n"  # exactly 3 months before 2023-12-31 is 2023-09-30: outside the 3-month window
        "a,2023-12-31,30\n"
        "b,2023-12-01,60\n"
        "c,2022-01-01,10\n"
    )
    summary = summarize(read_transactions(path, customer_col="customer"), observation_end="2023-12-31")
    rows = {row["customer_id"]: row for row in summary.to_pylist()}
    assert rows["a"]["arpu_3m"] == pytest.approx(30 / 3)
    assert rows["a"]["arpu_12m"] == pytest.approx(180 / 12)
    assert rows["a"]["revenue_last_6m"] == pytest.approx(80)
    assert rows["a"]["revenue_prev_6m"] == pytest.approx(100)
    assert rows["a"]["revenue_trend"] == pytest.approx(-0.2)
    assert rows["b"]["revenue_trend"] is None  # nothing in the previous 6 months
    assert rows["c"]["arpu_12m"] == 0 and rows["c"]["revenue_trend"] is None
    assert rows["a"]["product_groups"] is None  # no product column named


@pytest.mark.parametrize("time_unit", ["day", "week", "month"])
def test_revenue_windows_count_exact_dates_with_integer_periods_too(write_csv, time_unit):
    # The cutoffs before 2023-12-31 are 2023-09-30 (3 months), 2023-06-30 (6) and 2022-12-31 (12). Each falls
    # inside a week and a month that also holds purchases on both sides of it: only those after it count.
    path = write_csv(
        "customer,date,amount\n"
        "a,2023-09-29,1\n"
        "a,2023-09-30,2\n"  # on the cutoff: outside the 3-month window
        "a,2023-10-01,4\n"
        "a,2023-06-27,8\n"
        "a,2023-07-01,16\n"
        "a,2022-12-30,32\n"
        "a,2023-01-01,64\n"
        "b,2023-12-31,128\n"
    )
    transactions = read_transactions(path, customer_col="customer")
    exact = summarize(transactions, observation_end="2023-12-31", time_unit=time_unit).to_pylist()
    periods = summarize(transactions, observation_end="2023-12-31", time_unit=time_unit, integer_periods=True)
    windows = ("arpu_3m", "arpu_12m", "revenue_last_6m", "revenue_prev_6m")
    assert [{k: row[k] for k in windows} for row in periods.to_pylist()] == [{k: row[k] for k in windows} for row in exact]
    a = periods.to_pylist()[0]
    assert a["arpu_3m"] * 3 == pytest.approx(4)
    assert a["revenue_last_6m"] == pytest.approx(1 + 2 + 4 + 16)
    assert a["arpu_12m"] * 12 == pytest.approx(1 + 2 + 4 + 8 + 16 + 64)


def test_months_before_clamps_to_the_end_of_shorter_months():
    assert months_before(dt.date(2024, 5, 31), 3) == dt.date(2024, 2, 29)
    assert months_before(dt.date(2024, 1, 15), 12) == dt.date(2023, 1, 15)


def test_product_groups_are_counted(orders):
    transactions = read_transactions(
        orders, customer_col="customer", date_col="day", amount_col="spend", product_col="group"
    )
    summary = summarize(transactions, observation_end="2024-12-31").to_pandas().set_index("customer_id")
    frame = orders.to_pandas()
    expected = frame.groupby("customer")["group"].nunique()
    assert summary["product_groups"].to_dict() == expected.to_dict()


def test_integer_periods_follow_lifetimes_weekly_periods(write_csv):
    # 2024-01-03 is a Wednesday (week of Mon 2024-01-01); the end 2024-02-13 is a Tuesday (week of
    # Mon 2024-02-12), so T = 6 whole weeks and the purchase on Thursday 2024-02-15 is included.
    path = write_csv(
        "customer,date,amount\n"
        "a,2024-01-03,10\n"
        "a,2024-01-04,5\n"  # same week: merged
        "a,2024-01-17,8\n"
        "a,2024-02-15,2\n"
        "a,2024-02-19,99\n"  # next week: after the end
    )
    summary = summarize(
        read_transactions(path, customer_col="customer"), observation_end="2024-02-13", integer_periods=True
    )
    row = summary.to_pylist()[0]
    assert (row["frequency"], row["recency"], row["T"]) == (2, 6, 6)
    assert row["monetary_value"] == pytest.approx((8 + 2) / 2)
    assert row["first_purchase"] == dt.date(2024, 1, 3) and row["last_purchase"] == dt.date(2024, 2, 15)


def test_holdout_counts_purchase_days_after_the_calibration_end(write_csv):
    path = write_csv(
        "customer,date,amount\n"
        "a,2024-01-01,10\na,2024-02-01,20\na,2024-02-01,5\na,2024-03-01,30\n"
        "b,2024-01-15,7\n"
        "c,2024-02-10,9\n"  # first bought in the holdout: not a calibration customer
    )
    table = holdout_counts(
        read_transactions(path, customer_col="customer"),
        calibration_end="2024-01-31",
        holdout_end="2024-02-29",
        time_unit="day",
    )
    rows = {row["customer_id"]: row for row in table.to_pylist()}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["frequency_holdout"] == 1 and rows["a"]["revenue_holdout"] == 25
    assert rows["b"]["frequency_holdout"] == 0 and rows["b"]["monetary_value_holdout"] == 0
    assert rows["a"]["duration_holdout"] == 29


def test_monthly_revenue_is_per_customer_and_calendar_month(write_csv):
    path = write_csv("customer,date,amount\na,2024-01-01,1\na,2024-01-31,2\na,2024-03-05,4\nb,2024-02-02,8\n")
    table = monthly_revenue(read_transactions(path, customer_col="customer"))
    assert table.to_pylist() == [
        {"customer_id": "a", "month": dt.date(2024, 1, 1), "revenue": 3.0},
        {"customer_id": "a", "month": dt.date(2024, 3, 1), "revenue": 4.0},
        {"customer_id": "b", "month": dt.date(2024, 2, 1), "revenue": 8.0},
    ]


# --- sources -----------------------------------------------------------------------------------------


def test_every_kind_of_source_gives_the_same_summary(tmp_path, orders):
    columns = {"customer_col": "customer", "date_col": "day", "amount_col": "spend", "product_col": "group"}
    reference = summarize(read_transactions(orders, **columns), observation_end="2024-12-31")
    pq.write_table(orders, tmp_path / "orders.parquet")
    frame = orders.to_pandas()
    frame.to_csv(tmp_path / "orders.csv", index=False)
    frame.assign(day=frame["day"].map(lambda d: d.strftime("%Y%m%d"))).to_csv(
        tmp_path / "orders.tsv", index=False, sep="\t"
    )
    backend = connect("duckdb")
    ibis_table = backend.read_parquet(str(tmp_path / "orders.parquet"))
    for source in (
        tmp_path / "orders.parquet",
        tmp_path / "orders.csv",
        tmp_path / "orders.tsv",
        frame,
        ibis_table,
    ):
        summary = summarize(read_transactions(source, **columns), observation_end="2024-12-31")
        assert summary.equals(reference), source if not isinstance(source, pd.DataFrame) else "pandas"


def test_whitespace_file_with_a_header_and_positions_or_colN(write_csv):
    path = write_csv("  who   when      what\n  a  2024-01-01   3.5\n  a  2024-01-09  1\n b 2024-01-02 2\n", "t.txt")
    by_name = summarize(read_transactions(path, customer_col="who", date_col="when", amount_col="what"))
    assert by_name.column("total_revenue").to_pylist() == [4.5, 2.0]
    headerless = write_csv("a 20240101 3.5\na 20240109 1\nb 20240102 2\n", "n.txt")
    by_position = summarize(read_transactions(headerless, no_header=True, customer_col="col1", date_col=2, amount_col="3"))
    assert by_position.column("total_revenue").to_pylist() == [4.5, 2.0]


def test_customer_ids_stay_strings_with_leading_zeros(cdnow_path):
    table = read_transactions(cdnow_path, **CDNOW_COLUMNS).table
    assert table.schema()["customer_id"].is_string()
    assert table.customer_id.min().execute() == "00004"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer,date,amount\na,2024-01-01,10\nb,2024-01-02,ten\n", "amount column 'amount' has 'ten'"),
        ("customer,date,amount\na,2024-01-01,10\nb,2024-02-30,1\n", "date column 'date' has '2024-02-30'"),
        ("customer,date,amount\na,2024-01-01,10\nb,,1\n", "date column 'date' is empty on line 3"),
        ("customer,date,amount\na,2024-01-01,10\nb,2024-01-03,\n", "amount column 'amount' is empty on line 3"),
        ("customer,date,amount\na,01/02/2024,10\n", "'01/02/2024' on line 2, which is not a date"),
        ("customer,date,amount\na,2024-01-01,10\n,2024-01-03,4\n", "customer column 'customer' is empty on line 3"),
    ],
)
def test_bad_csv_values_name_the_column_line_and_value(write_csv, text, message):
    path = write_csv(text)
    with pytest.raises(Invalid) as caught:
        summarize(read_transactions(path, customer_col="customer"))
    assert message in caught.value.message


def test_bad_values_in_a_whitespace_file_are_found_too(write_csv):
    path = write_csv("a 20240101 3.5\nb 20240102 x1\n", "w.txt")
    with pytest.raises(Invalid, match=r"amount column 'col3' has 'x1' on line 2"):
        summarize(read_transactions(path, no_header=True, customer_col=1, date_col=2, amount_col=3))
    short = write_csv("a 20240101 3.5\nb 20240102\n", "s.txt")
    with pytest.raises(Invalid, match=r"Line 2 .* has 2 fields"):
        summarize(read_transactions(short, no_header=True, customer_col=1, date_col=2, amount_col=3))


def test_missing_columns_and_files_are_explained(write_csv, tmp_path):
    path = write_csv("customer,date,amount\na,2024-01-01,1\n")
    with pytest.raises(Invalid, match=r"The amount column 'price' is not in tx.csv; its columns are"):
        read_transactions(path, customer_col="customer", amount_col="price")
    with pytest.raises(Invalid, match=r"position 7, but tx\.csv has 3 columns"):
        read_transactions(path, no_header=True, customer_col=7)
    with pytest.raises(Invalid, match="without a header names columns by position"):
        read_transactions(path, no_header=True, customer_col="customer")
    with pytest.raises(Invalid, match="File not found"):
        read_transactions(tmp_path / "nope.csv")
    with pytest.raises(Invalid, match="is empty"):
        read_transactions(write_csv("", "empty.csv"))


def test_arrow_tables_are_checked_row_by_row():
    table = pa.table({"customer_id": ["a", "b"], "date": ["2024-01-01", "2024-13-01"], "amount": [1.0, 2.0]})
    with pytest.raises(Invalid, match=r"'2024-13-01' on row 2"):
        read_transactions(table)
    missing = pa.table({"customer_id": ["a", None], "date": [dt.date(2024, 1, 1)] * 2, "amount": [1.0, 2.0]})
    with pytest.raises(Invalid, match="customer column 'customer_id' is empty on row 2"):
        read_transactions(missing)
    text_amounts = pa.table({"customer_id": ["a", "b"], "date": [dt.date(2024, 1, 1)] * 2, "amount": ["1.5", "n/a"]})
    with pytest.raises(Invalid, match="'n/a' on row 2, which is not a number"):
        read_transactions(text_amounts)


def test_parquet_with_missing_values_is_rejected(tmp_path):
    table = pa.table({"customer_id": ["a", "b", "c"], "date": [dt.date(2024, 1, 1), None, dt.date(2024, 1, 2)],
                      "amount": [1.0, 2.0, 3.0]})
    pq.write_table(table, tmp_path / "gaps.parquet")
    with pytest.raises(Invalid, match="date column 'date' is empty on row 2"):
        summarize(read_transactions(tmp_path / "gaps.parquet"))


def test_timestamps_are_cut_to_dates(write_csv):
    path = write_csv("customer,date,amount\na,2024-01-01 23:59:59,1\na,2024-01-02T08:00:00,2\n")
    summary = summarize(read_transactions(path, customer_col="customer"), time_unit="day")
    row = summary.to_pylist()[0]
    assert row["first_purchase"] == dt.date(2024, 1, 1) and row["frequency"] == 1
