"""Contacts: PostgreSQL samples 1,000 values of the combined search text (not 100) to estimate how many contacts a
search word matches, so rare names are read through the trigram index (see core.migration_ops.search_statistics)."""

from django.db import migrations

from patron.core.migration_ops import search_statistics


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_contact_search_indexes")]

    operations = [search_statistics("customers_contact_search_trgm", "customers_contact", 1000)]
