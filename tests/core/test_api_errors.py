"""Every error under /api/v1 is JSON in one shape, and input the API would not read is refused, not ignored."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from patron.customers.models import Account
from tests.factories import AccountFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def shape(response, status, error):
    """Assert the error's status and shape, and return its JSON body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]
    return body


# Bodies that are not JSON


def test_a_malformed_json_body_is_a_422_naming_the_body_and_where(api_for, member):
    response = api_for(member).post("/accounts", '{"name": "Acme",\n "kind": }')
    body = shape(response, 422, "invalid")
    assert body["field"] == "body"
    assert "line 2, column" in body["message"]


def test_a_body_that_is_not_utf8_is_a_422_naming_the_body(api_for, member):
    body = shape(api_for(member).post("/accounts", b'{"name": "\xff"}'), 422, "invalid")
    assert body["field"] == "body"


def test_a_malformed_body_writes_nothing_and_patch_says_the_same(api_for, member):
    account = AccountFactory(owner=member, name="Kept")
    response = api_for(member).patch(f"/accounts/{account.pk}", "{name: 'x'}")
    assert shape(response, 422, "invalid")["field"] == "body"
    account.refresh_from_db()
    assert account.name == "Kept"


# Paths and methods


@pytest.mark.parametrize("path", ["/no-such-thing", "/accounts/abc", "/accounts/1/nothing", "/me/"])
def test_an_unknown_path_under_the_api_is_a_json_404(api_for, member, path):
    body = shape(api_for(member).get(path), 404, "not_found")
    assert f"/api/v1{path}" in body["message"]


def test_an_unknown_path_is_a_json_404_also_without_credentials():
    shape(Client().get("/api/v1/nothing-here"), 404, "not_found")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_token_clients_write_to_an_unknown_path_is_a_json_404_not_a_csrf_page(api_for, member, method):
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(
        "/api/v1/nothing-here", "{}", "application/json", headers=api_for(member).headers
    )
    shape(response, 404, "not_found")


def test_a_wrong_method_is_a_json_405_also_under_csrf_checks(api_for, member):
    client = Client(enforce_csrf_checks=True)
    shape(
        client.put("/api/v1/accounts", "{}", "application/json", headers=api_for(member).headers),
        405,
        "method_not_allowed",
    )


def test_pages_keep_djangos_html_404(member):
    client = Client()
    client.force_login(member)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/accounts", {"GET", "POST"}),
        ("post", "/me", {"GET"}),
        ("put", "/accounts/1", {"GET", "PATCH", "DELETE"}),
    ],
)
def test_a_wrong_method_is_a_json_405_with_an_allow_header(api_for, member, method, path, allowed):
    response = getattr(api_for(member).client, method)(f"/api/v1{path}", headers=api_for(member).headers)
    body = shape(response, 405, "method_not_allowed")
    assert {m.strip() for m in response["Allow"].split(",")} == allowed
    assert method.upper() in body["message"]


# Fields and parameters the route does not read


def test_an_unknown_field_on_create_is_a_422_naming_it(api_for, member):
    response = api_for(member).post("/accounts", {"name": "Acme", "colour": "red"})
    body = shape(response, 422, "invalid")
    assert body["field"] == "colour"
    assert "colour" in body["message"]
    assert not Account.objects.filter(name="Acme").exists()


def test_an_unknown_field_on_update_is_a_422_and_nothing_changes(api_for, member):
    account = AccountFactory(owner=member, name="Kept")
    response = api_for(member).patch(f"/accounts/{account.pk}", {"name": "Changed", "nmae": "typo"})
    assert shape(response, 422, "invalid")["field"] == "nmae"
    account.refresh_from_db()
    assert account.name == "Kept"


def test_a_read_only_field_of_the_output_is_refused_too(api_for, member):
    account = AccountFactory(owner=member)
    response = api_for(member).patch(f"/accounts/{account.pk}", {"id": account.pk + 1, "name": "New"})
    assert shape(response, 422, "invalid")["field"] == "id"


