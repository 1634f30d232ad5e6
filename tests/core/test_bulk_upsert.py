"""NDJSON bulk upserts of the high-volume kinds: all or nothing, idempotent by external_id."""

from __future__ import annotations

import json

import pytest

from patron.customers.models import Order
from patron.engagement.models import Interaction
from patron.feedback.models import SurveyResponse
from tests.factories import AccountFactory, ProductFactory

pytestmark = pytest.mark.django_db

WHEN = "2025-03-14T10:30:00+00:00"
LINES = {
    "orders": lambda i: {
        "external_id": f"O-{i}",
        "account_external_id": "ACME",
        "ordered_at": "2025-03-14",
        "amount": f"{i}.50",
        "channel": "online",
    },
    "interactions": lambda i: {
        "external_id": f"I-{i}",
        "account_external_id": "ACME",
        "channel": "email",
        "occurred_at": WHEN,
        "subject": f"Newsletter {i}",
    },
    "survey-responses": lambda i: {
        "external_id": f"S-{i}",
        "account_external_id": "ACME",
        "stage": "qbr",
        "nps": i % 11,
        "responded_at": WHEN,
    },
}
MODELS = {"orders": Order, "interactions": Interaction, "survey-responses": SurveyResponse}


def ndjson(rows):
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def upsert(api, path, rows, content_type="application/x-ndjson"):
    return api.post(f"/{path}/bulk", ndjson(rows) if isinstance(rows, list) else rows, content_type=content_type)


@pytest.fixture
def acme(member):
    return AccountFactory(owner=member, external_id="ACME")


@pytest.mark.parametrize("path", LINES)
def test_upsert_creates_then_leaves_equal_rows_alone(path, api_for, member, acme):
    rows = [LINES[path](i) for i in range(1, 6)]
    first = upsert(api_for(member), path, rows)
    assert first.status_code == 200, first.json()
    assert first.json() == {"created": 5, "updated": 0, "unchanged": 0}
    stored = MODELS[path].objects.filter(account=acme)
    assert stored.count() == 5
    assert {h.history_user for h in MODELS[path].history.all()} == {member}
    history_rows = MODELS[path].history.count()

    again = upsert(api_for(member), path, rows)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 5}
    assert MODELS[path].history.count() == history_rows


@pytest.mark.parametrize("path", LINES)
def test_upsert_updates_only_the_rows_that_changed(path, api_for, member, acme):
    rows = [LINES[path](i) for i in range(1, 4)]
    upsert(api_for(member), path, rows)
    changed = {"orders": {"channel": "store"}, "interactions": {"subject": "Renamed"}, "survey-responses": {"nps": 10}}
    rows[1] = {**rows[1], **changed[path]}
    response = upsert(api_for(member), path, rows)
    assert response.json() == {"created": 0, "updated": 1, "unchanged": 2}
    record = MODELS[path].objects.get(external_id=rows[1]["external_id"])
    field, value = next(iter(changed[path].items()))
    assert getattr(record, field) == value
    assert record.history.latest().history_type == "~"


@pytest.mark.parametrize("path", LINES)
def test_a_bad_line_fails_the_request_naming_it_and_writes_nothing(path, api_for, member, acme):
    rows = [LINES[path](i) for i in range(1, 6)]
    rows[2] = {**rows[2], "external_id": None}
    response = upsert(api_for(member), path, rows)
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith("Line 3:")
    assert body["details"][0]["row"] == 3
    assert not MODELS[path].objects.exists()
    assert not MODELS[path].history.exists()


@pytest.mark.parametrize("path", LINES)
def test_a_bad_line_after_the_first_chunk_undoes_the_chunks_already_written(path, api_for, member, acme):
    rows = [LINES[path](i) for i in range(1, 1202)]
    rows.append({**LINES[path](9999), "account_external_id": "NO-SUCH-ACCOUNT"})
    response = upsert(api_for(member), path, rows)
    assert response.status_code == 422
    assert response.json()["message"].startswith("Line 1202:")
    assert response.json()["field"] == "account_external_id"
    assert not MODELS[path].objects.exists()


