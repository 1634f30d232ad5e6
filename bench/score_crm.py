"""Scoring inside the CRM: ``run_scoring`` for 1M accounts (~2.8M orders) on PostgreSQL, stage by stage.

Seeds a database of its own (created when missing) with COPY: accounts, and orders from the same BG/NBD +
Gamma-Gamma process as ``generate_transactions.py`` (first purchases over one year, 18 months of history,
shifted so the history ends today). Then times ``patron.value.services.run_scoring`` twice: the first run of
the base (no previous run) and a nightly re-run (which also carries every account's previous tier and CLV).
Each run is split into its stages: read (orders from PostgreSQL into Arrow), summary, fits, predictions,
segments, monthly ARPU tiers, diagnostics (holdout refit), write (COPY of the scores) and aggregate (tier,
lifecycle, RFM and CLV-histogram sums stored with the run).

Baseline, measured in the same run: the analytics engine alone (``patron.analytics.scoring.score``) on the
same orders already in memory as Arrow, i.e. what the CRM adds (database read, holdout check, write, sums).
With ``--write-sample N`` it also times writing N score rows with Django's ``bulk_create`` against COPY
(inside a rolled-back transaction), the reason the PostgreSQL write path uses COPY.

    .venv/bin/python bench/score_crm.py                          # 1M accounts, patron_bench_value
    .venv/bin/python bench/score_crm.py --customers 100000       # smaller
    .venv/bin/python bench/score_crm.py --reseed --write-sample 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, ensure_postgres_database, setup_django
from generate_transactions import TrueParameters, generate_chunk, observation_end

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/patron_bench_value"
CHUNK = 250_000
STAGES = (
    ("read", "read orders (DB -> Arrow)"),
    ("score.summary", "summary (DuckDB)"),
    ("score.fit", "fits (BG/NBD, Gamma-Gamma)"),
    ("score.predict", "predictions"),
    ("score.segments", "segments"),
    ("score.monthly", "monthly ARPU tiers"),
    ("diagnostics", "diagnostics (holdout refit)"),
    ("write", "write scores"),
    ("aggregate", "aggregate + save run"),
    ("commit", "commit"),
)


def copy_rows(table_name: str, columns: list[str], table: pa.Table) -> None:
    """COPY an Arrow table into ``table_name`` (PostgreSQL)."""
    from django.db import connection

    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, options)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN (FORMAT CSV)") as copy,
    ):
        copy.write(buffer.getvalue())


def drop_secondary_indexes(tables: tuple[str, ...]) -> list[str]:
    """Drop every index of ``tables`` except primary keys and unique constraints; return how to recreate them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename = ANY(%s) AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            [list(tables)],
        )
        found = cursor.fetchall()
        for name, _definition in found:
            cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in found]


def seed(customers: int, seed_value: int) -> tuple[int, int]:
    """Write ``customers`` accounts and their orders with COPY; return (accounts, orders).

    As for any bulk load, the secondary indexes (trigram search indexes included) are dropped first and
    built again after the data is in: maintaining them row by row would take most of the seeding time.
    """
    from django.db import connection, transaction

    from patron.customers.models import Account, Order

    shift = (dt.date.today() - observation_end()).days
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    rng = np.random.default_rng(seed_value)
    params = TrueParameters()
    orders = 0
    started = time.perf_counter()
    with transaction.atomic():
        recreate = drop_secondary_indexes((Account._meta.db_table, Order._meta.db_table))
        for first in range(1, customers + 1, CHUNK):
            count = min(CHUNK, customers + 1 - first)
            ids = np.arange(first, first + count, dtype=np.int64)
            accounts = pa.table(
                {
                    "id": ids,
                    "created_at": pa.array([now] * count),
                    "updated_at": pa.array([now] * count),
                    "name": pa.array(np.char.add("Customer ", ids.astype(str))),
                    "kind": pa.array(["person"] * count),
                    "industry": pa.array(["Retail"] * count),
                    "size_band": pa.array([""] * count),
                    "country": pa.array(["PL"] * count),
                    "region": pa.array([""] * count),
                    "website": pa.array([""] * count),
                    "lifecycle_stage": pa.array(["active"] * count),
                }
            )
            copy_rows(Account._meta.db_table, accounts.column_names, accounts)
            chunk = generate_chunk(rng, first, count, params)
            days = chunk.column("date").cast(pa.int32()).to_numpy() + shift
            rows = chunk.num_rows
            order_table = pa.table(
                {
                    "created_at": pa.array([now] * rows),
                    "updated_at": pa.array([now] * rows),
                    "account_id": chunk.column("customer_id"),
                    "ordered_at": pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32()),
                    "amount": chunk.column("amount"),
                    "currency": pa.array(["EUR"] * rows),
                    "channel": pa.array(["online"] * rows),
                }
            )
            copy_rows(Order._meta.db_table, order_table.column_names, order_table)
            orders += rows
            print(f"  seeded {first + count - 1:,} accounts, {orders:,} orders", end="\r", flush=True)
        print(f"\n  rebuilding {len(recreate)} indexes", end="", flush=True)
        with connection.cursor() as cursor:
            # Django's foreign keys are checked at commit; check them now so the indexes can be built.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for definition in recreate:
                cursor.execute(definition)
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{Account._meta.db_table}', 'id'), {customers})")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"\nSeeded {customers:,} accounts and {orders:,} orders in {time.perf_counter() - started:.0f} s.")
    return customers, orders