def test_an_unknown_field_of_a_nested_row_is_named_with_its_place(api_for, member):
    account = AccountFactory(owner=member)
    product = ProductFactory()
    line = {"product_id": product.pk, "unit_price": "10.00", "discount": "5"}
    response = api_for(member).post("/orders", {"account_id": account.pk, "ordered_at": "2026-01-05", "lines": [line]})
    assert shape(response, 422, "invalid")["field"] == "lines.0.discount"


def test_an_unknown_field_in_an_ndjson_line_names_the_line(api_for, member):
    account = AccountFactory(owner=member, external_id="A1")
    rows = [
        {"external_id": "O1", "account_external_id": account.external_id, "ordered_at": "2026-01-05", "amount": "5"},
        {"external_id": "O2", "account_external_id": account.external_id, "ordered_at": "2026-01-06", "amont": "5"},
    ]
    text = "\n".join(json.dumps(r) for r in rows)
    response = api_for(member).post("/orders/bulk", text, content_type="application/x-ndjson")
    body = shape(response, 422, "invalid")
    assert body["field"] == "amont"
    assert body["details"][0]["row"] == 2


def test_known_fields_still_work(api_for, member):
    response = api_for(member).post("/accounts", {"name": "Acme", "country": "de"})
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("path", ["/orders", "/orders/export.csv"])
def test_an_unknown_query_parameter_is_a_422_naming_it(api_for, member, path):
    OrderFactory(account=AccountFactory(owner=member))
    response = api_for(member).get(f"{path}?ordered_at__gte=2026-01-01")
    body = shape(response, 422, "invalid")
    assert body["field"] == "ordered_at__gte"
    assert "ordered_from" in body["message"]


def test_the_parameters_a_list_reads_are_accepted(api_for, member):
    OrderFactory(account=AccountFactory(owner=member))
    response = api_for(member).get("/orders?ordered_from=2020-01-01&q=&order=-id&limit=5&cursor=")
    assert response.status_code == 200, response.content


def test_an_unknown_query_parameter_on_another_list_is_refused_too(api_for, member):
    assert shape(api_for(member).get("/value/runs?page=2"), 422, "invalid")["field"] == "page"


def test_anonymous_requests_are_a_401_before_their_parameters_are_read():
    shape(Client().get("/api/v1/orders?ordered_at__gte=x"), 401, "unauthenticated")


def test_the_openapi_schema_still_generates(api_for, member):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/users" in paths and "/api/v1/teams" in paths
    assert paths["/api/v1/accounts"]["post"]["summary"] == "Create an account"
    assert paths["/api/v1/deals"]["post"]["summary"] == "Create a deal"
    assert paths["/api/v1/interactions/{pk}"]["patch"]["summary"] == "Change an interaction"


# In the user's language


POLISH = {"Accept-Language": "pl"}


def test_api_errors_speak_the_users_language(api_for, member):
    api = api_for(member)
    unknown = api.post("/accounts", {"name": "Acme", "colour": "red"}, headers=POLISH).json()
    assert unknown["message"] == "„colour” nie jest polem, które można tu przesłać."
    malformed = api.post("/accounts", "{", headers=POLISH).json()
    assert malformed["message"].startswith("Treść żądania nie jest poprawnym JSON-em: ")
    assert malformed["message"].endswith("(wiersz 1, kolumna 2).")
    nowhere = api.client.get("/api/v1/nowhere", headers={**api.headers, **POLISH}).json()
    assert nowhere["message"] == "Pod adresem /api/v1/nowhere nie ma ścieżki API."


def test_service_errors_speak_the_users_language(api_for, member):
    AccountFactory(owner=member, external_id="X1")
    api = api_for(member)
    clash = api.post("/accounts", {"name": "Acme", "external_id": "X1"}, headers=POLISH)
    assert clash.status_code == 409
    assert clash.json()["message"] == "external_id: inny rekord (klient) ma już identyfikator zewnętrzny „X1”."
    english = api.post("/accounts", {"name": "Acme", "external_id": "X1"}).json()
    assert english["message"] == "external_id: another account already has external id “X1”."
    missing = api.post("/contacts", {"account_external_id": "NOPE", "email": "a@example.com"}, headers=POLISH)
    assert missing.status_code == 422
    assert missing.json()["field"] == "account_external_id"
    assert "„NOPE”" in missing.json()["message"]
    assert "There is no" not in missing.json()["message"]
