"""Concurrent index builds in migrations recover from an earlier, interrupted build."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection

from patron.core.migration_ops import build_index_concurrently

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent index builds are PostgreSQL's"),
]


def index_state(name):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
            [name],
        )
        return cursor.fetchone()


@pytest.fixture
def scratch_table():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE patron_scratch (word text)")
        cursor.execute("INSERT INTO patron_scratch VALUES ('same'), ('same')")
    yield "patron_scratch"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS patron_scratch")


def test_an_invalid_leftover_of_an_interrupted_build_is_built_again(scratch_table):
    # A failed concurrent build (here: duplicates under UNIQUE) leaves an invalid index, as a killed one does.
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY scratch_word ON {scratch_table} (word)")
    assert index_state("scratch_word")[0] is False

    with connection.schema_editor(atomic=False) as editor:
        build_index_concurrently(editor, "scratch_word", scratch_table, "(UPPER(word))")

    valid, definition = index_state("scratch_word")
    assert valid is True and "upper(word)" in definition


def test_a_valid_index_is_left_as_it_is(scratch_table):
    with connection.schema_editor(atomic=False) as editor:
        build_index_concurrently(editor, "scratch_word", scratch_table, "(word)")
        build_index_concurrently(editor, "scratch_word", scratch_table, "(UPPER(word))")
    valid, definition = index_state("scratch_word")
    assert valid is True and "upper" not in definition
