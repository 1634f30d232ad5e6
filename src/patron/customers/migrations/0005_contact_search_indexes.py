"""Contacts: one trigram index over first name, last name and e-mail instead of one per column, and prefix
indexes on the upper-cased names for words too short for trigrams (PostgreSQL only; SQLite has neither)."""

from django.db import migrations

from patron.core.migration_ops import combined_search_index, prefix_indexes

SEARCHED = ("first_name", "last_name", "email")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("customers", "0004_index_hygiene")]

    operations = [
        combined_search_index("customers_contact", SEARCHED, replaces=list(SEARCHED)),
        prefix_indexes([("customers_contact", "last_name"), ("customers_contact", "first_name")]),
    ]
