"""Patron's full scoring of 10M customers (~28M transactions) against the bare DuckDB aggregation.

In one run, each in its own subprocess so that each peak memory is its own:

* floor: bare DuckDB, read the file and GROUP BY customer (count, first and last date, total amount),
  fetched as Arrow;
* Patron: ``patron.analytics.scoring.score`` with its defaults (summary, BG/NBD, Gamma-Gamma, CLV,
  P(alive), ABC, RFM, lifecycle), as ``patron score`` runs it.

    .venv/bin/python bench/score_10m.py bench/data/tx_10m.csv

The file is generated first (``generate_transactions.py --customers 10000000 --seed 7``) when it is
missing. Prints both times and peak memories, the ratio Patron/floor, Patron's stage timings and the
goal (full scoring in <= 60 s on the 2-core reference machine) as met or missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
from pathlib import Path

# Run as a script, this file's folder is on sys.path, so the shared helpers import by name.
from _tx_common import (
    BENCH,
    PATRON_PYTHON,
    Measured,
    default_observation_end,
    load_average,
    machine_line,
    ratio,
    run_measured,
    warm_page_cache,
    worker_command,
)

GOAL_SECONDS = 60.0
DEFAULT_FILE = BENCH / "data" / "tx_10m.csv"


def ensure_file(path: Path, customers: int, seed: int) -> None:
    """Generate the transaction file with generate_transactions.py when it does not exist."""
    if path.exists():
        return
    command = [
        str(PATRON_PYTHON),
        str(BENCH / "generate_transactions.py"),
        "--customers",
        str(customers),
        "--seed",
        str(seed),
        "--out",
        str(path),
    ]
    subprocess.run(command, check=True)


def best(runs: list[Measured]) -> Measured:
    """Return the run with the smallest in-process time (failed runs last)."""
    return min(runs, key=lambda run: (not run.ok, run.result.get("seconds") or float("inf")))


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, time the floor and Patron on the file and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, nargs="?", default=DEFAULT_FILE)
    parser.add_argument("--observation-end", help="YYYY-MM-DD (default: from the generator's FILE.json)")
    parser.add_argument("--customers", type=int, default=10_000_000, help="customers when generating the file")
    parser.add_argument("--seed", type=int, default=7, help="seed when generating the file")
    parser.add_argument(
        "--repeat", type=int, default=1, help="interleaved rounds of the floor and Patron; each best is kept"
    )
    parser.add_argument(
        "--lifetimes-compatible",
        action="store_true",
        help="score with lifetimes' conventions (weekly integer periods) instead of the defaults",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    ensure_file(args.file, args.customers, args.seed)
    observation_end = args.observation_end or default_observation_end(args.file)
    if observation_end is None:
        parser.error("--observation-end is required for a file without the generator's FILE.json")
    repeat = max(1, args.repeat)

    machine = machine_line()
    warm_page_cache(args.file)
    patron_args = ["patron", str(args.file), "--observation-end", observation_end]
    if args.lifetimes_compatible:
        patron_args.append("--lifetimes-compatible")
    floors: list[Measured] = []
    patrons: list[Measured] = []
    # Interleaved rounds, so a burst of load from elsewhere on the machine hits both alike.
    for _ in range(repeat):
        floors.append(run_measured(worker_command("floor", str(args.file))))
        patrons.append(run_measured(worker_command(*patron_args)))
    floor, patron = best(floors), best(patrons)
    for name, run in (("floor", floor), ("patron", patron)):
        if not run.ok:
            print(f"{name} failed (exit {run.returncode}): {' '.join(run.command)}\n{run.stdout[-2000:]}")
    if not (floor.ok and patron.ok):
        return 1

    seconds, floor_seconds = patron.result["seconds"], floor.result["seconds"]
    customers = patron.result.get("customers") or floor.result.get("customers")
    print(f"# score_10m {dt.date.today()} on {machine}")
    print(
        f"file {args.file} ({args.file.stat().st_size / 1e6:,.0f} MB, {customers:,} customers), "
        f"observation end {observation_end}, Patron options {patron.result.get('options')}"
    )
    print(f"best of {repeat} interleaved round(s); load average after the run {load_average()}")
    print(f"{'stage':<34}{'in-process s':>14}{'wall s':>10}{'peak MiB':>10}")
    print(f"{'floor: DuckDB read + GROUP BY':<34}{floor_seconds:>14.2f}{floor.seconds:>10.2f}{floor.peak_mb:>10.0f}")
    print(f"{'Patron score()':<34}{seconds:>14.2f}{patron.seconds:>10.2f}{patron.peak_mb:>10.0f}")
    stages = patron.result.get("timings") or {}
    if stages:
        print("Patron stages: " + ", ".join(f"{name} {value:.2f}s" for name, value in stages.items()))
    peaks = patron.result.get("peak_mb_by_stage") or {}
    if peaks:
        print("Patron peak memory up to the end of: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in peaks.items()))
    for warning in patron.result.get("warnings") or []:
        print(f"Patron warning: {warning}")
    print(f"Patron / floor: time {ratio(seconds, floor_seconds)}, peak memory {ratio(patron.peak_mb, floor.peak_mb)}")
    met = seconds <= GOAL_SECONDS
    print(f"goal: {'MET   ' if met else 'MISSED'} full scoring <= 60 s: {seconds:.1f}s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {
            "date": dt.date.today().isoformat(),
            "machine": machine,
            "file": str(args.file),
            "customers": customers,
            "rounds": repeat,
            "load_after": load_average(),
            "floor": {"seconds": floor_seconds, "wall": floor.seconds, "peak_mb": floor.peak_mb},
            "patron": {
                "seconds": seconds,
                "wall": patron.seconds,
                "peak_mb": patron.peak_mb,
                "stages": stages,
                "options": patron.result.get("options"),
            },
            "goal_met": met,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
