"""The analytics commands of the ``patron`` console script: ``patron clv ...`` and ``patron score FILE``.

Plain argparse, no Django: the console script hands ``argv`` (starting with "clv" or "score") to
``main``, which returns the exit code: 0 done, 2 bad input (a missing file or column, an unreadable
date or amount, a bad option), 1 a model that cannot be fitted, 3 (``patron score``) the file was
written but a model could not be fitted, so some prediction columns are empty. Warnings go to stderr.

Columns are named by header name; with ``--no-header`` by 1-based position (``3``) or as ``col3``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from patron.errors import CannotFit, Invalid, PatronError

EXIT_OK = 0
EXIT_CANNOT_FIT = 1
EXIT_INVALID = 2
EXIT_INCOMPLETE = 3
SCORE_EPILOG = """\
Units: expected purchases and CLV cover --horizon time units after the observation end (default a
year: 365 days, 52 weeks or 12 months), CLV is discounted at --discount-rate a year converted to a
rate per time unit, times --margin. The printed (or --json) report states them; a Parquet file
carries them as schema metadata (keys patron.time_unit, patron.horizon, patron.horizon_days,
patron.discount_rate_per_year, patron.discount_rate_per_period, patron.margin, ...); CSV cannot,
so they are written next to it as PATH.json.

Negative amounts (refunds) are kept and counted, with a warning giving how many and an example
customer; repeat buyers whose mean repeat spend is 0 or less are left out of the Gamma-Gamma fit
and get no expected spend or CLV.

