"""A first load on PostgreSQL (a large import into a table that held no row once locked) looks nothing up by
key and builds the unique indexes after the rows too, with the same result, the same history and the same row
errors as the normal path; a table holding a single row takes the normal path."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.customers.models import Account, Contact
from patron.dataio import indexes, services
from patron.dataio.models import ImportRun, ImportStatus
from patron.errors import Invalid
from tests.dataio.conftest import run_import
from tests.factories import AccountFactory, ContactFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="first loads are told apart on PostgreSQL only"),
]

TABLES = ("customers_contact", "customers_historicalcontact", "customers_account", "customers_historicalaccount")


def schema() -> set[tuple[str, ...]]:
    """Return every index (name, definition) and constraint (name, definition) of the contact and account tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
            " UNION ALL SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = ANY(%s::regclass[])",
            [list(TABLES), list(TABLES)],
        )
        return set(cursor.fetchall())


def contacts_file(rows: int, *, repeat: dict[int, str] | None = None) -> str:
    """Return a CSV of ``rows`` contacts of account ACC-1; ``repeat`` replaces whole rows by their position."""
    lines = ["external_id,account,first_name,last_name,email"]
    for i in range(rows):
        lines.append((repeat or {}).get(i) or f"C-{i:05d},ACC-1,Anna,Nowak {i},Anna.{i}@Example.com")
    return "\n".join(lines) + "\n"


def key_lookups(queries: CaptureQueriesContext) -> list[int]:
    """Return the positions among ``queries`` of the lookups of stored contacts by key."""
    return [
        at
        for at, q in enumerate(queries.captured_queries)
        if q["sql"].startswith('SELECT "customers_contact"."id"')
        and ('"customers_contact"."external_id" IN' in q["sql"] or 'LOWER("customers_contact"."email") IN' in q["sql"])
    ]


def position_of(queries: CaptureQueriesContext, start: str) -> int:
    return next(at for at, q in enumerate(queries.captured_queries) if q["sql"].startswith(start))


def dropped(queries: CaptureQueriesContext) -> str:
    return " ".join(
        q["sql"] for q in queries.captured_queries if "DROP INDEX" in q["sql"] or "DROP CONSTRAINT" in q["sql"]
    )


def stored_contacts() -> list[tuple]:
    return sorted(
        Contact.objects.values_list(
            "external_id",
            "account__external_id",
            "first_name",
            "last_name",
            "email",
            "role",
            "created_at",
            "updated_at",
        )
    )


