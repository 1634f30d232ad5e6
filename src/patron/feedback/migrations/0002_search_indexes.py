"""Trigram index for searching survey comments on PostgreSQL.

Django's case-insensitive `icontains` compares `UPPER(column)`; a trigram GIN index on that expression lets
PostgreSQL answer it without reading the table. SQLite cannot index such searches, so it keeps its plain indexes.
The indexes are built concurrently, so a large production table stays writable meanwhile.
"""

from django.db import migrations

INDEXED = [
    ("feedback_surveyresponse", "comment"),
]


def create_trigram_indexes(apps, schema_editor):
    """Create the trigram extension and indexes on PostgreSQL."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in INDEXED:
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{table}_{column}_trgm" '
            f'ON "{table}" USING gin (UPPER("{column}") gin_trgm_ops)'
        )


def drop_trigram_indexes(apps, schema_editor):
    """Drop the trigram indexes (the extension stays: other tables may use it)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in INDEXED:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{table}_{column}_trgm"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("feedback", "0001_initial")]

    operations = [migrations.RunPython(create_trigram_indexes, drop_trigram_indexes, atomic=False)]