Exit codes: 0 every column scored; 1 not used by score; 2 bad input; 3 the file was written but a
model could not be fitted (or predictions overflowed), so some prediction columns are empty (see
the warnings on stderr)."""
MODELS = ("bgnbd", "paretonbd", "gammagamma")
OUTPUT_SUFFIXES = (".parquet", ".pq", ".csv")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so main() always returns an exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise a usage error carrying argparse's message."""
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    """A command-line usage mistake (exit code 2, like argparse's own)."""


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``patron clv ...`` and ``patron score ...``."""
    parser = _Parser(prog="patron", description="Customer-value analytics on transaction files.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    clv = commands.add_parser("clv", help="fit lifetime-value models", description="Fit lifetime-value models.")
    clv_commands = clv.add_subparsers(dest="clv_command", required=True, parser_class=_Parser)

    fit = clv_commands.add_parser(
        "fit",
        help="fit BG/NBD, Pareto/NBD or Gamma-Gamma to a transactions file",
        description="Fit a model to the transactions up to --calibration-end (later ones are held out).",
    )
    _add_source_arguments(fit, amount_required=False)
    fit.add_argument("--calibration-end", required=True, help="last day of the calibration period (YYYY-MM-DD)")
    fit.add_argument("--time-unit", choices=("day", "week", "month"), default="week")
    fit.add_argument("--integer-periods", action="store_true",
                     help="count whole calendar periods, as lifetimes does with freq='W'")
    fit.add_argument("--model", choices=MODELS, default="bgnbd")
    fit.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    fit.add_argument("--spark-master", help="Spark master URL (default: PATRON_SPARK_MASTER or local[*])")
    fit.add_argument("--json", action="store_true", help="print one JSON object")

    retention = clv_commands.add_parser(
        "retention",
        help="fit the shifted-beta-geometric model to a cohort's survivor counts",
        description="Fit sBG to survivor counts N0 N1 ... Nn and project the next periods.",
    )
    retention.add_argument("--alive", nargs="+", required=True, type=float, metavar="N",
                           help="customers still active at the start and after each period: whole numbers, "
                                "never increasing, the first above 0")
    retention.add_argument("--periods", type=int, default=5, help="periods to project (default 5)")
    retention.add_argument("--json", action="store_true", help="print one JSON object")

    score = commands.add_parser(
        "score",
        help="score a transactions file: tiers, RFM, lifecycle classes, P(alive), CLV",
        description="Score every customer of a transactions file and write one row per customer.",
        epilog=SCORE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_source_arguments(score, amount_required=True)
    score.add_argument("--out", required=True, help="output file: .parquet or .csv")
    score.add_argument("--time-unit", choices=("day", "week", "month"), default="week")
    score.add_argument("--integer-periods", action="store_true",
                       help="count whole calendar periods, as lifetimes does with freq='W'")
    score.add_argument("--observation-end", help="last day observed (default: the last date in the file)")
    score.add_argument("--horizon", type=int, default=None,
                       help="CLV and expected purchases horizon, whole time units (default a year: 365/52/12)")
    score.add_argument("--discount-rate", type=float, default=0.10,
                       help="yearly discount rate (default 0.10), converted to a rate per time unit")
    score.add_argument("--margin", type=float, default=1.0, help="profit margin applied to CLV (default 1.0)")
    score.add_argument("--model", choices=("bgnbd", "paretonbd"), default="bgnbd")
    score.add_argument("--abc-method", choices=("share", "cumulative"), default="share")
    score.add_argument("--abc-value", choices=("revenue", "margin", "clv"), default="revenue")
    score.add_argument("--monthly", action="store_true", help="also print monthly ARPU tier transitions")
    score.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    score.add_argument("--spark-master", help="Spark master URL (default: PATRON_SPARK_MASTER or local[*])")
    score.add_argument("--json", action="store_true", help="print the run summary as JSON")
    score.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _add_source_arguments(parser: argparse.ArgumentParser, *, amount_required: bool) -> None:
    parser.add_argument("file", help="transactions: CSV (comma or whitespace separated) or Parquet")
    parser.add_argument("--customer-col", required=True, help="customer id column (name, or position with --no-header)")
    parser.add_argument("--date-col", required=True, help="purchase date column (YYYY-MM-DD or YYYYMMDD)")
    parser.add_argument("--amount-col", required=amount_required, help="amount column")
    parser.add_argument("--product-col", help="product group column (optional)")
    parser.add_argument("--no-header", action="store_true",
                        help="the file has no header; name columns by position (1, 2, ...) or col1, col2, ...")
    parser.add_argument("--sep", help="field separator (default: detected; 'whitespace' for runs of spaces)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``patron clv ...`` or ``patron score ...``; return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if (arguments and arguments[0] in {"-h", "--help"}) or not arguments:
            parser.print_help()
            return EXIT_OK if arguments else EXIT_INVALID
        args = parser.parse_args(arguments)
        if args.command == "clv" and args.clv_command == "fit":
            return _clv_fit(args)
        if args.command == "clv" and args.clv_command == "retention":
            return _clv_retention(args)
        return _score(args)
    except _UsageError as error:
        print(str(error), file=sys.stderr)
        return EXIT_INVALID
    except SystemExit as exit_:  # --help inside a subcommand
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else EXIT_INVALID
    except CannotFit as error:
        print(f"Cannot fit: {error.message}", file=sys.stderr)
        return EXIT_CANNOT_FIT
    except PatronError as error:
        print(f"Error: {error.message}", file=sys.stderr)
        return EXIT_INVALID


# --- clv fit ---------------------------------------------------------------------------------------


def _clv_fit(args: argparse.Namespace) -> int:
    from patron.analytics.engines import single_threaded_blas
    from patron.analytics.scoring import negative_amount_warning
    from patron.analytics.sources import read_transactions
    from patron.analytics.summary import as_date, finish_summary, summary_aggregates

    if args.model == "gammagamma" and not args.amount_col:
        raise Invalid("The gammagamma model needs the spend per purchase: give --amount-col.", field="amount_col")
    calibration_end = as_date(args.calibration_end, field="calibration_end")
    transactions = read_transactions(
        args.file,
        customer_col=args.customer_col,
        date_col=args.date_col,
        amount_col=args.amount_col,
        product_col=args.product_col,
        no_header=args.no_header,
        sep=args.sep,
        engine=args.engine,
        spark_master=args.spark_master,
    )
    raw, end = summary_aggregates(
        transactions, observation_end=calibration_end, time_unit=args.time_unit, integer_periods=args.integer_periods
    )
    summary = finish_summary(raw, observation_end=end, time_unit=args.time_unit, integer_periods=args.integer_periods)
    frequency = summary.column("frequency").to_numpy()
    refunds = negative_amount_warning(raw) if args.amount_col else None
    warnings: list[str] = [refunds] if refunds else []
    with single_threaded_blas():
        model = _fit_one(args, summary, frequency, warnings)
    fitted = model.as_dict()
    result = {
        "model": fitted["model"],
        "params": fitted["params"],
        "log_likelihood": fitted["log_likelihood"],
        "customers": fitted["customers"],
        "converged": fitted["converged"],
        "time_unit": args.time_unit,
        "calibration_end": calibration_end.isoformat(),
        "calibration_customers": summary.num_rows,
        "warnings": warnings,
    }
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        _print_fit(result, sys.stdout)
    return EXIT_OK


def _fit_one(args: argparse.Namespace, summary: Any, frequency: np.ndarray, warnings: list[str]) -> Any:
    """Fit the model named by --model to the calibration summary, adding what it left out to ``warnings``."""
    from patron.analytics.lifetime import BetaGeo, GammaGamma, ParetoNBD
    from patron.analytics.scoring import distinct_rows, spend_exclusions
    from patron.analytics.summary import check_time_unit

    if args.model == "gammagamma":
        monetary = summary.column("monetary_value").to_numpy()
        excluded, warning = spend_exclusions(frequency, monetary, summary.column("customer_id"))
        if warning:
            warnings.append(warning)
        chosen = (frequency > 0) & ~excluded
        return GammaGamma().fit(frequency[chosen], monetary[chosen])
    scale = 1.0 if args.integer_periods else check_time_unit(args.time_unit)
    rows = distinct_rows(frequency, summary.column("recency").to_numpy(), summary.column("T").to_numpy(), scale=scale)
    model_class = BetaGeo if args.model == "bgnbd" else ParetoNBD
    return model_class().fit(rows.x, rows.t_x, rows.T, weights=rows.counts)


def _print_fit(result: dict[str, Any], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['model']} fit, calibration to {result['calibration_end']} ({result['time_unit']}s)")
    table.add_column("parameter")
    table.add_column("estimate", justify="right")
    for name, value in result["params"].items():
        table.add_row(name, f"{value:.4f}")
    table.add_row("log-likelihood", f"{result['log_likelihood']:.2f}")
    table.add_row("customers", str(result["customers"]))
    Console(file=out).print(table)


# --- clv retention ---------------------------------------------------------------------------------


def _clv_retention(args: argparse.Namespace) -> int:
    from patron.analytics.lifetime import ShiftedBetaGeometric

    if args.periods < 0 or args.periods > 1000:
        raise Invalid("--periods must be between 0 and 1000.", field="periods")
    _check_survivors(args.alive)
    model = ShiftedBetaGeometric().fit(np.asarray(args.alive, dtype=float))
    survival = [float(value) for value in model.projected_survival(args.periods)]
    cohort = float(args.alive[0])
    first_period = len(args.alive)
    result: dict[str, Any] = {
        "model": "sbg",
        "params": dict(model.params),
        "log_likelihood": model.log_likelihood,
        "customers": model.customers,
        "observed_periods": len(args.alive) - 1,
        "projected_survival": survival,
        "projected_alive": [cohort * value for value in survival],
        "projected_periods": list(range(first_period, first_period + args.periods)),
    }
    if args.json:
        print(json.dumps(result))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    console = Console()
    params = ", ".join(f"{name} = {value:.4f}" for name, value in result["params"].items())
    console.print(f"sBG: {params}; log-likelihood {result['log_likelihood']:.2f}")
    table = Table(title="Projected survival")
    table.add_column("period", justify="right")
    table.add_column("share of cohort", justify="right")
    table.add_column("customers", justify="right")
    for period, share, alive in zip(result["projected_periods"], survival, result["projected_alive"], strict=True):
        table.add_row(str(period), f"{share:.4f}", f"{alive:.1f}")
    console.print(table)
    return EXIT_OK


def _check_survivors(alive: Sequence[float]) -> None:
    """Raise Invalid unless --alive holds whole head counts, never increasing, starting above 0."""
    for position, count in enumerate(alive):
        if not math.isfinite(count) or count < 0 or count != math.floor(count):
            raise Invalid(
                f"--alive must be whole numbers of customers, 0 or more: {count:g} (number {position + 1}) is not.",
                field="alive",
            )
    if alive[0] <= 0:
        raise Invalid("--alive must start with the cohort size, more than 0.", field="alive")
    for position in range(1, len(alive)):
        if alive[position] > alive[position - 1]:
            raise Invalid(
                f"--alive must not increase: a cohort only loses customers, but {alive[position]:g} "
                f"(after period {position}) follows {alive[position - 1]:g}.",
                field="alive",
            )


# --- score -----------------------------------------------------------------------------------------


def _score(args: argparse.Namespace) -> int:
    from patron.analytics.scoring import score
    from patron.analytics.segments import SegmentSettings

    out = Path(args.out)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise Invalid(f"--out must end in .parquet or .csv, not {out.name!r}.", field="out")
    if not out.parent.exists():
        raise Invalid(f"The folder of --out does not exist: {out.parent}", field="out")
    settings = SegmentSettings(abc_method=args.abc_method, abc_value=args.abc_value)
    started = time.perf_counter()
    with _progress_bar(enabled=not args.quiet) as progress:
        result = score(
            args.file,
            customer_col=args.customer_col,
            date_col=args.date_col,
            amount_col=args.amount_col,
            product_col=args.product_col,
            no_header=args.no_header,
            sep=args.sep,
            observation_end=args.observation_end,
            time_unit=args.time_unit,
            integer_periods=args.integer_periods,
            horizon=args.horizon,
            discount_rate=args.discount_rate,
            margin=args.margin,
            model=args.model,
            settings=settings,
            engine=args.engine,
            spark_master=args.spark_master,
            monthly=args.monthly,
            progress=progress,
        )
        write_started = time.perf_counter()
        units = result.units()
        write_table(result.customers, out, metadata=units)
        result.timings["write"] = time.perf_counter() - write_started
    elapsed = time.perf_counter() - started
    report = {
        "units": units,
        "customers": result.customers.num_rows,
        "observation_end": result.observation_end.isoformat(),
        "time_unit": result.time_unit,
        "engine": result.engine,
        "fits": result.fits,
        "tiers": result.tier_summary(),
        "lifecycle": result.counts("lifecycle_class"),
        "warnings": result.warnings,
        "seconds": elapsed,
        "timings": result.timings,
        "out": str(out),
    }
    if out.suffix.lower() == ".csv":
        report["units_file"] = str(units_path(out))
    if args.json:
        print(json.dumps(report, default=_json_default))
    else:
        _print_score(report, result, sys.stdout)
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_INCOMPLETE if result.incomplete else EXIT_OK


def units_path(path: Path) -> Path:
    """Return where the units of a CSV output are written: the same name with .json added."""
    return path.with_name(path.name + ".json")


def write_table(table: Any, path: Path, *, metadata: dict[str, Any] | None = None) -> None:
    """Write a pyarrow table as Parquet or CSV, chosen by the file extension.

    ``metadata`` (the CLV units) goes into the Parquet schema as ``patron.<key>`` values; a CSV file
    cannot carry it, so it is written next to it as ``PATH.json``.
    """
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
        if metadata is not None:
            units_path(path).write_text(json.dumps(metadata, indent=2, default=_json_default) + "\n")
    else:
        import pyarrow.parquet as pq

        if metadata is not None:
            encoded = {f"patron.{key}": json.dumps(value, default=_json_default) for key, value in metadata.items()}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **encoded})
        pq.write_table(table, path)


class _progress_bar:
    """A rich progress bar on stderr fed by score()'s progress(stage, fraction) callback."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = (enabled and sys.stderr.isatty()) or (enabled and _force_progress())
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description:<10}"), BarColumn(), TimeElapsedColumn(),
            console=Console(stderr=True, force_terminal=_force_progress() or None), transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("scoring", total=1.0)
        return self

    def __call__(self, stage: str, fraction: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=stage, completed=fraction)
            # Stages change a few times per run: draw each at once rather than at the next 10 Hz tick.
            self._progress.refresh()

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _force_progress() -> bool:
    """Return True when PATRON_PROGRESS=1 asks for a progress bar even without a terminal."""
    import os

    return os.environ.get("PATRON_PROGRESS") == "1"


