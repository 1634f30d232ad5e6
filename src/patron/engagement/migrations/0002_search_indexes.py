"""Trigram indexes for searching interactions and tickets on PostgreSQL."""

from django.db import migrations

from patron.core.migration_ops import trigram_indexes

INDEXED = [
    ("engagement_interaction", "subject"),
    ("engagement_ticket", "subject"),
    ("engagement_ticket", "external_id"),
]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("engagement", "0001_initial")]

    operations = [trigram_indexes(INDEXED)]
