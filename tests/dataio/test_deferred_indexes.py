"""Large imports on PostgreSQL build the plain indexes after the rows: the same indexes come back, a failed
import leaves everything as it was, and a small import into a big table never takes that path."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.customers.models import Account, Contact
from patron.dataio import indexes, services
from patron.dataio.models import ImportRun
from patron.errors import Invalid
from tests.dataio.conftest import run_import
from tests.factories import AccountFactory, ContactFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="indexes are deferred on PostgreSQL only"),
]

TABLES = ("customers_contact", "customers_historicalcontact")


def index_set() -> set[tuple[str, str, str, tuple[int, ...]]]:
    """Return every index of the contact tables as (table, name, definition, its columns' statistics targets)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef,"
            " (SELECT array_agg(a.attstattarget ORDER BY a.attnum) FROM pg_attribute a"
            "  WHERE a.attrelid = (schemaname || '.' || indexname)::regclass AND a.attnum > 0)"
            " FROM pg_indexes WHERE tablename = ANY(%s)",
            [list(TABLES)],
        )
        return {(table, name, definition, tuple(targets)) for table, name, definition, targets in cursor.fetchall()}


def contacts_file(rows: int, *, start: int = 0, bad_row: int | None = None) -> str:
    lines = ["external_id,account,first_name,last_name,email"]
    for i in range(start, start + rows):
        email = "not an address" if i - start == bad_row else f"anna.{i}@example.com"
        lines.append(f"C-{i:05d},ACC-1,Anna,Nowak {i},{email}")
    return "\n".join(lines) + "\n"


def dropped(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DROP INDEX")]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 500 rows and deferral from 500 rows written, so a file of a few thousand rows is "large"."""
    monkeypatch.setattr(services, "CHUNK_ROWS", 500)
    monkeypatch.setattr(indexes, "MIN_DEFERRED_ROWS", 500)


def test_a_large_import_into_an_empty_table_gets_back_exactly_the_indexes_it_had(admin_user, small_chunks):
    AccountFactory(external_id="ACC-1", owner=admin_user)
    before = index_set()
    with CaptureQueriesContext(connection) as queries:
        run = run_import(admin_user, "contacts", contacts_file(3000))
    assert isinstance(run, ImportRun), run
    assert run.created == 3000
    # The plain indexes of both tables went (the trigram search and the history's date among them), and, the
    # table being empty, the unique index on e-mails (tests/dataio/test_first_load.py) ...
    gone = " ".join(dropped(queries))
    assert "customers_contact_search_trgm" in gone and "history_date" in gone and "contact_email_ci_unique" in gone
    assert "pkey" not in gone
    # ... and came back as they were (the search text still samples 1,000 values for the planner), and they are
    # used: a search by name finds through the rebuilt index.
    assert index_set() == before
    assert ("customers_contact", "customers_contact_search_trgm") in {(t, n) for t, n, _, s in before if s == (1000,)}
    assert Contact.objects.filter(last_name="Nowak 1234").count() == 1
    assert Contact.history.filter(history_type="+").count() == 3000


def test_the_progress_says_when_the_rows_are_in_and_the_indexes_are_being_built(admin_user, small_chunks):
    AccountFactory(external_id="ACC-1", owner=admin_user)
    told = []
    run = run_import(
        admin_user, "contacts", contacts_file(3000), progress=lambda rows, *_rest: told.append((rows, _rest[-1]))
    )
    assert run.created == 3000
    assert told[-1] == (3000, "indexes")
    assert {stage for _, stage in told[:-1]} == {"rows"} and len(told) == 7  # six chunks of 500, then the indexes


def test_a_failed_import_leaves_the_indexes_and_the_rows_as_they_were(admin_user, small_chunks):
    account = Account.objects.create(external_id="ACC-1", name="Acme", owner=admin_user)
    ContactFactory.create_batch(3, account=account)
    before, rows = index_set(), set(Contact.objects.values_list("id", "external_id", "email"))
    with CaptureQueriesContext(connection) as queries:
        result = run_import(admin_user, "contacts", contacts_file(3000, bad_row=2500))
    assert isinstance(result, Invalid), result
    assert [(e["row"], e["column"]) for e in result.details] == [(2502, "email")]
    assert dropped(queries)  # the import had taken the deferred path before it met the bad row
    assert index_set() == before
    assert set(Contact.objects.values_list("id", "external_id", "email")) == rows
    assert not Contact.history.filter(history_change_reason__startswith="Import").exists()


def test_a_small_import_into_a_bigger_table_keeps_the_indexes_up_to_date(admin_user, small_chunks):
    AccountFactory(external_id="ACC-1", owner=admin_user)
    assert run_import(admin_user, "contacts", contacts_file(3000)).created == 3000
    assert not indexes.worth_deferring("customers_contact", 5999)  # the table must hold at most half as many
    assert indexes.worth_deferring("customers_contact", 6000)
    with CaptureQueriesContext(connection) as queries:
        run = run_import(admin_user, "contacts", contacts_file(1500, start=10_000))
    assert run.created == 1500
    assert not dropped(queries)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("LOCK TABLE")]


def test_an_import_below_the_threshold_never_locks_the_table(admin_user):
    AccountFactory(external_id="ACC-1", owner=admin_user)
    assert not indexes.worth_deferring("customers_contact", indexes.MIN_DEFERRED_ROWS - 1)
    stages = set()
    with CaptureQueriesContext(connection) as queries:
        run = run_import(admin_user, "contacts", contacts_file(3000), progress=lambda *told: stages.add(told[-1]))
    assert run.created == 3000
    assert stages == {"rows"}
    assert not [q for q in queries.captured_queries if "LOCK TABLE" in q["sql"] or "DROP INDEX" in q["sql"]]


def test_a_table_someone_is_reading_keeps_its_indexes_and_the_import_goes_on(admin_user, small_chunks, monkeypatch):
    monkeypatch.setattr(indexes, "LOCK_TIMEOUT", "200ms")
    AccountFactory(external_id="ACC-1", owner=admin_user)
    before = index_set()
    params = connection.settings_dict
    reader = psycopg.connect(
        dbname=params["NAME"], user=params["USER"], host=params["HOST"], port=params["PORT"] or 5432
    )
    try:
        reader.execute("SELECT count(*) FROM customers_contact")  # holds its lock until its transaction ends
        with CaptureQueriesContext(connection) as queries:
            run = run_import(admin_user, "contacts", contacts_file(3000))
    finally:
        reader.close()
    assert run.created == 3000
    gone = " ".join(dropped(queries))
    assert "customers_contact_search_trgm" not in gone  # the busy table kept its indexes ...
    assert "history_date" in gone  # ... while the history table, which nobody was reading, still took the path
    assert index_set() == before
