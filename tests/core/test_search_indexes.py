"""On PostgreSQL, searches use trigram indexes instead of reading whole tables."""

from __future__ import annotations

import pytest
from django.db import connection

from patron.customers import services as customers
from patron.engagement import services as engagement
from tests.factories import AccountFactory, ContactFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL only"),
]


def plan(queryset):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_contact_search_uses_the_one_trigram_index_over_names_and_email(admin_user):
    ContactFactory(account=AccountFactory(), first_name="Zofia")
    explained = plan(customers.contacts.filtered(admin_user, search="zofia"))
    assert "customers_contact_search_trgm" in explained


def test_a_contact_search_for_a_short_word_uses_the_name_prefix_indexes(admin_user):
    ContactFactory(account=AccountFactory(), first_name="伟", last_name="王")
    explained = plan(customers.contacts.filtered(admin_user, search="王"))
    assert "customers_contact_last_name_prefix" in explained
    assert "customers_contact_first_name_prefix" in explained


def test_interaction_search_uses_its_trigram_index(admin_user):
    explained = plan(engagement.interactions.filtered(admin_user, search="renewal"))
    assert "engagement_interaction_subject_trgm" in explained


def test_contact_search_words_are_estimated_from_a_thousand_sampled_values():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attstattarget FROM pg_attribute a WHERE a.attrelid = 'customers_contact_search_trgm'::regclass"
            " AND a.attnum = 1"
        )
        assert cursor.fetchone() == (1000,)
