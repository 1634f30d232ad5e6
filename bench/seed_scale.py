"""How fast the demo generator fills a database, and whether its memory stays flat.

Generates a B2C base (person accounts, one contact each, ~2.8 orders, interactions, tickets, surveys) into a
fresh database of its own and prints rows per second and the resident memory at each tenth of the run.

Baseline: Django's ``bulk_create`` (batches of 1,000) of 50,000 interactions, against the generator's writer
(COPY on PostgreSQL, ``executemany`` on SQLite) with the same rows, both in the same run and rolled back.

    .venv/bin/python bench/seed_scale.py                                     # SQLite, 100k customers
    .venv/bin/python bench/seed_scale.py --accounts 1000000                  # the full `patron demo --size large`
    .venv/bin/python bench/seed_scale.py --url postgres://postgres@127.0.0.1:5432/patron_bench_seed
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, drop_postgres_database, ensure_postgres_database, setup_django


def rss_mb() -> float:
    """Return this process's resident memory in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def writer_against_orm(rows: int = 50_000) -> tuple[float, float]:
    """Return rows/s of the demo writer and of ``bulk_create`` for the same interactions (both rolled back)."""
    import datetime as dt

    from django.db import transaction

    from patron.customers.models import Account
    from patron.demo.writer import BulkWriter
    from patron.engagement.models import Interaction

    account_ids = list(Account.objects.values_list("id", flat=True)[:1000])
    when = dt.datetime(2025, 6, 1, 9, 30, tzinfo=dt.UTC)
    values = [(account_ids[k % len(account_ids)], ("email", "phone", "chat")[k % 3], f"Touch {k}") for k in range(rows)]

    with transaction.atomic():
        started = time.perf_counter()
        Interaction.objects.bulk_create(
            [
                Interaction(account_id=a, channel=c, occurred_at=when, subject=s, logged_as="service")
                for a, c, s in values
            ],
            batch_size=1000,
        )
        orm = rows / (time.perf_counter() - started)
        transaction.set_rollback(True)
    with transaction.atomic():
        started = time.perf_counter()
        writer = BulkWriter()
        ids = writer.allocate(Interaction, rows).tolist()
        stamp = writer.datetime(when)
        writer.write(
            Interaction,
            ("id", "created_at", "updated_at", "account", "channel", "occurred_at", "subject", "logged_as"),
            [(ids[k], stamp, stamp, a, c, stamp, s, "service") for k, (a, c, s) in enumerate(values)],
        )
        fast = rows / (time.perf_counter() - started)
        transaction.set_rollback(True)
    return fast, orm


def main() -> int:
    """Generate into a fresh database and report speed, memory and the ratio to bulk_create."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file in a temp folder)")
    parser.add_argument("--accounts", type=int, default=100_000, help="person accounts to generate")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    folder = "" if args.url else tempfile.mkdtemp(prefix="patron-seed-")
    url = args.url or f"sqlite:///{folder}/seed.sqlite3"
    if url.startswith("postgres"):
        drop_postgres_database(url)
        ensure_postgres_database(url)
    setup_django(url)
    print(f"$ {command_line()}")
    print(f"Database: {url}")
    from patron.demo.generator import generate

    start_rss = rss_mb()
    samples: list[tuple[int, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        samples.append((done, rss_mb()))

    summary = generate("large", args.seed, progress=progress, scale={"accounts": args.accounts})
    print(f"Generated {summary.rows:,} rows for {args.accounts:,} customers in {summary.seconds:.1f} s: "
          f"{summary.rows / summary.seconds:,.0f} rows/s")  # fmt: skip
    print("  " + ", ".join(f"{label.split('.')[-1]} {n:,}" for label, n in summary.counts.items()))
    step = max(1, len(samples) // 10)
    shown = ", ".join(f"{done:,}: {mb:.0f}" for done, mb in samples[step - 1 :: step])
    print(f"Memory (RSS, MB) at start {start_rss:.0f}; by customers written: {shown}")
    fast, orm = writer_against_orm()
    print(f"Writer {fast:,.0f} rows/s vs bulk_create {orm:,.0f} rows/s on 50,000 interactions: {fast / orm:.1f}x")
    print(f"Machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
    if folder:
        Path(f"{folder}/seed.sqlite3").unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{folder}/seed.sqlite3{suffix}").unlink(missing_ok=True)
        Path(folder).rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
