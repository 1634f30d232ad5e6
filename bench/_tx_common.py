"""Shared helpers of the transaction-scoring benches: measured subprocesses, the DuckDB floor, Patron's score.

Each measured stage runs in its own subprocess so that its peak memory (the child's ``ru_maxrss`` from
``os.wait4``) is its own. The subprocesses run this file as a worker:

    .venv/bin/python bench/_tx_common.py floor FILE            # bare DuckDB read + GROUP BY customer
    .venv/bin/python bench/_tx_common.py summary FILE --observation-end YYYY-MM-DD   # the summary, hand-written SQL
    .venv/bin/python bench/_tx_common.py patron FILE --observation-end YYYY-MM-DD [--lifetimes-compatible]

and print one JSON line (prefixed ``RESULT``) with their timings and, for Patron, the fitted parameters.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PATRON_PYTHON = ROOT / ".venv" / "bin" / "python"
LIFETIMES_PYTHON = ROOT / ".venv-lifetimes" / "bin" / "python"
LIFETIMES_BASELINE = ROOT.parent / "shared" / "bench" / "lifetimes_baseline.py"
RESULT_PREFIX = "RESULT "
PARAMETER_NAMES = ("r", "alpha", "a", "b", "p", "q", "v")


@dataclass
class Measured:
    """A finished subprocess: wall time, its own peak resident memory, its output and exit code."""

    command: list[str]
    seconds: float
    peak_mb: float
    stdout: str
    returncode: int
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Return True when the subprocess exited 0."""
        return self.returncode == 0


def run_measured(command: list[str], *, cwd: Path = ROOT) -> Measured:
    """Run a command, echo its stderr live, and return its wall time and peak RSS (its own, via wait4)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    # Linux reports ru_maxrss in kilobytes.
    measured = Measured(command, seconds, usage.ru_maxrss / 1024, stdout, process.returncode)
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            measured.result = json.loads(line[len(RESULT_PREFIX) :])
    return measured


def worker_command(*arguments: str) -> list[str]:
    """Return the command that runs this file as a worker in Patron's virtual environment."""
    return [str(PATRON_PYTHON), str(Path(__file__).resolve()), *arguments]


def warm_page_cache(path: Path) -> None:
    """Read the file once so every measured stage finds it in the page cache (none pays the disk read)."""
    with path.open("rb") as handle:
        while handle.read(1 << 24):
            pass


def default_observation_end(path: Path) -> str | None:
    """Return the observation end recorded in the generator's sidecar ``FILE.json``, if there is one."""
    sidecar = Path(f"{path}.json")
    if sidecar.exists():
        return str(json.loads(sidecar.read_text())["observation_end"])
    return None


def parse_lifetimes_output(text: str) -> dict[str, Any]:
    """Parse the baseline's two lines: stage timings, then the fitted parameters and the CLV sum."""
    parsed: dict[str, Any] = {"stages": {}, "params": {}}
    for name, seconds in re.findall(r"(\w+) ([0-9.]+)s", text):
        parsed["stages"][name] = float(seconds)
    match = re.search(r"bgnbd (\{.*?\}) gg (\{.*?\}) clv_sum ([-0-9.eE+]+)", text)
    if match:
        parsed["params"].update(ast.literal_eval(match.group(1)))
        parsed["params"].update(ast.literal_eval(match.group(2)))
        parsed["clv_sum"] = float(match.group(3))
    return parsed


def relative_difference(ours: float, theirs: float) -> float:
    """Return |ours - theirs| / |theirs| (0 when both are 0)."""
    if theirs == 0:
        return 0.0 if ours == 0 else float("inf")
    return abs(ours - theirs) / abs(theirs)


def machine_line() -> str:
    """Return a one-line description of this machine: cores, memory, CPU model and current load."""
    cores = os.cpu_count() or 0
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cores} cores, {memory:.0f} GiB RAM{', ' + model if model else ''}; load average before the run {load_average()}"


