"""Trigram indexes for searching accounts, contacts, orders and subscriptions on PostgreSQL."""

from django.db import migrations

from patron.core.migration_ops import trigram_indexes

INDEXED = [
    ("customers_account", "name"),
    ("customers_account", "external_id"),
    ("customers_contact", "first_name"),
    ("customers_contact", "last_name"),
    ("customers_contact", "email"),
    ("customers_order", "external_id"),
    ("customers_subscription", "external_id"),
]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("customers", "0001_initial")]

    operations = [trigram_indexes(INDEXED)]
