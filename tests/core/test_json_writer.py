"""Lists and details written by pydantic-core answer exactly what django-ninja would have answered.

The API writes the rows of flat output schemas itself (core.api.JsonWriter), because django-ninja's own
validation costs a third of a list request's CPU; these tests hold the two to the same JSON for every kind.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ninja.responses import NinjaJSONEncoder

from patron.core.api import api, json_writer
from patron.customers.schemas import AccountOut, ContactOut, ProductOut
from patron.engagement.schemas import InteractionOut
from tests.core.kinds import ALL_KINDS
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def ninja_schema(operation_id: str) -> Any:
    """Return the schema django-ninja declares for the 200 answer of an operation."""
    for _, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                if operation.operation_id == operation_id:
                    return operation.response_models[200].model_fields["response"].annotation
    raise LookupError(operation_id)


def ninja_json(schema: Any, obj: Any) -> Any:
    """Return what django-ninja makes of ``obj`` shaped by ``schema``: validated, dumped, JSON-encoded."""
    return json.loads(json.dumps(schema.model_validate(obj, context={}).model_dump(), cls=NinjaJSONEncoder))


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_list_and_detail_are_the_json_django_ninja_would_write(kind, api_for, admin_user, team):
    built = [kind.build(admin_user, team) for _ in range(3)]
    model = type(built[0])
    name = model._meta.model_name
    client = api_for(admin_user)

    listed = client.get(f"/{kind.path}?limit=2")
    assert listed.status_code == 200, listed.content
    assert listed["Content-Type"] == "application/json; charset=utf-8"
    body = listed.json()
    rows = list(model.objects.filter(pk__in=[item["id"] for item in body["items"]]).order_by("-id"))
    assert len(rows) == 2 and body["next_cursor"]
    page = {"items": rows, "next_cursor": body["next_cursor"]}
    assert body == ninja_json(ninja_schema(f"list_{name}"), page)

    one = client.get(f"/{kind.path}/{rows[0].pk}")
    assert one.status_code == 200, one.content
    assert one.json() == ninja_json(ninja_schema(f"get_{name}"), rows[0])


def test_times_keep_django_ninjas_milliseconds_and_text_keeps_its_characters(api_for, admin_user):
    account = AccountFactory(owner=admin_user, name='Zażółć 王氏 "quoted" \\ back')
    contact = ContactFactory(account=account, last_name="Łukasz", email=None)
    type(contact).objects.filter(pk=contact.pk).update(erased_at=datetime(2025, 3, 14, 10, 30, 5, 123456, tzinfo=UTC))

    item = api_for(admin_user).get(f"/contacts/{contact.pk}").json()

    assert item["erased_at"] == "2025-03-14T10:30:05.123Z"
    assert item["account_name"] == 'Zażółć 王氏 "quoted" \\ back'
    assert item["email"] is None and item["last_name"] == "Łukasz"


def test_the_busiest_lists_take_the_fast_path():
    assert all(json_writer(schema) for schema in (AccountOut, ContactOut, InteractionOut, ProductOut))
