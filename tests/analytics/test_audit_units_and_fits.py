"""The value engine audit (issue 3): CLV units stated, non-identified fits refused, refunds handled,
Pareto/NBD numerics, score's exit code for missing columns, and whole survivor counts."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow.parquet as pq
import pytest

from patron.analytics.cli import main
from patron.analytics.lifetime import BetaGeo
from patron.analytics.lifetime._common import require_identified
from patron.analytics.lifetime.bgnbd import RIDGES as BGNBD_RIDGES
from patron.analytics.lifetime.bgnbd import _BetaGeoLikelihood
from patron.analytics.lifetime.paretonbd import _ParetoLikelihood
from patron.analytics.scoring import score
from patron.errors import CannotFit, Invalid

from .conftest import generated_orders

CDNOW_SCORE = ["--no-header", "--customer-col", "1", "--date-col", "3", "--amount-col", "5"]


def test_score_states_the_clv_units_in_the_report_and_the_parquet_file(capsys, cdnow_path, tmp_path):
    out = tmp_path / "scores.parquet"
    argv = ["score", str(cdnow_path), *CDNOW_SCORE, "--time-unit", "day", "--out", str(out), "--json"]
    assert main(argv) == 0, capsys.readouterr().err
    units = json.loads(capsys.readouterr().out)["units"]
    # A day-based run defaults to a year of days, not 52 of them.
    assert units["time_unit"] == "day" and units["horizon"] == 365 and units["horizon_days"] == 365
    assert units["horizon_months"] == pytest.approx(12.0, abs=0.01)
    assert units["discount_rate_per_year"] == pytest.approx(0.10)
    assert units["discount_rate_per_period"] == pytest.approx(1.10 ** (1 / 365.25) - 1)
    assert units["margin"] == 1.0
    metadata = pq.read_schema(out).metadata
    assert json.loads(metadata[b"patron.time_unit"]) == "day"
    assert json.loads(metadata[b"patron.horizon"]) == 365
    assert json.loads(metadata[b"patron.discount_rate_per_period"]) == pytest.approx(units["discount_rate_per_period"])


def test_score_writes_the_units_of_a_csv_next_to_it_and_prints_them(capsys, cdnow_path, tmp_path):
    out = tmp_path / "scores.csv"
    argv = ["score", str(cdnow_path), *CDNOW_SCORE, "--time-unit", "month", "--margin", "0.3", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "over 12 months (365.25 days, 52.2 weeks, 12.0 months)" in printed
    assert "margin 0.3" in printed and "units in" in printed
    units = json.loads((tmp_path / "scores.csv.json").read_text())
    assert units["time_unit"] == "month" and units["horizon"] == 12 and units["margin"] == 0.3


def test_score_default_horizon_is_a_year_in_each_unit_and_must_be_whole(orders):
    for unit, horizon in (("day", 365), ("week", 52), ("month", 12)):
        result = score(orders, customer_col="customer", date_col="day", amount_col="spend", time_unit=unit)
        assert result.horizon == horizon and result.units()["horizon"] == horizon
    with pytest.raises(Invalid, match="whole number of weeks"):
        score(orders, customer_col="customer", date_col="day", amount_col="spend", horizon=52.5)


def test_bgnbd_refuses_a_and_b_that_run_off_when_dropout_does_not_differ():
    # Everyone drops out with the same probability: a and b grow without limit (they used to be
    # reported as converged at tens of millions); the refusal says so and names the ratio.
    orders = generated_orders(customers=3000, dropout=None)
    result = score(orders, customer_col="customer", date_col="day", amount_col="spend")
    assert result.fits["bgnbd"] is None
    assert any("BG/NBD" in warning and ("a and b" in warning or "ran off" in warning) for warning in result.warnings)


def test_a_flat_likelihood_ridge_is_refused_with_the_identified_ratio(cdnow_summary):
    # The audit's fit: a = 5.6e7, b = 2.5e8 was reported as converged. Out there the likelihood is flat
    # to infinity, so the check refuses it and names what the data do determine.
    frequency, recency, age = cdnow_summary
    likelihood = _BetaGeoLikelihood(frequency, recency, age, np.ones(len(frequency)))
    drifted = np.array([0.2426, 4.4136, 5.6e7, 2.5e8])
    with pytest.raises(CannotFit, match=r"do not determine a and b.*flat out to the edge"):
        require_identified(likelihood.log_likelihood, drifted, label="BG/NBD", names=BetaGeo.param_names,
                           ridges=BGNBD_RIDGES)
    published = np.array([0.2426, 4.4136, 0.7929, 2.4259])
    require_identified(likelihood.log_likelihood, published, label="BG/NBD", names=BetaGeo.param_names,
                       ridges=BGNBD_RIDGES)


def test_cdnow_fits_are_identified(cdnow_summary):
    frequency, recency, age = cdnow_summary
    model = BetaGeo().fit(frequency, recency, age)
    assert round(model.params["a"], 3) == 0.793


@pytest.fixture
def cdnow_summary(cdnow_path):
    from patron.analytics.sources import read_transactions
    from patron.analytics.summary import summarize

    table = summarize(
        read_transactions(cdnow_path, no_header=True, customer_col=1, date_col=3, amount_col=5),
        observation_end="1997-09-30",
    )
    return (table.column(name).to_numpy() for name in ("frequency", "recency", "T"))


def test_pareto_likelihood_stays_finite_where_hyp2f1_fails():
    x = np.array([0.0, 1.0, 3.0, 8.0])
    t_x = np.array([0.0, 10.0, 30.0, 70.0])
    age = np.array([78.0, 78.0, 78.0, 78.0])
    likelihood = _ParetoLikelihood(x, t_x, age, np.ones(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huge = likelihood.log_likelihood(np.array([1.17, 20.6, 1.4e5, 6.7e6]))
        larger = likelihood.log_likelihood(np.array([1.17, 20.6, 1.4e6, 6.7e7]))
    assert np.isfinite(huge)
    # Towards the homogeneous limit the likelihood converges instead of breaking down.
    assert huge == pytest.approx(larger, abs=1e-3)


def test_pareto_fit_leaks_no_runtime_warning(capfd):
    orders = generated_orders(customers=1500, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = score(orders, customer_col="customer", date_col="day", amount_col="spend", model="paretonbd")
    assert "RuntimeWarning" not in capfd.readouterr().err
    assert "paretonbd" in result.fits


REFUNDS = """customer,date,amount
a,2024-01-01,-50
a,2024-02-01,30
a,2024-03-01,40
b,2024-01-05,20
b,2024-02-05,-10
b,2024-03-05,-15
c,2024-01-07,25
c,2024-02-07,40
c,2024-04-07,-5
"""


def test_refunds_are_counted_with_an_example_and_non_positive_spenders_left_out(write_csv):
    path = write_csv(REFUNDS)
    result = score(path, customer_col="customer", date_col="date", amount_col="amount")
    refunds = next(warning for warning in result.warnings if "negative first purchase" in warning)
    assert "1 customers have a negative first purchase and 1 a negative revenue in all" in refunds
    assert "customer a" in refunds
    left_out = next(warning for warning in result.warnings if "Gamma-Gamma needs positive spend" in warning)
    assert "1 repeat buyers" in left_out and "customer b" in left_out


def test_clv_fit_gammagamma_leaves_out_non_positive_spenders_with_a_warning(capsys, write_csv):
    rng = np.random.default_rng(2)
    lines = ["customer,date,amount"]
    for customer in range(300):
        # Gamma-Gamma's own story: spend gamma(6, nu) per purchase, nu ~ gamma(4, 15) per customer.
        nu = rng.gamma(4.0, 1 / 15.0)
        for month in range(1, 5):
            lines.append(f"c{customer},2024-{month:02d}-0{1 + customer % 9},{rng.gamma(6.0, 1 / nu):.2f}")
    lines += ["bad,2024-01-01,20", "bad,2024-02-01,-5", "bad,2024-03-01,-8"]
    path = write_csv("\n".join(lines) + "\n")
    argv = ["clv", "fit", str(path), "--customer-col", "customer", "--date-col", "date", "--amount-col", "amount",
            "--calibration-end", "2024-06-30", "--model", "gammagamma", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["customers"] == 300 and set(result["params"]) == {"p", "q", "v"}
    assert "customer bad" in captured.err and "left out" in captured.err
    assert any("customer bad" in warning for warning in result["warnings"])


def test_score_exits_3_with_warnings_on_stderr_when_a_model_cannot_be_fitted(capsys, write_csv, tmp_path):
    path = write_csv("customer,date,amount\na,2024-01-01,10\na,2024-02-01,12\nb,2024-01-03,8\n")
    argv = ["score", str(path), "--customer-col", "customer", "--date-col", "date", "--amount-col", "amount",
            "--out", str(tmp_path / "s.parquet")]
    assert main(argv) == 3
    captured = capsys.readouterr()
    assert "warning: BG/NBD" in captured.err
    assert "warning" not in captured.out
    assert pq.read_table(tmp_path / "s.parquet").num_rows == 2


def test_score_help_documents_units_and_exit_codes(capsys):
    assert main(["score", "--help"]) == 0
    text = capsys.readouterr().out
    assert "Exit codes" in text and "3 the file was" in text and "PATH.json" in text


@pytest.mark.parametrize(
    ("alive", "message"),
    [
        (["1000", "800.5", "600"], "whole numbers of customers"),
        (["1000", "800", "900"], "900 (after period 2) follows 800"),
        (["0", "0"], "more than 0"),
    ],
)
def test_retention_refuses_counts_that_are_not_whole_or_increase(capsys, alive, message):
    assert main(["clv", "retention", "--alive", *alive, "--json"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
