"""API reads run outside a transaction (two round trips fewer); every write still runs in exactly one."""

from __future__ import annotations

import json

import pytest
from django.db import connection, transaction

from patron.customers.models import Product
from patron.engagement.models import Interaction
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def in_transaction():
    """Record, for each query the requests run, whether it ran inside a transaction."""
    seen: list[tuple[str, bool]] = []

    def record(execute, sql, params, many, context):
        seen.append((sql.split()[0].upper(), connection.in_atomic_block))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def test_lists_and_details_run_without_a_transaction(api_for, admin_user, in_transaction):
    client = api_for(admin_user)
    created = client.post("/products", {"sku": "WID-1", "name": "Widget"}).json()
    in_transaction.clear()
    assert client.get("/products").status_code == 200
    assert client.get(f"/products/{created['id']}").status_code == 200
    assert in_transaction and not any(inside for _, inside in in_transaction)


def test_a_write_runs_in_one_transaction(api_for, admin_user, in_transaction):
    client = api_for(admin_user)
    in_transaction.clear()
    response = client.post("/products", {"sku": "WID-1", "name": "Widget"})
    assert response.status_code == 201
    writes = [inside for verb, inside in in_transaction if verb in ("INSERT", "UPDATE")]
    assert writes and all(writes)


def test_a_failed_bulk_upsert_keeps_nothing(api_for, admin_user):
    account = AccountFactory(owner=admin_user)
    good = {"external_id": "a", "account_id": account.pk, "channel": "phone", "occurred_at": "2025-03-14T10:00:00Z"}
    lines = "\n".join(json.dumps(row) for row in (good, {**good, "external_id": "b", "channel": "pigeon"}))
    response = api_for(admin_user).post("/interactions/bulk", lines, content_type="application/x-ndjson")
    assert response.status_code == 422
    assert not Interaction.objects.exists()


def test_a_failed_read_leaves_the_callers_transaction_usable(api_for, admin_user):
    with transaction.atomic():
        assert api_for(admin_user).get("/products/999999").status_code == 404
        assert not transaction.get_rollback()
        assert Product.objects.count() == 0
