"""The API describes itself: the OpenAPI schema builds and the interactive docs render."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_lists_every_record_kind(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for kind in (
        "accounts",
        "contacts",
        "products",
        "orders",
        "order-lines",
        "subscriptions",
        "interactions",
        "tickets",
        "campaigns",
        "leads",
        "deals",
        "survey-responses",
    ):
        assert f"/api/v1/{kind}" in paths
        assert f"/api/v1/{kind}/export.csv" in paths
    for bulk in ("orders", "interactions", "survey-responses"):
        assert "application/x-ndjson" in paths[f"/api/v1/{bulk}/bulk"]["post"]["requestBody"]["content"]
    assert {"/api/v1/me", "/api/v1/tokens", "/api/v1/accounts/{pk}/timeline"} <= set(paths)


def test_operation_ids_are_unique(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    ids = [op["operationId"] for methods in paths.values() for op in methods.values()]
    assert len(ids) == len(set(ids))


def test_docs_render(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content
