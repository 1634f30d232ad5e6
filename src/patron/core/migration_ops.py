"""Migration operations that several apps share."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def build_index_concurrently(schema_editor: Any, name: str, table: str, definition: str) -> None:
    """CREATE INDEX CONCURRENTLY ``name`` ON ``table`` ``definition``, unless a valid index of that name exists.

    A concurrent build that is interrupted (a killed migration, a lost connection) leaves an *invalid* index
    behind: PostgreSQL keeps maintaining it on writes but never reads it, and ``IF NOT EXISTS`` would then skip
    the rebuild for good. Such a leftover is dropped and built again.
    """
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [name],
        )
        found = cursor.fetchone()
    if found is not None and not found[0]:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    schema_editor.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" {definition}')


def trigram_indexes(indexed: list[tuple[str, str]]) -> migrations.RunPython:
    """Return an operation that builds trigram GIN indexes on ``UPPER(column)`` for each (table, column), on PostgreSQL.

    Django's case-insensitive ``icontains`` compares ``UPPER(column)``; such an index lets PostgreSQL answer it
    without reading the table. SQLite cannot index these searches and keeps its plain indexes. The indexes are
    built concurrently so a large production table stays writable, so the migration must not be atomic.
    """

    def create(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in indexed:
            build_index_concurrently(
                schema_editor, f"{table}_{column}_trgm", table, f'USING gin (UPPER("{column}") gin_trgm_ops)'
            )

    def drop(apps, schema_editor):
        # The extension stays: other tables may use it.
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in indexed:
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{table}_{column}_trgm"')

    return migrations.RunPython(create, drop, atomic=False)


def search_text_sql(columns: tuple[str, ...] | list[str], table: str | None = None) -> str:
    """Return the SQL of one upper-cased text joining ``columns`` with spaces, as a combined search index covers it.

    A search word has no spaces, so it is in this text exactly when it is in one of the columns: one trigram
    index on it answers what an index per column answered, and costs an import less (see bench/README.md).
    The query (:meth:`patron.core.services.Records.search`) must spell the same expression for PostgreSQL to
    use the index; both take it from here.
    """
    prefix = f'"{table}".' if table else ""
    joined = " || ' ' || ".join(f"COALESCE({prefix}\"{c}\"::text, '')" for c in columns)
    return f"UPPER({joined})"


def combined_search_index(table: str, columns: tuple[str, ...], replaces: list[str]) -> migrations.RunPython:
    """Return an operation that builds ONE trigram GIN index on :func:`search_text_sql` of ``columns`` on
    PostgreSQL, then drops the per-column trigram indexes it ``replaces`` (columns of ``table``); reversible.
    """
    index = f"{table}_search_trgm"

    def create(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        build_index_concurrently(schema_editor, index, table, f"USING gin (({search_text_sql(columns)}) gin_trgm_ops)")
        for column in replaces:
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{table}_{column}_trgm"')

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for column in replaces:
            build_index_concurrently(
                schema_editor, f"{table}_{column}_trgm", table, f'USING gin (UPPER("{column}") gin_trgm_ops)'
            )
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"')

    return migrations.RunPython(create, drop, atomic=False)


def prefix_indexes(indexed: list[tuple[str, str]]) -> migrations.RunPython:
    """Return an operation that builds b-tree indexes for ``UPPER(column) LIKE 'X%'`` on PostgreSQL.

    That is what Django's ``istartswith`` compares. ``text_pattern_ops`` makes the index usable for LIKE
    whatever the database's collation (a plain b-tree serves LIKE prefixes only under the C collation).
    Words too short for trigrams (one or two characters, typically Chinese names) are searched this way.
    """

    def create(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in indexed:
            build_index_concurrently(
                schema_editor, f"{table}_{column}_prefix", table, f'(UPPER("{column}"::text) text_pattern_ops)'
            )

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in indexed:
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{table}_{column}_prefix"')

    return migrations.RunPython(create, drop, atomic=False)


def search_statistics(index: str, table: str, target: int) -> migrations.RunPython:
    """Return an operation that samples ``target`` values of a search index's expression when PostgreSQL analyses
    ``table`` (instead of the default 100), then analyses it.

    PostgreSQL estimates how many rows ``LIKE '%word%'`` matches by testing the word against a histogram of the
    expression's values. With 100 of them a word is estimated at 1% of the table when one of the 100 holds it
    and at 0.01% otherwise, so a surname that happens to be sampled (Kazimierczyk: 433 of a million contacts)
    is planned as if it were everywhere: walking the whole table newest first, 1 s, instead of reading its
    matches through the index, a few ms. A thousand values estimate to 0.1% and cost about 0.3 ms of planning.
    """

    def create(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f'ALTER INDEX "{index}" ALTER COLUMN 1 SET STATISTICS {int(target)}')
        schema_editor.execute(f'ANALYZE "{table}"')

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f'ALTER INDEX "{index}" ALTER COLUMN 1 SET STATISTICS -1')

    return migrations.RunPython(create, drop)
