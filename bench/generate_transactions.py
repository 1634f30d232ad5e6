"""Generate a synthetic transaction file from a BG/NBD + Gamma-Gamma process, fast and in bounded memory.

Each customer makes a first purchase on a day drawn uniformly over the first year, then buys again as a
Poisson process with a gamma-distributed weekly rate lambda (shape r, rate alpha) and becomes inactive after
any repeat purchase with a beta-distributed probability p (a, b), until the observation end 1.5 years after
the start. Spend per transaction is gamma(p_spend, nu) with a gamma(q, gamma) nu per customer (Gamma-Gamma).
The defaults give about 2.8 transactions per customer (1M customers -> ~2.8M rows, 10M -> ~28M).

    .venv/bin/python bench/generate_transactions.py --customers 1000000 --seed 7 --out bench/data/tx_1m.csv

Columns: customer_id (integer), date (YYYY-MM-DD), amount (two decimals). A ``.parquet`` suffix writes
Parquet instead of CSV. Customers are generated in chunks (``--chunk``) and each chunk's rows are written in
date order, so memory stays bounded whatever the size. A sidecar ``OUT.json`` records the seed, the true
parameters and the observation end, which the scoring benches use as their default observation end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

START = dt.date(2023, 1, 1)
# First purchases are spread over the first year; the observation ends 1.5 years after the start.
ACQUISITION_DAYS = 365
OBSERVATION_DAYS = 546
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class TrueParameters:
    """The generating process: BG/NBD (weekly rate) and Gamma-Gamma parameters."""

    r: float = 0.6
    alpha: float = 10.0
    a: float = 0.85
    b: float = 2.8
    p: float = 6.0
    q: float = 3.5
    v: float = 25.0


def observation_end() -> dt.date:
    """Return the last day of the observation period of every generated file."""
    return START + dt.timedelta(days=OBSERVATION_DAYS)


def generate_chunk(rng: np.random.Generator, first_id: int, count: int, params: TrueParameters) -> pa.Table:
    """Return the transactions of customers first_id .. first_id + count - 1, in date order."""
    ids = np.arange(first_id, first_id + count, dtype=np.int64)
    first_day = rng.integers(0, ACQUISITION_DAYS, count)
    age_days = OBSERVATION_DAYS - first_day
    rate = rng.gamma(params.r, 1.0 / params.alpha, count)  # purchases per week while alive
    dropout = rng.beta(params.a, params.b, count)
    # Repeat purchases allowed before dropping out (geometric) and arrivals of the Poisson process in (0, T].
    allowed = rng.geometric(dropout)
    arrivals = rng.poisson(rate * age_days / 7.0)
    repeats = np.minimum(allowed, arrivals)

    # The first `repeats` of `arrivals` uniform order statistics on (0, T): with E_k standard exponentials,
    # they are T * C_k / (C_repeats + G) for k <= repeats, where C_k = E_1 + ... + E_k and
    # G ~ Gamma(arrivals + 1 - repeats) stands for the rest of the C_{arrivals + 1} sum.
    total_repeats = int(repeats.sum())
    owner = np.repeat(np.arange(count), repeats)
    cumulative = np.cumsum(rng.standard_exponential(total_repeats))
    ends = np.cumsum(repeats)
    starts = ends - repeats
    before = np.concatenate(([0.0], cumulative))[starts]  # cumulative sum before each customer's block
    within = cumulative - before[owner]
    last = np.zeros(count)
    has = repeats > 0
    last[has] = cumulative[ends[has] - 1] - before[has]
    rest = rng.gamma((arrivals + 1 - repeats).astype(np.float64), 1.0)
    fraction = within / (last + rest)[owner]
    repeat_day = first_day[owner] + np.floor(fraction * age_days[owner]).astype(np.int64)

    customer = np.concatenate((ids, ids[owner]))
    day = np.concatenate((first_day, repeat_day))
    # Gamma-Gamma spend: nu per customer, then gamma(p, nu) per transaction, in cents.
    nu = rng.gamma(params.q, 1.0 / params.v, count)
    scale = np.concatenate((1.0 / nu, 1.0 / nu[owner]))
    amount = np.maximum(np.round(rng.gamma(params.p, 1.0, customer.size) * scale, 2), 0.01)

    order = np.argsort(day, kind="stable")
    dates = (day[order] + (START - EPOCH).days).astype(np.int32)
    return pa.table(
        {
            "customer_id": pa.array(customer[order]),
            "date": pa.array(dates, pa.int32()).cast(pa.date32()),
            "amount": pa.array(amount[order]),
        }
    )


def write(out: Path, customers: int, seed: int, chunk: int, params: TrueParameters) -> int:
    """Write the file chunk by chunk and return the number of transactions written."""
    rng = np.random.default_rng(seed)
    schema = pa.schema([("customer_id", pa.int64()), ("date", pa.date32()), ("amount", pa.float64())])
    parquet = out.suffix.lower() in {".parquet", ".pq", ".parq"}
    rows = 0
    with open(out, "wb") as sink:
        writer: pq.ParquetWriter | pacsv.CSVWriter
        if parquet:
            writer = pq.ParquetWriter(sink, schema, compression="snappy")
        else:
            # pyarrow quotes header names; write a plain header line and unquoted rows.
            sink.write(b"customer_id,date,amount\n")
            options = pacsv.WriteOptions(include_header=False, quoting_style="none")
            writer = pacsv.CSVWriter(sink, schema, write_options=options)
        with writer:
            for first in range(0, customers, chunk):
                table = generate_chunk(rng, first + 1, min(chunk, customers - first), params)
                writer.write_table(table)
                rows += table.num_rows
    return rows


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, generate the file and its sidecar, and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="output .csv or .parquet")
    parser.add_argument("--chunk", type=int, default=500_000, help="customers generated per chunk")
    defaults = TrueParameters()
    for name in ("r", "alpha", "a", "b", "p", "q", "v"):
        parser.add_argument(f"--{name}", type=float, default=getattr(defaults, name), help="true parameter")
    args = parser.parse_args(argv)
    params = TrueParameters(*(getattr(args, name) for name in ("r", "alpha", "a", "b", "p", "q", "v")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = write(args.out, args.customers, args.seed, args.chunk, params)
    elapsed = time.perf_counter() - started
    meta = {
        "customers": args.customers,
        "transactions": rows,
        "seed": args.seed,
        "first_day": START.isoformat(),
        "observation_end": observation_end().isoformat(),
        "time_unit_of_rates": "week",
        "true_parameters": asdict(params),
    }
    Path(f"{args.out}.json").write_text(json.dumps(meta, indent=2) + "\n")
    size = args.out.stat().st_size / 1e6
    print(
        f"wrote {args.out}: {args.customers:,} customers, {rows:,} transactions "
        f"({rows / args.customers:.2f} per customer), {size:,.0f} MB in {elapsed:.1f}s; "
        f"observation end {meta['observation_end']}",
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