def load_average() -> str:
    """Return the 1, 5 and 15-minute load averages (other work on the machine skews every timing)."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def ratio(numerator: float, denominator: float) -> str:
    """Format numerator / denominator as '12.3x' (or 'n/a')."""
    if not denominator:
        return "n/a"
    return f"{numerator / denominator:.2f}x"


# --- workers (run in a subprocess) -------------------------------------------------------------------------


def floor_query(path: Path) -> str:
    """Return the bare DuckDB query: read the file, count / first / last date / total amount per customer."""
    location = "'" + str(path).replace("'", "''") + "'"
    reader = (
        f"read_parquet({location})"
        if path.suffix.lower() in {".parquet", ".pq", ".parq"}
        else (f"read_csv({location})")
    )
    return (
        "SELECT customer_id, count(*) AS transactions, min(date) AS first_date, max(date) AS last_date, "
        f"sum(amount) AS total FROM {reader} GROUP BY customer_id"
    )


def summary_query(path: Path, observation_end: str) -> str:
    """Return lifetimes' weekly summary (freq="W") plus revenue windows as one hand-written DuckDB query.

    What a DuckDB expert would write for the inputs of the fits and segments: purchases merged per
    customer and calendar week (Monday to Sunday, the week holding the observation end included), then
    per customer the periods, first and last purchase, total and first-week revenue, and revenue in the
    last 3, 6 and 12 months from exact dates. It reads the file with DuckDB's own type detection, as the
    floor does. No parsing checks, no Ibis, no models: the engine's share of Patron's score.
    """
    location = "'" + str(path).replace("'", "''") + "'"
    reader = (
        f"read_parquet({location})" if path.suffix.lower() in {".parquet", ".pq", ".parq"} else f"read_csv({location})"
    )
    end = f"DATE '{observation_end}'"
    windows = ", ".join(
        f"sum(amount) FILTER (WHERE date > {end} - INTERVAL {months} MONTH) AS revenue_{months}m"
        for months in (3, 6, 12)
    )
    sums = ", ".join(f"sum(revenue_{months}m) AS revenue_{months}m" for months in (3, 6, 12))
    return (
        f"WITH weeks AS (SELECT customer_id, date_trunc('week', date) AS week, sum(amount) AS amount, "
        f"count(*) AS n, min(date) AS first_date, max(date) AS last_date, {windows} FROM {reader} "
        f"WHERE date <= date_trunc('week', {end}) + INTERVAL 6 DAY GROUP BY customer_id, week) "
        f"SELECT customer_id, count(*) - 1 AS frequency, "
        f"datediff('day', date_trunc('week', min(first_date)), date_trunc('week', max(last_date))) // 7 AS recency, "
        f"datediff('day', date_trunc('week', min(first_date)), date_trunc('week', {end})) // 7 AS T, "
        f"sum(n) AS transactions, sum(amount) AS total, arg_min(amount, week) AS first_revenue, {sums} "
        f"FROM weeks GROUP BY customer_id"
    )


def run_summary(path: Path, observation_end: str) -> dict[str, Any]:
    """Time the hand-written summary query of the file, fetched as an Arrow table."""
    import duckdb
    import pyarrow.compute as pc

    started = time.perf_counter()
    connection = duckdb.connect()
    table = connection.sql(summary_query(path, observation_end)).to_arrow_table()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "customers": table.num_rows, "periods": int(pc.sum(table.column("frequency")).as_py())}


def run_floor(path: Path) -> dict[str, Any]:
    """Time the bare DuckDB aggregation of the file, fetched as an Arrow table (the floor of any scoring)."""
    import duckdb

    started = time.perf_counter()
    connection = duckdb.connect()
    table = connection.sql(floor_query(path)).to_arrow_table()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "customers": table.num_rows, "duckdb": duckdb.__version__}


def _fit_params(fit: Any) -> dict[str, float]:
    """Pull named parameters out of a fitted model, a dict, or an object with ``params``/``as_dict``."""
    if fit is None:
        return {}
    if isinstance(fit, dict):
        source = fit.get("params", fit)
    elif hasattr(fit, "params") and isinstance(fit.params, dict):
        source = fit.params
    elif hasattr(fit, "as_dict"):
        data = fit.as_dict()
        source = data.get("params", data)
    else:
        source = {name: getattr(fit, name) for name in PARAMETER_NAMES if hasattr(fit, name)}
    return {str(key): float(value) for key, value in source.items() if isinstance(value, int | float)}


def run_patron(path: Path, observation_end: str, *, lifetimes_compatible: bool) -> dict[str, Any]:
    """Time Patron's full scoring of the file and return timings, fitted parameters and the CLV sum."""
    import_started = time.perf_counter()
    # Imports stay outside the timing, as the baseline's do (it prints its stages after importing pandas
    # and lifetimes). Two of Patron's are lazy and would otherwise land inside the first stage: Ibis's
    # DuckDB backend (with sqlglot's dialects) and pandas, which pyarrow.compute loads on its first call.
    import pandas  # noqa: F401
    import pyarrow as pa
    import pyarrow.compute as pc

    from patron.analytics import scoring
    from patron.analytics.engines import connect

    connect("duckdb").disconnect()
    pc.equal(pa.array(["warm"]), "warm")
    imported = time.perf_counter() - import_started
    accepted = inspect.signature(scoring.score).parameters
    options: dict[str, Any] = {"observation_end": observation_end, "time_unit": "week"}
    if lifetimes_compatible:
        options.update(lifetimes_options(accepted))
    unknown = sorted(set(options) - set(accepted))
    if unknown and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        raise SystemExit(f"patron.analytics.scoring.score does not accept {unknown}")
    peaks: dict[str, float] = {}
    if "progress" in accepted:
        # score() calls progress as each stage starts: the peak so far is the peak up to the previous stage.
        stages: list[str] = []

        def progress(stage: str, _fraction: float) -> None:
            if stages:
                peaks[stages[-1]] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            stages.append(stage)

        options["progress"] = progress
    started = time.perf_counter()
    result = scoring.score(str(path), **options)
    seconds = time.perf_counter() - started
    options.pop("progress", None)
    described = describe_result(result, seconds, imported, options)
    described["peak_mb_by_stage"] = peaks
    if lifetimes_compatible:
        described["clv_sum_lifetimes_formula"] = lifetimes_formula_clv_sum(result)
    return described