def _print_score(report: dict[str, Any], result: Any, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, soft_wrap=True)
    console.print(
        f"Scored {report['customers']:,} customers up to {report['observation_end']} "
        f"in {report['seconds']:.2f} s ({report['engine']}); wrote {report['out']}"
        + (f" (units in {report['units_file']})" if "units_file" in report else "")
    )
    console.print(f"  Units: {result.describe_units()}.")
    for name, fit in report["fits"].items():
        if fit:
            params = ", ".join(f"{key} = {value:.4g}" for key, value in fit["params"].items())
            console.print(f"  {name}: {params}; log-likelihood {fit['log_likelihood']:.1f}")
        else:
            console.print(f"  {name}: not fitted")
    tiers = Table(title="ABC tiers")
    for column in ("tier", "customers", "revenue share"):
        tiers.add_column(column, justify="right")
    for row in report["tiers"]:
        tiers.add_row(row["tier"], f"{row['customers']:,}", f"{row['revenue_share']:.1%}")
    console.print(tiers)
    console.print("  lifecycle: " + ", ".join(f"{name} {count:,}" for name, count in report["lifecycle"].items()))
    if result.arpu_transitions is not None:
        from patron.analytics.segments import transition_matrix

        matrix = transition_matrix(result.arpu_transitions)
        table = Table(title="Monthly ARPU tier transitions (all months)")
        table.add_column("from \\ to")
        targets = ("high", "middle", "low", "gone")
        for target in targets:
            table.add_column(target, justify="right")
        for source, row in matrix.items():
            table.add_row(source, *(f"{row[target]:,}" for target in targets))
        console.print(table)
    stages = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in report["timings"].items())
    console.print(f"  stages: {stages}")


def _json_default(value: Any) -> Any:
    """Serialise NumPy numbers and non-finite floats in JSON output."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
