"""Trigram index for searching survey comments on PostgreSQL."""

from django.db import migrations

from patron.core.migration_ops import trigram_indexes

INDEXED = [
    ("feedback_surveyresponse", "comment"),
]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("feedback", "0001_initial")]

    operations = [trigram_indexes(INDEXED)]