def prepare(url: str, customers: int, seed_value: int, reseed: bool) -> None:
    """Make sure the bench database holds exactly the wanted base and no earlier scoring runs."""
    from django.db import connection

    from patron.customers.models import Account

    with connection.cursor() as cursor:
        if reseed:
            cursor.execute(
                "TRUNCATE customers_account, customers_order, value_accountscore, value_scorerun RESTART IDENTITY CASCADE"
            )
        else:
            # Every bench starts from the same state: the base scored for the first time.
            cursor.execute("TRUNCATE value_accountscore, value_scorerun RESTART IDENTITY CASCADE")
    have = Account.objects.count()
    if have == customers:
        print(f"Already seeded ({have:,} accounts); use --reseed to start over.")
        return
    if have:
        raise SystemExit(f"The bench database holds {have:,} accounts, not {customers:,}; rerun with --reseed.")
    seed(customers, seed_value)


def time_engine_alone(engine: str) -> tuple[float, dict[str, float]]:
    """Time the analytics engine alone on the same orders, already in memory (the baseline)."""
    from django.utils import timezone

    from patron.analytics.scoring import score
    from patron.value import services

    settings = services.get_settings()
    end = timezone.localdate()
    orders = services.read_orders(end).transactions
    gc.collect()
    started = time.perf_counter()
    result = score(
        orders,
        observation_end=end,
        time_unit=settings.time_unit,
        horizon=services.horizon_units(settings.horizon_months, settings.time_unit),
        discount_rate=settings.annual_discount_rate,
        margin=settings.margin_percent / 100,
        settings=settings.segment_settings(),
        engine=engine,
        monthly=True,
    )
    return time.perf_counter() - started, result.timings


def time_write_paths(rows: int) -> tuple[float, float]:
    """Time writing ``rows`` score rows with bulk_create and with COPY (both rolled back)."""
    from django.db import transaction

    from patron.value import services
    from patron.value.models import AccountScore, ScoreRun

    run = services.latest_run()
    sample = pa.Table.from_pylist(list(AccountScore.objects.filter(run=run).order_by("id").values()[:rows]))
    names = [n for n in sample.column_names if n != "id"]
    sample = sample.select(names)
    timings = []
    for method in ("bulk_create", "copy"):
        with transaction.atomic():
            fresh = ScoreRun.objects.create(status="running")
            table = sample.set_column(
                names.index("run_id"), "run_id", pa.array([fresh.pk] * sample.num_rows, pa.int64())
            )
            started = time.perf_counter()
            if method == "copy":
                services._copy_scores(table)
            else:
                data = table.to_pydict()
                objects = [
                    AccountScore(**dict(zip(names, values, strict=True))) for values in zip(*data.values(), strict=True)
                ]
                AccountScore.objects.bulk_create(objects, batch_size=services.WRITE_BATCH_ROWS)
            timings.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    return timings[0], timings[1]


def main(argv: list[str] | None = None) -> int:
    """Seed if needed, score twice, print the stage timings and the ratio to the engine alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL database of the bench (created when missing)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", default="duckdb", choices=("duckdb", "spark"))
    parser.add_argument("--reseed", action="store_true", help="Empty the bench database and seed it again")
    parser.add_argument("--write-sample", type=int, default=0, help="Also compare bulk_create with COPY on N rows")
    args = parser.parse_args(argv)

    ensure_postgres_database(args.url)
    setup_django(args.url)
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("This bench measures the PostgreSQL path; give a postgres:// URL.")
    from patron.value import services

    prepare(args.url, args.customers, args.seed, args.reseed)

    runs = []
    for label in ("first run", "nightly re-run"):
        gc.collect()
        started = time.perf_counter()
        run = services.run_scoring(engine=args.engine)
        runs.append((label, time.perf_counter() - started, run))
        print(
            f"{label}: {time.perf_counter() - started:.1f} s, {run.customers_scored:,} accounts, {run.orders_read:,} orders"
        )
    engine_seconds, engine_timings = time_engine_alone(args.engine)

    print()
    print(f"Scoring inside the CRM, {args.customers:,} accounts, PostgreSQL, engine {args.engine}")
    print(f"{'stage':<32}" + "".join(f"{label:>16}" for label, _s, _r in runs))
    for key, name in STAGES:
        print(f"{name:<32}" + "".join(f"{run.timings.get(key, 0.0):>15.2f}s" for _l, _s, run in runs))
    print(f"{'total (wall)':<32}" + "".join(f"{seconds:>15.2f}s" for _l, seconds, _r in runs))
    first_warnings = runs[0][2].warnings
    if first_warnings:
        print("warnings:", "; ".join(first_warnings))
    print()
    print(
        f"baseline: analytics engine alone on the orders in memory: {engine_seconds:.2f} s "
        f"(summary {engine_timings.get('summary', 0):.2f}, fit {engine_timings.get('fit', 0):.2f}, "
        f"predict {engine_timings.get('predict', 0):.2f}, segments {engine_timings.get('segments', 0):.2f})"
    )
    for label, seconds, _run in runs:
        print(f"ratio {label} / engine alone: {seconds / engine_seconds:.2f}x")
    if args.write_sample:
        bulk, copy = time_write_paths(args.write_sample)
        print(
            f"write {args.write_sample:,} scores: bulk_create {bulk:.2f} s, COPY {copy:.2f} s "
            f"(COPY {bulk / copy:.1f}x faster)"
        )
    print(f"command: {command_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
