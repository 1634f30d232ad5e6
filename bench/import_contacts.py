"""Importing a million contacts with ``patron import`` against a bare PostgreSQL ``COPY`` of the same file.

    .venv/bin/python bench/import_contacts.py                       # 1,000,000 contacts across 100,000 accounts
    .venv/bin/python bench/import_contacts.py --rows 100000         # a quicker run
    .venv/bin/python bench/import_contacts.py --index-floor         # only the physical floor (after a first run)

Generates (once, in bounded memory) ``bench/data/import_accounts_<A>.csv`` and ``import_contacts_<N>_<A>.csv``,
then on PostgreSQL (``DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/patron_bench``; the
database is created and migrated when missing, and its accounts and contacts are emptied first) measures in
one process:

* baseline 1 (bare COPY): ``COPY`` of the contacts file into a bare staging table (text columns, no index);
* baseline 2 (COPY into the real table): the same rows ``COPY``-ed straight into ``customers_contact`` with all
  its real indexes and constraints (no history, no checks): PostgreSQL's own fastest load into that table. COPY
  cannot look up the accounts, so the file is first rewritten in the table's columns (account external id
  turned into the account's id, booleans, timestamps), untimed; the rows are removed again afterwards;
* SQL floor: the same rows into copies of ``customers_contact`` and its history table (same columns, same
  indexes, no foreign keys) by ``INSERT ... SELECT`` from a staging table: what the database alone needs to
  store these rows in this schema, with no checks and no Python per row;
* Patron: ``patron import accounts`` (setup, reported but not compared), then ``patron import contacts FILE``
  in-process: streamed in chunks, validated, matched by key, written with audit history, one transaction
  (the import's own seconds by stage are printed too);
* with ``--reimport``, the same contacts file again (every row unchanged).

``--index-floor`` measures only the physical floor of storing the rows: COPY into index-less copies of
``customers_contact`` and its history table, then each of their indexes built on its own (definitions from the
catalog; a large first load builds all but the primary key after its rows), against the same COPY with only
the keys' indexes (the rest built after, as a large import into a table already holding rows does)
and with every index maintained; the database's CPU seconds of each step are printed.

Prints the time and the peak resident memory of each stage (sampled from /proc every 10 ms, so each stage's
peak is its own although they share the process), the ratios of the import to each baseline (the goal: within
5x of the bare COPY) and to the SQL floor, and the load average before and after.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import random
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Run as a script, this file's folder is on sys.path, so the shared bench helpers import by name.
from _common import ROOT, command_line, ensure_postgres_database, setup_django

BENCH = Path(__file__).resolve().parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/patron_bench"
GOAL_RATIO = 5.0

FIRST = [
    "Anna",
    "Jan",
    "Piotr",
    "Maria",
    "Katarzyna",
    "Tomasz",
    "Ivan",
    "Elena",
    "Georgi",
    "Mila",
    "Wei",
    "Li",
    "Fang",
    "Hans",
    "Eva",
    "Lukas",
    "Sophie",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Mia",
    "Lucas",
    "Ana",
    "Pedro",
    "Sara",
    "David",
    "Laura",
    "Mateo",
    "Julia",
    "Marek",
    "Zofia",
    "Dmitri",
    "Olga",
    "Nikolai",
    "Petya",
    "Yan",
    "Chen",
    "Ming",
    "Felix",
    "Clara",
    "Paul",
    "Lea",
    "Jonas",
    "Lena",
    "Max",
    "Hannah",
    "Oscar",
    "Alice",
    "Louis",
    "Chloe",
    "Hugo",
    "Ines",
    "Leo",
    "Nora",
    "Arthur",
]
LAST = [
    "Nowak",
    "Kowalski",
    "Wisniewski",
    "Wojcik",
    "Ivanov",
    "Petrov",
    "Smirnov",
    "Georgiev",
    "Dimitrov",
    "Wang",
    "Zhang",
    "Liu",
    "Chen",
    "Muller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Martin",
    "Bernard",
    "Dubois",
    "Garcia",
    "Rodriguez",
    "Rossi",
    "Russo",
    "Jansen",
    "Visser",
    "Novak",
    "Horvat",
    "Kovacs",
    "Nagy",
    "Popescu",
    "Andersen",
    "Nielsen",
    "Larsen",
]
TITLES = ("CEO", "CFO", "CTO", "Head of IT", "Buyer", "Office manager", "Engineer", "Analyst", "", "")
ROLES = ("decision_maker", "champion", "influencer", "user", "billing", "technical", "other", "")
DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "corp.example")


# Files


def generate(rows: int, accounts: int, accounts_path: Path, contacts_path: Path, seed: int = 7) -> None:
    """Write the accounts and contacts files, row by row (memory stays flat whatever ``rows`` is)."""
    rng = random.Random(seed)
    accounts_path.parent.mkdir(parents=True, exist_ok=True)
    with accounts_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["external_id", "name", "industry", "country"])
        for a in range(1, accounts + 1):
            writer.writerow(
                [
                    f"ACC-{a:07d}",
                    f"{rng.choice(LAST)} {rng.choice(('GmbH', 'Sp. z o.o.', 'Ltd', 'SA'))} {a}",
                    rng.choice(("Retail", "Software", "Logistics", "Banking")),
                    rng.choice(("PL", "DE", "BG")),
                ]
            )
    with contacts_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "external_id",
                "account",
                "first_name",
                "last_name",
                "email",
                "phone",
                "title",
                "role",
                "language",
                "email_opt_out",
            ]
        )
        for i in range(1, rows + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow([
                f"CON-{i:08d}", f"ACC-{rng.randint(1, accounts):07d}", first, last,
                f"{first.lower()}.{last.lower()}.{i}@{rng.choice(DOMAINS)}", f"+48 {rng.randint(100_000_000, 999_999_999)}",
                rng.choice(TITLES), rng.choice(ROLES), rng.choice(("pl", "de", "en", "")), rng.choice(("no", "no", "yes")),
            ])  # fmt: skip


# Memory


class PeakRss:
    """Samples this process's resident memory every 10 ms while a stage runs and keeps the peak."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def current(self) -> int:
        """Return the resident set size now, in bytes."""
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def backend_cpu_seconds() -> float | None:
    """Return the CPU seconds used so far by the PostgreSQL backend of Django's connection (None if not local)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure(label: str, stage: Callable[[], Any], *, backend: bool = False) -> dict[str, Any]:
    """Run ``stage``; return its wall time, peak resident memory and CPU time (this process's, and with
    ``backend`` that of the PostgreSQL backend serving Django's connection)."""
    backend_before = backend_cpu_seconds() if backend else None
    with PeakRss() as rss:
        started, cpu = time.perf_counter(), time.process_time()
        result = stage()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    figures = {"label": label, "seconds": seconds, "peak_mb": rss.peak / 2**20, "start_mb": rss.start / 2**20}
    cpu_note = f"CPU {cpu:.1f} s here"
    if backend_before is not None and (backend_after := backend_cpu_seconds()) is not None:
        cpu_note += f", {backend_after - backend_before:.1f} s in the PostgreSQL backend"
    print(
        f"  {label}: {seconds:.1f} s ({cpu_note}), peak RSS {figures['peak_mb']:.0f} MB "
        f"(at start {figures['start_mb']:.0f} MB)"
    )
    figures["result"] = result
    return figures


# Database


def prepare(url: str) -> None:
    """Create and migrate the bench database, and empty the tables the bench fills."""
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("patron_bench"):
        raise SystemExit(f"Refusing to empty tables of {name}: bench databases are named patron_bench*.")
    ensure_postgres_database(url)
    setup_django(url)
    from django.db import connection

    from patron.core.models import Role, User
    from patron.customers.models import Account, Contact
    from patron.dataio.models import ImportRun

    tables = [m._meta.db_table for m in (Contact, Contact.history.model, Account, Account.history.model, ImportRun)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    if not User.objects.filter(username="bench").exists():
        User.objects.create(username="bench", role=Role.ADMIN, is_superuser=True, email="bench@example.com")


def sql_floor(url: str, path: Path) -> int:
    """Land the same rows in tables shaped like customers_contact and its history (same columns, same indexes)
    with plain SQL: COPY to a staging table, then INSERT ... SELECT joined to the accounts. No Python per row,
    no checks: what any importer into this schema pays the database at least. Returns the row count."""
    import psycopg

    with path.open("rb") as f:
        header = next(csv.reader(io.TextIOWrapper(f, encoding="utf-8")))
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor_stage, bench_floor_contact, bench_floor_history")
        conn.execute(f"CREATE TEMP TABLE bench_floor_stage ({', '.join(f'{c} text' for c in header)})")
        conn.execute("CREATE TABLE bench_floor_contact (LIKE customers_contact INCLUDING ALL)")
        conn.execute("CREATE TABLE bench_floor_history (LIKE customers_historicalcontact INCLUDING ALL)")
        copy_sql = "COPY bench_floor_stage FROM STDIN WITH (FORMAT csv, HEADER true)"
        with conn.cursor() as cur, path.open("rb") as f, cur.copy(copy_sql) as copy:
            while block := f.read(1 << 20):
                copy.write(block)
        inserted = conn.execute(
            "INSERT INTO bench_floor_contact (created_at, updated_at, external_id, account_id, first_name, last_name,"
            " email, phone, title, role, language, email_opt_out, do_not_contact)"
            " SELECT now(), now(), s.external_id, a.id, coalesce(s.first_name, ''), coalesce(s.last_name, ''),"
            " s.email, coalesce(s.phone, ''), coalesce(s.title, ''), coalesce(s.role, ''), coalesce(s.language, ''),"
            " s.email_opt_out = 'yes', false"
            " FROM bench_floor_stage s JOIN customers_account a ON a.external_id = s.account"
        ).rowcount
        conn.execute(
            "INSERT INTO bench_floor_history (id, created_at, updated_at, external_id, account_id, first_name,"
            " last_name, email, phone, title, role, language, email_opt_out, do_not_contact, history_date,"
            " history_change_reason, history_type)"
            " SELECT id, created_at, updated_at, external_id, account_id, first_name, last_name, email, phone,"
            " title, role, language, email_opt_out, do_not_contact, now(), 'floor', '+' FROM bench_floor_contact"
        )
        conn.commit()
        conn.execute("DROP TABLE bench_floor_contact, bench_floor_history")
        conn.commit()
    return inserted


def copy_baseline(url: str, path: Path) -> int:
    """COPY the contacts file into a bare staging table (text columns, no index) and return its row count."""
    import psycopg

    with path.open("rb") as f:
        header = next(csv.reader(io.TextIOWrapper(f, encoding="utf-8")))
    columns = ", ".join(f'"{c}" text' for c in header)
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_contacts_staging")
        conn.execute(f"CREATE TABLE bench_contacts_staging ({columns})")
        with conn.cursor() as cur, path.open("rb") as f:
            with cur.copy("COPY bench_contacts_staging FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                while block := f.read(1 << 20):
                    copy.write(block)
            rows = cur.rowcount
        conn.commit()
        conn.execute("DROP TABLE bench_contacts_staging")
        conn.commit()
    return rows


def table_rows_file(url: str, path: Path) -> Path:
    """Rewrite the contacts file in customers_contact's columns (ids for accounts), for the second baseline."""
    import psycopg

    with psycopg.connect(url) as conn:
        account_ids = dict(conn.execute("SELECT external_id, id FROM customers_account").fetchall())
    shaped = path.with_suffix(".table.csv")
    now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
    with path.open(newline="", encoding="utf-8") as src, shaped.open("w", newline="", encoding="utf-8") as out:
        reader, writer = csv.DictReader(src), csv.writer(out)
        for row in reader:
            writer.writerow([
                now, now, row["external_id"], account_ids[row["account"]], row["first_name"], row["last_name"],
                row["email"].lower(), row["phone"], row["title"], row["role"], row["language"],
                "t" if row["email_opt_out"] == "yes" else "f", "f",
            ])  # fmt: skip
    return shaped


TABLE_COLUMNS = (
    "created_at, updated_at, external_id, account_id, first_name, last_name, email, phone, title, role, language,"
    " email_opt_out, do_not_contact"
)


def copy_into_table(url: str, shaped: Path) -> int:
    """COPY the rows straight into customers_contact (all its indexes, no history) and return the row count."""
    import psycopg

    with psycopg.connect(url) as conn:
        with conn.cursor() as cur, shaped.open("rb") as f:
            with cur.copy(f"COPY customers_contact ({TABLE_COLUMNS}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy:
                while block := f.read(1 << 20):
                    copy.write(block)
            rows = cur.rowcount
        conn.commit()
    return rows


def empty_contacts(url: str) -> None:
    """Remove the contacts the second baseline loaded (TRUNCATE, so the import starts from empty storage)."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE customers_contact, customers_historicalcontact RESTART IDENTITY CASCADE")
        conn.execute("CHECKPOINT")


def index_list(url: str) -> list[str]:
    """Return the indexes of customers_contact and its history table, as ``table: name``."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename, indexname FROM pg_indexes"
            " WHERE tablename IN ('customers_contact', 'customers_historicalcontact') ORDER BY 1, 2"
        ).fetchall()
    return [f"{table}: {name}" for table, name in rows]


def index_floor(url: str, path: Path) -> None:
    """Print the physical floor of loading the file: COPY into index-less copies of customers_contact and its
    history table, then each index built alone (definitions from the catalog, the database's CPU for each), and
    against that the same COPY with only the primary key and unique indexes (then the rest built, as a large
    import does) and with every index maintained row by row."""
    import psycopg

    def backend_cpu(conn: psycopg.Connection) -> float:
        (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone() or (0,)
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def timed(conn: psycopg.Connection, label: str, work: Callable[[], Any]) -> float:
        cpu, started = backend_cpu(conn), time.perf_counter()
        work()
        conn.commit()
        cpu = backend_cpu(conn) - cpu
        print(f"    {label}: {time.perf_counter() - started:.1f} s, database CPU {cpu:.1f} s (load {load_average()})")
        return cpu

    with psycopg.connect(url) as conn:
        account_ids = dict(conn.execute("SELECT external_id, id FROM customers_account").fetchall())
        if not account_ids:
            raise SystemExit("--index-floor needs the accounts imported: run the bench once without it first")
        now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
        contacts, history = io.StringIO(), io.StringIO()
        contact_rows, history_rows = csv.writer(contacts), csv.writer(history)
        with path.open(newline="", encoding="utf-8") as src:
            for number, row in enumerate(csv.DictReader(src), 1):
                values = [
                    number, now, now, row["external_id"], account_ids[row["account"]], row["first_name"],
                    row["last_name"], row["email"].lower(), row["phone"], row["title"], row["role"],
                    row["language"], "t" if row["email_opt_out"] == "yes" else "f", "f",
                ]  # fmt: skip
                contact_rows.writerow(values)
                history_rows.writerow([*values, now, "floor", "+", "\\N"])
        columns = f"id, {TABLE_COLUMNS}"
        loads = {
            "customers_contact": (contacts.getvalue().encode(), columns),
            "customers_historicalcontact": (
                history.getvalue().encode(),
                f"{columns}, history_date, history_change_reason, history_type, history_user_id",
            ),
        }
        del contacts, history
        conn.execute("SET maintenance_work_mem = '256MB'")  # as the import sets it for its builds
        conn.commit()
        for table, (data, table_columns) in loads.items():
            indexes = conn.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), i.indisunique FROM pg_index i"
                " WHERE i.indrelid = %s::regclass ORDER BY i.indexrelid",
                [table],
            ).fetchall()
            copy_table = f"bench_floor_{table}"

            def load(copy_table: str = copy_table, data: bytes = data, table_columns: str = table_columns) -> None:
                sql = f"COPY {copy_table} ({table_columns}) FROM STDIN (FORMAT csv, NULL '\\N')"
                with conn.cursor() as cur, cur.copy(sql) as copy:
                    for start in range(0, len(data), 1 << 20):
                        copy.write(data[start : start + (1 << 20)])

            def create(name: str, definition: str, table: str = table, copy_table: str = copy_table) -> str:
                return definition.replace(f"INDEX {name} ON public.{table} ", f"INDEX bench_{name} ON {copy_table} ")

            print(f"  {table} ({len(indexes)} indexes):")
            conn.execute(f"DROP TABLE IF EXISTS {copy_table}")
            conn.execute(f"CREATE TABLE {copy_table} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)")
            conn.commit()
            bare = timed(conn, "COPY into a copy with no index", load)
            built = {}
            for name, definition, unique in indexes:
                statement = create(name, definition)
                label = f"CREATE {'UNIQUE ' if unique else ''}INDEX {name}"
                built[name] = timed(conn, label, lambda statement=statement: conn.execute(statement))
            conn.execute(f"TRUNCATE {copy_table}")
            for name, _definition, unique in indexes:
                if not unique:
                    conn.execute(f"DROP INDEX bench_{name}")
            conn.commit()
            keyed = timed(conn, "COPY with the primary key and unique indexes only", load)
            plain = sum(built[name] for name, _definition, unique in indexes if not unique)
            conn.execute(f"DROP TABLE {copy_table}")
            conn.execute(f"CREATE TABLE {copy_table} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)")
            for name, definition, _unique in indexes:
                conn.execute(create(name, definition))
            conn.commit()
            every = timed(conn, "COPY with every index", load)
            conn.execute(f"DROP TABLE {copy_table}")
            conn.commit()
            print(
                f"    database CPU: load then build every index {bare + sum(built.values()):.1f} s; keys kept, the "
                f"rest built after {keyed + plain:.1f} s; every index maintained {every:.1f} s"
            )


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def patron_import(kind: str, path: Path) -> str:
    """Run ``patron import KIND FILE`` in this process and return what it printed."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command("import", kind, str(path), "--user", "bench", stdout=out)
    return out.getvalue().strip()


def main(argv: list[str] | None = None) -> int:
    """Generate the files if needed, measure COPY and the import, and print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="contacts in the file (default 1,000,000)")
    parser.add_argument("--accounts", type=int, help="accounts they belong to (default rows / 10)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--reimport", action="store_true", help="also import the contacts file a second time")
    parser.add_argument(
        "--index-floor",
        action="store_true",
        help="only measure COPY into index-less copies of the tables and each index built after it",
    )
    args = parser.parse_args(argv)
    accounts = args.accounts or max(1, args.rows // 10)
    accounts_path = BENCH / "data" / f"import_accounts_{accounts}.csv"
    contacts_path = BENCH / "data" / f"import_contacts_{args.rows}_{accounts}.csv"
    if not contacts_path.exists() or not accounts_path.exists():
        print(f"generating {args.rows:,} contacts across {accounts:,} accounts ...")
        generate(args.rows, accounts, accounts_path, contacts_path)
    size_mb = contacts_path.stat().st_size / 2**20
    print(f"contacts file: {contacts_path.relative_to(ROOT)} ({size_mb:.0f} MB, {args.rows:,} rows)")
    if not urlsplit(args.database_url).scheme.startswith("postgres"):
        print("this bench needs PostgreSQL (DATABASE_URL=postgres://...)")
        return 2
    if args.index_floor:
        setup_django(args.database_url)
        print(f"load average before: {load_average()}")
        index_floor(args.database_url, contacts_path)
        print(f"load average after: {load_average()}")
        return 0
    prepare(args.database_url)
    load_before = load_average()
    print(f"load average before: {load_before}")
    indexes = index_list(args.database_url)
    print(f"indexes ({len(indexes)}):")
    for name in indexes:
        print(f"    {name}")
    stages = logging.getLogger("patron.dataio")  # the import logs its seconds by stage
    stages.setLevel(logging.INFO)
    stages.propagate = False
    stages.addHandler(logging.StreamHandler(sys.stdout))

    print("setup:")
    measure("patron import accounts (setup)", lambda: patron_import("accounts", accounts_path))
    print("measured:")
    baseline = measure("COPY into a bare staging table", lambda: copy_baseline(args.database_url, contacts_path))
    shaped = table_rows_file(args.database_url, contacts_path)
    into_table = measure(
        "COPY straight into customers_contact (all its indexes, no history)",
        lambda: copy_into_table(args.database_url, shaped),
    )
    empty_contacts(args.database_url)
    shaped.unlink()
    floor = measure(
        "SQL floor: same rows into tables shaped like customers_contact and its history, by INSERT ... SELECT",
        lambda: sql_floor(args.database_url, contacts_path),
    )
    imported = measure("patron import contacts", lambda: patron_import("contacts", contacts_path), backend=True)
    print(f"    {imported['result']}")
    if args.reimport:
        again = measure(
            "patron import contacts, again (all unchanged)",
            lambda: patron_import("contacts", contacts_path),
            backend=True,
        )
        print(f"    {again['result']}")
    ratio = imported["seconds"] / baseline["seconds"]
    rate = args.rows / imported["seconds"]
    print(
        f"\nimport/bare COPY = {ratio:.1f}x ({imported['seconds']:.1f} s vs {baseline['seconds']:.1f} s; "
        f"{rate:,.0f} rows/s); peak RSS {imported['peak_mb']:.0f} MB vs {baseline['peak_mb']:.0f} MB; "
        f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    print(
        f"import/COPY into customers_contact = {imported['seconds'] / into_table['seconds']:.1f}x "
        f"({into_table['seconds']:.1f} s to COPY the rows into the indexed table, without history)"
    )
    if args.reimport:
        print(
            f"re-import/bare COPY = {again['seconds'] / baseline['seconds']:.1f}x; "
            f"re-import/COPY into customers_contact = {again['seconds'] / into_table['seconds']:.1f}x"
        )
    print(
        f"import/SQL floor = {imported['seconds'] / floor['seconds']:.1f}x "
        f"({floor['seconds']:.1f} s for the database alone to write the rows and their indexes)"
    )
    print(f"goal (within {GOAL_RATIO:.0f}x of the bare COPY): {'met' if ratio <= GOAL_RATIO else 'missed'}")
    print(f"load average before: {load_before}; after: {load_average()}")
    print(f"command: {command_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
