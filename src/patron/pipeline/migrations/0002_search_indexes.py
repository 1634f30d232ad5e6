"""Trigram indexes for searching leads and deals on PostgreSQL."""

from django.db import migrations

from patron.core.migration_ops import trigram_indexes

INDEXED = [
    ("pipeline_lead", "name"),
    ("pipeline_lead", "company"),
    ("pipeline_lead", "email"),
    ("pipeline_deal", "name"),
]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("pipeline", "0001_initial")]

    operations = [trigram_indexes(INDEXED)]