# lifetimes' customer_lifetime_value(time=12, discount_rate=0.01, freq="W") steps 12 months of 4.345 weeks
# and discounts month k by 1.01^k. score(clv_convention="lifetimes") does the same; without that option the
# nearest settings are 52 weekly steps at the same yearly rate (about 0.2% more CLV).
LIFETIMES_MONTHS = 12
LIFETIMES_MONTHLY_DISCOUNT = 0.01
LIFETIMES_WEEKS_PER_MONTH = 4.345


def lifetimes_options(accepted: Any) -> dict[str, Any]:
    """Return the score() options that make Patron follow lifetimes' conventions (freq='W', 12-month CLV)."""
    options: dict[str, Any] = {}
    if "integer_periods" in accepted:
        options["integer_periods"] = True
    exact = next((name for name in ("clv_convention", "clv_method", "clv_formula") if name in accepted), None)
    if exact is not None:
        options[exact] = "lifetimes"
        if "horizon" in accepted:
            options["horizon"] = LIFETIMES_MONTHS * LIFETIMES_WEEKS_PER_MONTH  # in weeks: 12 lifetimes months
        return options
    if "horizon" in accepted:
        options["horizon"] = 52
    if "discount_rate" in accepted:
        options["discount_rate"] = (1 + LIFETIMES_MONTHLY_DISCOUNT) ** LIFETIMES_MONTHS - 1
    return options


def lifetimes_formula_clv_sum(result: Any) -> float | None:
    """Recompute the CLV sum with lifetimes' own formula from Patron's fits and summary (outside the timing)."""
    from patron.analytics.lifetime import BetaGeo, GammaGamma, clv_lifetimes_compatible

    fits = getattr(result, "fits", {}) or {}
    if not fits.get("bgnbd") or not fits.get("gammagamma"):
        return None
    customers = result.customers
    columns = [_column(customers, name) for name in ("frequency", "recency", "T", "monetary_value")]
    values = clv_lifetimes_compatible(
        BetaGeo.from_dict(fits["bgnbd"]),
        GammaGamma.from_dict(fits["gammagamma"]),
        *columns,
        months=LIFETIMES_MONTHS,
        freq="W",
        monthly_discount=LIFETIMES_MONTHLY_DISCOUNT,
    )
    return float(values.sum())


def describe_result(result: Any, seconds: float, imported: float, options: dict[str, Any]) -> dict[str, Any]:
    """Turn a ScoreResult into a JSON-able dict: timings, parameters, CLV sum, warnings."""
    fits = getattr(result, "fits", {}) or {}
    params: dict[str, float] = {}
    items = fits.items() if isinstance(fits, dict) else ((name, getattr(fits, name)) for name in vars(fits))
    for _, fit in items:
        params.update(_fit_params(fit))
    customers = getattr(result, "customers", None)
    clv_sum = None
    count = None
    if customers is not None:
        count = getattr(customers, "num_rows", None) or len(customers)
        column = _column(customers, "clv")
        if column is not None:
            clv_sum = float(column.sum())
    timings = getattr(result, "timings", None) or getattr(result, "stage_seconds", None) or {}
    return {
        "seconds": seconds,
        "import_seconds": imported,
        "customers": count,
        "params": params,
        "clv_sum": clv_sum,
        "timings": {str(k): float(v) for k, v in dict(timings).items()},
        "warnings": [str(w) for w in (getattr(result, "warnings", None) or [])],
        "options": options,
    }


def _column(table: Any, name: str) -> Any:
    """Return a numeric column of a pyarrow table or pandas frame as a NumPy array, or None."""
    import numpy as np

    names = list(getattr(table, "column_names", None) or getattr(table, "columns", []))
    if name not in names:
        return None
    column = table[name]
    if hasattr(column, "to_numpy"):
        try:
            return np.asarray(column.to_numpy(), dtype=float)
        except TypeError:
            return np.asarray(column.to_numpy(zero_copy_only=False), dtype=float)
    return np.asarray(column, dtype=float)


def worker(argv: list[str] | None = None) -> int:
    """Entry point of the measured subprocesses: run one stage and print its RESULT line."""
    parser = argparse.ArgumentParser(description="bench worker (run by the transaction benches)")
    parser.add_argument("stage", choices=("floor", "summary", "patron"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--observation-end")
    parser.add_argument("--lifetimes-compatible", action="store_true")
    args = parser.parse_args(argv)
    if args.stage == "floor":
        result = run_floor(args.file)
    elif args.stage == "summary":
        result = run_summary(args.file, args.observation_end)
    else:
        result = run_patron(args.file, args.observation_end, lifetimes_compatible=args.lifetimes_compatible)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(worker())