def test_invalid_json_names_its_line(api_for, member, acme):
    body = ndjson([LINES["orders"](1)]) + "{not json\n"
    response = upsert(api_for(member), "orders", body)
    assert response.status_code == 422
    assert response.json()["message"].startswith("Line 2: not valid JSON")
    assert not Order.objects.exists()


def test_blank_lines_are_skipped_and_line_numbers_stay_true(api_for, member, acme):
    body = json.dumps(LINES["orders"](1)) + "\n\n" + json.dumps({**LINES["orders"](2), "ordered_at": "soon"}) + "\n"
    response = upsert(api_for(member), "orders", body)
    assert response.json()["message"].startswith("Line 3: ordered_at")
    assert response.json()["field"] == "ordered_at"


def test_the_same_external_id_twice_in_one_request_is_refused(api_for, member, acme):
    response = upsert(api_for(member), "orders", [LINES["orders"](1), LINES["orders"](2), LINES["orders"](1)])
    assert response.status_code == 422
    assert response.json()["message"] == "Line 3: external_id: “O-1” was already given on line 1."
    assert not Order.objects.exists()


def test_an_account_the_user_cannot_see_is_refused(api_for, member, outsider, acme):
    hidden = AccountFactory(owner=outsider)
    rows = [
        LINES["interactions"](1),
        {**LINES["interactions"](2), "account_external_id": None, "account_id": hidden.pk},
    ]
    response = upsert(api_for(member), "interactions", rows)
    assert response.status_code == 422
    assert response.json()["field"] == "account_id"
    assert response.json()["message"].startswith("Line 2:")


def test_an_external_id_held_by_a_hidden_record_is_a_409(api_for, member, outsider, acme):
    theirs = AccountFactory(owner=outsider, external_id="THEIRS")
    upsert(api_for(outsider), "orders", [{**LINES["orders"](1), "account_external_id": theirs.external_id}])
    response = upsert(api_for(member), "orders", [LINES["orders"](1)])
    assert response.status_code == 409
    assert Order.objects.get(external_id="O-1").account == theirs


def test_ndjson_needs_its_content_type(api_for, member, acme):
    response = upsert(api_for(member), "orders", [LINES["orders"](1)], content_type="application/json")
    assert response.status_code == 422
    assert response.json()["field"] == "Content-Type"


def test_interactions_upserted_by_a_member_are_logged_by_them(api_for, member, acme):
    member.job_function = "sales"
    member.save()
    upsert(api_for(member), "interactions", [LINES["interactions"](1)])
    interaction = Interaction.objects.get()
    assert (interaction.logged_by, interaction.logged_as) == (member, "sales")


def test_orders_upserted_with_lines_cost_the_sum_of_their_lines(api_for, member, acme):
    widget = ProductFactory(external_id="P-WIDGET")
    row = {
        "external_id": "O-9",
        "account_external_id": "ACME",
        "ordered_at": "2025-03-14",
        "lines": [
            {"product_external_id": "P-WIDGET", "quantity": "3", "unit_price": "2.50"},
            {"product_id": widget.pk, "unit_price": "10.00"},
        ],
    }
    assert upsert(api_for(member), "orders", [row]).json()["created"] == 1
    order = Order.objects.get(external_id="O-9")
    assert order.amount == 17.5
    assert sorted(line.amount for line in order.lines.all()) == [7.5, 10]

    assert upsert(api_for(member), "orders", [row]).json() == {"created": 0, "updated": 0, "unchanged": 1}

    row["lines"][1] = {"product_id": widget.pk, "unit_price": "10.00", "quantity": "2"}
    assert upsert(api_for(member), "orders", [row]).json() == {"created": 0, "updated": 1, "unchanged": 0}
    order.refresh_from_db()
    assert order.amount == 27.5
    assert order.lines.count() == 2
