"""API latency under load: p50/p95 of list, search and detail endpoints with 20 concurrent clients.

Seeds a PostgreSQL database of its own with the demo generator (1M contacts, 100k accounts, 10M interactions at
``--scale 1``; seeding is skipped when the database already holds them), serves Patron with a pre-forked,
thread-pooled WSGI server on 127.0.0.1, and sends bounded traffic from 20 client threads with API tokens of a
member (the demo CSM, who sees her team's accounts) and an admin (who sees everything).

Baseline: the products list (a few dozen rows) through the same server, auth and framework, so the ratio shows
what each query adds to the fixed cost of a request. Goal: p95 <= 100 ms for every endpoint.

    .venv/bin/python bench/api_latency.py --scale 0.1          # quick: 100k contacts, 10k accounts, 1M interactions
    .venv/bin/python bench/api_latency.py                      # full size (seeding takes a while the first time)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    command_line,
    drop_postgres_database,
    ensure_postgres_database,
    free_port,
    percentile,
    seed,
    setup_django,
    wait_for_port,
)

GOAL_MS = 100.0
FULL = {"accounts": 100_000, "contacts": 1_000_000, "interactions": 10_000_000, "orders": 200_000, "tickets": 200_000}


def default_url(scale: float) -> str:
    """Return the bench's own database URL for ``scale``."""
    suffix = "" if scale == 1 else "_" + f"{scale:g}".replace(".", "_")
    return f"postgres://postgres@127.0.0.1:5432/patron_bench_api{suffix}"


def bench_scale(scale: float) -> dict[str, int | str]:
    """Return the generator's counts at ``scale`` times the full bench size."""
    counts: dict[str, int | str] = {k: max(1, int(v * scale)) for k, v in FULL.items()}
    counts.update(kind="company", chunk=500)
    return counts


