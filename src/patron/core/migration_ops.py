"""Migration operations that several apps share."""

from __future__ import annotations

from django.db import migrations


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
            schema_editor.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{table}_{column}_trgm" '
                f'ON "{table}" USING gin (UPPER("{column}") gin_trgm_ops)'
            )

    def drop(apps, schema_editor):
        # The extension stays: other tables may use it.
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in indexed:
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{table}_{column}_trgm"')

    return migrations.RunPython(create, drop, atomic=False)
