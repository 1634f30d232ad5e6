"""``patron clv ...`` and ``patron score FILE ...`` through patron.analytics.cli.main."""

from __future__ import annotations

import json

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from patron.analytics.cli import main
from patron.analytics.scoring import SCORE_COLUMNS
from patron.analytics.summary import SUMMARY_COLUMNS

CDNOW_FIT = ["--no-header", "--customer-col", "1", "--date-col", "3", "--amount-col", "5",
             "--calibration-end", "1997-09-30", "--time-unit", "week"]


def run_json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_clv_fit_bgnbd_on_cdnow(capsys, cdnow_path):
    result = run_json(capsys, ["clv", "fit", str(cdnow_path), *CDNOW_FIT, "--model", "bgnbd", "--json"])
    assert result["model"] == "bgnbd"
    assert {name: round(value, 3) for name, value in result["params"].items()} == {
        "r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426,
    }
    assert round(result["log_likelihood"], 1) == -9582.4
    assert result["customers"] == 2357


def test_clv_fit_paretonbd_and_gammagamma_on_cdnow(capsys, cdnow_path):
    pareto = run_json(capsys, ["clv", "fit", str(cdnow_path), *CDNOW_FIT, "--model", "paretonbd", "--json"])
    assert set(pareto["params"]) == {"r", "alpha", "s", "beta"}
    assert round(pareto["log_likelihood"], 1) == -9595.0
    spend = run_json(capsys, ["clv", "fit", str(cdnow_path), *CDNOW_FIT, "--model", "gammagamma", "--json"])
    assert {name: round(value, 2) for name, value in spend["params"].items()} == {"p": 6.25, "q": 3.74, "v": 15.44}
    assert spend["customers"] == 946


def test_clv_fit_column_names_col_n_and_a_readable_table(capsys, cdnow_path):
    argv = ["clv", "fit", str(cdnow_path), "--no-header", "--customer-col", "col1", "--date-col", "col3",
            "--calibration-end", "1997-09-30"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "bgnbd" in out and "0.2426" in out and "-9582.43" in out


def test_clv_retention(capsys):
    result = run_json(capsys, ["clv", "retention", "--alive", "1000", "631", "468", "382", "326", "289", "262", "241",
                               "--json"])
    assert round(result["params"]["alpha"], 3) == 0.704
    assert round(result["params"]["beta"], 3) == 1.182
    assert len(result["projected_survival"]) == 5
    assert 0 < result["projected_survival"][-1] < result["projected_survival"][0] < 0.241
    assert "log_likelihood" in result


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["clv", "fit", "missing.csv", "--customer-col", "a", "--date-col", "b", "--calibration-end", "2024-01-01"],
         "File not found"),
        (["clv", "fit", "{cdnow}", "--no-header", "--customer-col", "9", "--date-col", "3",
          "--calibration-end", "1997-09-30"], "position 9"),
        (["clv", "fit", "{cdnow}", "--no-header", "--customer-col", "1", "--date-col", "2",
          "--calibration-end", "1997-09-30"], "'0001' on line 1"),
        (["clv", "fit", "{cdnow}", "--no-header", "--customer-col", "1", "--date-col", "3",
          "--calibration-end", "30/09/1997"], "calibration_end must be a date"),
        (["clv", "fit", "{cdnow}", "--no-header", "--customer-col", "1", "--date-col", "3",
          "--calibration-end", "1997-09-30", "--model", "gammagamma"], "--amount-col"),
        (["clv", "fit", "{cdnow}", "--customer-col", "1", "--date-col", "3"], "--calibration-end"),
        (["clv", "retention", "--alive", "100", "120", "--json"], "must not increase"),
        (["score", "{cdnow}", "--customer-col", "1", "--date-col", "3", "--amount-col", "5", "--no-header",
          "--out", "scores.xlsx"], "--out must end in .parquet or .csv"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(capsys, cdnow_path, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    argv = [part.replace("{cdnow}", str(cdnow_path)) for part in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_a_fit_that_cannot_be_made_exits_1(capsys, cdnow_path):
    argv = ["clv", "fit", str(cdnow_path), "--no-header", "--customer-col", "1", "--date-col", "3",
            "--calibration-end", "1997-01-02", "--json"]
    assert main(argv) == 1
    assert "Cannot fit: BG/NBD needs at least 10 customers" in capsys.readouterr().err


def test_bad_amount_in_a_comma_file_names_the_line(capsys, tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("customer,date,amount\na,2024-01-01,5\nb,2024-01-02,five\n")
    argv = ["score", str(path), "--customer-col", "customer", "--date-col", "date", "--amount-col", "amount",
            "--out", str(tmp_path / "out.parquet")]
    assert main(argv) == 2
    assert "The amount column 'amount' has 'five', which is not a number, on line 3." in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_score_writes_one_row_per_customer(capsys, cdnow_path, tmp_path, suffix):
    out = tmp_path / f"scores{suffix}"
    argv = ["score", str(cdnow_path), "--no-header", "--customer-col", "1", "--date-col", "3", "--amount-col", "5",
            "--observation-end", "1997-09-30", "--out", str(out), "--json"]
    report = run_json(capsys, argv)
    table = pq.read_table(out) if suffix == ".parquet" else pacsv.read_csv(out)
    assert table.num_rows == report["customers"] == 2357
    assert table.column_names == [*SUMMARY_COLUMNS, *SCORE_COLUMNS]
    assert report["fits"]["bgnbd"]["params"]["r"] == pytest.approx(0.2426, abs=1e-4)
    assert report["observation_end"] == "1997-09-30"
    assert {row["tier"] for row in report["tiers"]} == {"A", "B", "C", "D"}


def test_score_prints_a_summary_and_defaults_to_the_last_date(capsys, cdnow_path, tmp_path):
    argv = ["score", str(cdnow_path), "--no-header", "--customer-col", "1", "--date-col", "3", "--amount-col", "5",
            "--out", str(tmp_path / "s.parquet"), "--monthly"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Scored 2,357 customers up to 1998-06-30" in out
    assert "bgnbd" in out and "ABC tiers" in out and "lifecycle" in out
    assert "Monthly ARPU tier transitions" in out


def test_score_draws_a_progress_bar_on_stderr(capsys, cdnow_path, tmp_path, monkeypatch):
    monkeypatch.setenv("PATRON_PROGRESS", "1")
    argv = ["score", str(cdnow_path), "--no-header", "--customer-col", "1", "--date-col", "3", "--amount-col", "5",
            "--out", str(tmp_path / "s.csv"), "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["customers"] == 2357
    assert "summary" in captured.err and "segments" in captured.err


def test_help_and_unknown_commands(capsys):
    assert main(["clv", "--help"]) == 0
    assert "retention" in capsys.readouterr().out
    assert main(["clv", "frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err