def sample_requests(per_user: int, rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """Return, per user, a pool of (endpoint, path) requests on rows that user may see."""
    from patron.core.models import User
    from patron.core.services import create_token
    from patron.customers.models import Account, Contact

    users = {"member": User.objects.get(username="csm"), "admin": User.objects.get(username="admin")}
    top = Account.objects.order_by("-id").values_list("id", flat=True).first() or 1
    pools: dict[str, list[tuple[str, str]]] = {}
    tokens = {}
    for label, user in users.items():
        accounts, contacts = [], []
        visible = Account.objects.restrict(user)
        visible_contacts = Contact.objects.restrict(user)
        while len(accounts) < per_user:
            found = visible.filter(id__gte=rng.randint(1, top)).order_by("id").values_list("id", flat=True).first()
            if found:
                accounts.append(found)
        for account_id in accounts[: per_user // 2]:
            contact = visible_contacts.filter(account_id=account_id).values("last_name", "email").first()
            if contact:
                contacts.append(contact)
        pool = [("products list (baseline)", "/api/v1/products?limit=50")] * 5
        pool += [("accounts list", "/api/v1/accounts?limit=50")] * 5
        pool += [("contacts list", "/api/v1/contacts?limit=50")] * 5
        pool += [("contacts search by name", f"/api/v1/contacts?q={quote(c['last_name'])}&limit=50") for c in contacts]
        pool += [("contacts search by email", f"/api/v1/contacts?q={quote(c['email'])}&limit=50") for c in contacts]
        pool += [("interactions of an account", f"/api/v1/interactions?account_id={a}&limit=50") for a in accounts]
        pool += [("account detail", f"/api/v1/accounts/{a}") for a in accounts]
        pools[label] = pool
        tokens[label] = create_token(user, "api latency bench")[1]
    return {"pools": pools, "tokens": tokens}  # type: ignore[return-value]


def endpoint_mix(pool: list[tuple[str, str]], rng: random.Random) -> list[tuple[str, str]]:
    """Return the pool rearranged so every endpoint gets about the same share of requests."""
    by_endpoint: dict[str, list[str]] = defaultdict(list)
    for name, path in pool:
        by_endpoint[name].append(path)
    mixed = []
    for _ in range(2000):
        name = rng.choice(sorted(by_endpoint))
        mixed.append((name, rng.choice(by_endpoint[name])))
    return mixed


def write_plans(plan: dict, clients: int, prefix: Path, seed_value: int, skip: Sequence[str] = ()) -> None:
    """Write each client's request list (``prefix.<n>``), alternating member and admin, for the wrk script."""
    for number in range(clients):
        rng = random.Random(seed_value * 100 + number)
        pools = {label: [(n, p) for n, p in plan["pools"][label] if n not in skip] for label in ("member", "admin")}
        mixes = {label: endpoint_mix(pool, rng) for label, pool in pools.items()}
        lines = []
        for k in range(2000):
            label = ("member", "admin")[(number + k) % 2]
            name, path = mixes[label][k % len(mixes[label])]
            lines.append(f"{name}\t{label}\t{path}\t{plan['tokens'][label]}\n")
        Path(f"{prefix}.{number}").write_text("".join(lines))


def require_wrk() -> str:
    """Return the path of wrk, the load generator, or stop with how to install it."""
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("This bench drives the server with wrk (a C load generator): apt-get install wrk")
    return found


def load(port: int, prefix: Path, clients: int, seconds: float, *, close: bool = False) -> tuple[list[tuple], float]:
    """Run wrk with ``clients`` connections (one per thread) for ``seconds``; return the timings and wall time.

    Each connection sends its next request as soon as the previous one is answered (a closed loop, no think
    time), reusing the connection (HTTP keep-alive) unless ``close``, when every request opens a new one.
    """
    out = prefix.with_name(prefix.name + ".out")
    env = {
        **os.environ,
        "PATRON_WRK_PLAN": str(prefix),
        "PATRON_WRK_OUT": str(out),
        "PATRON_WRK_CLOSE": "1" if close else "",
    }
    command = [require_wrk(), "-t", str(clients), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "30s",
               "-s", str(ROOT / "bench" / "api_latency.lua"), f"http://127.0.0.1:{port}"]  # fmt: skip
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    results, wall = [], seconds
    for line in out.read_text().splitlines():
        fields = line.split("\t")
        if fields[0] == "#summary":
            wall = int(fields[1]) / 1e6
            continue
        name, label, status, micros, server_ms = fields
        results.append((label, name, int(status), int(micros) / 1000, float(server_ms)))
    return results, wall


def cpu_jiffies(pgid: int | None = None) -> int:
    """Return the CPU time (in clock ticks) the machine has spent busy, or that process group ``pgid`` has used."""
    if pgid is None:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        idle = int(fields[3]) + int(fields[4])
        return sum(int(f) for f in fields[:8]) - idle
    used = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(parts[2]) == pgid:
            used += int(parts[11]) + int(parts[12])
    return used


def report(results: list[tuple], wall: float, title: str, clients: int) -> bool:
    """Print p50/p95 per endpoint and user (client-observed and server time), overall, and the ratio to the baseline."""
    ok = [r for r in results if r[2] == 200]
    failed = [r for r in results if r[2] != 200]
    seen: dict[tuple[str, str], list[float]] = defaultdict(list)
    served: dict[tuple[str, str], list[float]] = defaultdict(list)
    for label, name, _, ms, server_ms in ok:
        seen[(name, label)].append(ms)
        served[(name, label)].append(server_ms)
    baseline = percentile([ms for (name, _), v in seen.items() if name.endswith("(baseline)") for ms in v], 0.95)
    load1 = os.getloadavg()[0]
    print(f"\n{title}: {clients} clients, {len(results):,} requests in {wall:.1f} s ({len(results) / wall:,.0f} req/s), "
          f"{len(failed)} not 200; machine load average {load1:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    if failed:
        statuses: dict[tuple[str, int], int] = defaultdict(int)
        for r in failed:
            statuses[(r[1], r[2])] += 1
        print("  not 200:", dict(statuses))
    print(
        f"{'endpoint':28} {'user':7} {'n':>5} {'p50 ms':>7} {'p95 ms':>7} {'p95/base':>9} {'server p50':>11} {'server p95':>11}"
    )
    met = True
    for (name, label), values in sorted(seen.items()):
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        s50, s95 = percentile(served[(name, label)], 0.5), percentile(served[(name, label)], 0.95)
        met &= name.endswith("(baseline)") or p95 <= GOAL_MS
        flag = "" if p95 <= GOAL_MS else "  > goal"
        print(
            f"{name:28} {label:7} {len(values):>5} {p50:>7.1f} {p95:>7.1f} {p95 / baseline:>8.1f}x {s50:>11.1f} {s95:>11.1f}{flag}"
        )
    every = [r[3] for r in ok]
    every_server = [r[4] for r in ok]
    print(f"{'overall':28} {'both':7} {len(every):>5} {percentile(every, 0.5):>7.1f} {percentile(every, 0.95):>7.1f} "
          f"{'':>9} {percentile(every_server, 0.5):>11.1f} {percentile(every_server, 0.95):>11.1f}")  # fmt: skip
    print(
        f"Baseline: products list p95 {baseline:.1f} ms. Goal p95 <= {GOAL_MS:.0f} ms per endpoint: {'met' if met else 'NOT met'}."
    )
    return met and not failed


def server_command(args: argparse.Namespace, url: str, port: int) -> list[str]:
    """Return the command that serves Patron for the bench: ``patron serve`` (gunicorn) or the wsgiref server."""
    if args.server == "wsgiref":
        return [sys.executable, str(ROOT / "bench" / "_common.py"), "serve", "--url", url, "--port", str(port),
                "--workers", str(args.workers), "--threads", str(args.threads), "--persistent"]  # fmt: skip
    return [sys.executable, "-m", "patron.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
            "--threads", str(args.threads), "--server-timing"]  # fmt: skip


def measured(port: int, prefix: Path, clients: int, seconds: float, pgid: int, close: bool) -> tuple[list, float, str]:
    """Run one load pass; return its timings, wall time and where the machine's CPU went per request."""
    ticks = os.sysconf("SC_CLK_TCK") / 1000
    busy, server = cpu_jiffies(), cpu_jiffies(pgid)
    results, wall = load(port, prefix, clients, seconds, close=close)
    busy, server = cpu_jiffies() - busy, cpu_jiffies(pgid) - server
    n = max(1, len(results))
    cpu = (f"CPU per request: {busy / ticks / n:.1f} ms for the whole machine ({busy / ticks / wall / 10:.0f}% of one "
           f"CPU x {os.cpu_count()}), of which the Patron server {server / ticks / n:.1f} ms "
           f"(the rest: PostgreSQL, wrk, other work on the machine)")  # fmt: skip
    return results, wall, cpu


def main() -> int:
    """Seed, serve, load and report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the full size (1M contacts, 10M interactions)"
    )
    parser.add_argument("--url", help="database URL (default: a patron_bench_api database on 127.0.0.1)")
    parser.add_argument("--reseed", action="store_true", help="drop the bench database and seed it again")
    parser.add_argument("--clients", type=int, default=20, help="concurrent connections, each a closed loop")
    parser.add_argument("--seconds", type=float, default=30, help="length of the loaded pass")
    parser.add_argument("--quiet-seconds", type=float, default=10, help="length of the one-client pass")
    parser.add_argument("--server", choices=["gunicorn", "wsgiref"], default="gunicorn",
                        help="patron serve (gunicorn, gthread workers) or the standard library's server")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per server process")
    parser.add_argument("--close", action="store_true", help="a new connection for every request (no keep-alive)")
    parser.add_argument("--skip", action="append", default=[], help="leave an endpoint out of the mix (repeatable)")
    parser.add_argument("--seed-only", action="store_true", help="seed the database and stop")
    args = parser.parse_args()

    url = args.url or default_url(args.scale)
    if args.reseed:
        drop_postgres_database(url)
    ensure_postgres_database(url)
    setup_django(url)
    print(f"$ {command_line()}")
    print(f"Database: {url}; server: {args.server}, {args.workers} processes x {args.threads} threads; load: wrk, "
          f"{'a new connection per request' if args.close else 'keep-alive connections'}")  # fmt: skip
    seed(bench_scale(args.scale))
    if args.seed_only:
        return 0
    require_wrk()
    from django.db import connection

    from patron.customers.models import Account, Contact
    from patron.engagement.models import Interaction

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname IN (%s, %s, %s)",
            [Account._meta.db_table, Contact._meta.db_table, Interaction._meta.db_table],
        )
        print("Rows (estimated):", ", ".join(f"{name} {count:,}" for name, count in cursor.fetchall()))
    plan = sample_requests(200, random.Random(7))
    connection.close()

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT / "src")}
    server = subprocess.Popen(server_command(args, url, port), env=env, start_new_session=True)
    with tempfile.TemporaryDirectory(prefix="patron-wrk-") as folder:
        prefix = Path(folder) / "plan"
        try:
            wait_for_port(port)
            write_plans(plan, args.clients, prefix, seed_value=1, skip=args.skip)
            load(port, prefix, args.clients, 5, close=args.close)  # warm-up: connections, caches, imports
            write_plans(plan, 1, prefix, seed_value=3, skip=args.skip)
            quiet, wall, cpu = measured(port, prefix, 1, args.quiet_seconds, server.pid, args.close)
            report(quiet, wall, "Unloaded (one client at a time)", 1)
            print(cpu)
            write_plans(plan, args.clients, prefix, seed_value=2, skip=args.skip)
            results, wall, cpu = measured(port, prefix, args.clients, args.seconds, server.pid, args.close)
            met = report(results, wall, "Under load (closed loop, no think time)", args.clients)
            print(cpu)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