def stored_history() -> list[tuple]:
    return sorted(
        Contact.history.values_list(
            "external_id", "account__external_id", "last_name", "email", "history_type", "history_user", "history_date"
        )
    )


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 500 rows and deferral from 500 rows written, so a file of a few thousand rows is "large"."""
    monkeypatch.setattr(services, "CHUNK_ROWS", 500)
    monkeypatch.setattr(indexes, "MIN_DEFERRED_ROWS", 500)


@pytest.fixture
def account(admin_user):
    return AccountFactory(external_id="ACC-1", owner=admin_user)


def test_a_first_load_looks_up_no_key_once_the_table_is_locked(admin_user, account, small_chunks):
    with CaptureQueriesContext(connection) as queries:
        run = run_import(admin_user, "contacts", contacts_file(3000))
    assert isinstance(run, ImportRun), run
    assert run.created == 3000
    # The first chunk is matched before the decision (both keys), then never again: six chunks would cost twelve.
    lookups = key_lookups(queries)
    assert len(lookups) == 2
    assert max(lookups) < position_of(queries, "LOCK TABLE")


def test_a_first_load_stores_the_same_rows_and_history_as_the_normal_path(
    admin_user, account, small_chunks, monkeypatch
):
    before = schema()
    services_now = services.timezone.now()
    monkeypatch.setattr(services.timezone, "now", lambda: services_now)  # the same history dates on both paths
    with CaptureQueriesContext(connection) as queries:
        first = run_import(admin_user, "contacts", contacts_file(3000))
    assert first.created == 3000
    gone = dropped(queries)
    assert "contact_email_ci_unique" in gone and "customers_contact_external_id_unique" in gone
    assert "pkey" not in gone
    rows, history = stored_contacts(), stored_history()
    assert schema() == before  # unique indexes and constraints back as they were
    Contact.objects.all().delete()
    Contact.history.all().delete()  # after the contacts, whose deletion adds "-" rows

    monkeypatch.setattr(indexes, "MIN_DEFERRED_ROWS", 10**9)  # the normal path: indexes kept, keys looked up
    with CaptureQueriesContext(connection) as queries:
        normal = run_import(admin_user, "contacts", contacts_file(3000))
    assert normal.created == 3000
    assert not dropped(queries) and len(key_lookups(queries)) == 12
    assert stored_contacts() == rows
    assert stored_history() == history
    assert len(history) == 3000 and {h[4:6] for h in history} == {("+", admin_user.pk)}
    assert rows[0][:5] == ("C-00000", "ACC-1", "Anna", "Nowak 0", "anna.0@example.com")


@pytest.mark.parametrize(
    ("line", "column", "says"),
    [
        ("C-02600,ACC-1,Anna,Again,ANNA.100@example.COM", "email", "also on row 102"),
        ("C-00100,ACC-1,Anna,Again,someone.else@example.com", "external_id", "also on row 102"),
        (",ACC-1,Anna,Again,anna.100@example.com", "email", "also on row 102"),  # matched by e-mail only
    ],
)
def test_a_key_repeated_across_chunks_of_a_first_load_is_refused_at_its_row(
    admin_user, account, small_chunks, line, column, says
):
    before = schema()
    with CaptureQueriesContext(connection) as queries:
        result = run_import(admin_user, "contacts", contacts_file(3000, repeat={2600: line}))
    assert isinstance(result, Invalid), result
    assert [(e["row"], e["column"]) for e in result.details] == [(2602, column)]
    assert says in result.details[0]["message"]
    assert "customers_contact_external_id_unique" in dropped(queries)  # it was a first load up to that row
    assert not Contact.objects.exists() and not Contact.history.exists()
    assert schema() == before
    assert ImportRun.objects.latest("id").status == ImportStatus.FAILED


def test_a_duplicate_that_slips_through_fails_the_whole_first_load(admin_user, account, small_chunks, monkeypatch):
    # Stands for a repeat the file's own check cannot see (the database's lower case is not Python's for a few
    # letters): the unique index built at the end still refuses it, and nothing is kept.
    monkeypatch.setattr(services.Importer, "_check_repeated_keys", lambda self, rows, problems: None)
    before = schema()
    line = "C-00100,ACC-1,Anna,Again,someone.else@example.com"
    result = run_import(admin_user, "contacts", contacts_file(3000, repeat={2600: line}))
    assert isinstance(result, Invalid), result
    assert result.details[0]["column"] == "external_id"
    assert "two rows hold the same external_id" in result.message and "C-00100" in result.message
    assert not Contact.objects.exists() and not Contact.history.exists()
    assert schema() == before
    run = ImportRun.objects.latest("id")
    assert run.status == ImportStatus.FAILED and run.created == 0


def test_a_table_holding_one_row_takes_the_normal_path(admin_user, account, small_chunks):
    ContactFactory(account=account, external_id=None, email="ANNA.2500@example.com", last_name="Before")
    before = schema()
    with CaptureQueriesContext(connection) as queries:
        run = run_import(admin_user, "contacts", contacts_file(3000))
    # The file's row 2502 names the stored contact by its e-mail, and updates it: only a lookup finds it.
    assert (run.created, run.updated) == (2999, 1)
    assert Contact.objects.get(email="anna.2500@example.com").external_id == "C-02500"
    gone = dropped(queries)
    assert "customers_contact_search_trgm" in gone  # the plain indexes still wait for the end ...
    assert "unique" not in gone  # ... but not the unique ones,
    assert len(key_lookups(queries)) == 12  # and every chunk is looked up by both keys
    assert schema() == before


def test_a_first_load_of_accounts_builds_their_unique_key_after_the_rows(admin_user, small_chunks):
    before = schema()
    lines = ["external_id,name"] + [f"ACC-{i},Firm {i}" for i in range(3000)]
    with CaptureQueriesContext(connection) as queries:
        run = run_import(admin_user, "accounts", "\n".join(lines) + "\n")
    assert run.created == 3000
    assert "customers_account_external_id_unique" in dropped(queries)
    assert schema() == before
    assert Account.history.filter(history_type="+").count() == 3000
    # A second import of the same file finds every row through the rebuilt key and changes nothing.
    again = run_import(admin_user, "accounts", "\n".join(lines) + "\n")
    assert (again.created, again.unchanged) == (0, 3000)
