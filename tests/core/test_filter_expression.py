"""A list's filters stand for the same lookups django-ninja builds, without building one for each empty field."""

from __future__ import annotations

import enum
import typing

import pytest
from django.db.models import Q
from ninja import FilterLookup, FilterSchema
from pydantic import ValidationError

import patron.urls  # noqa: F401  (imports every app's API, so every filter schema is defined)
from patron.core.api import _plain_filter_fields, filter_expression


def filter_schemas() -> list[type[FilterSchema]]:
    found, todo = [], list(FilterSchema.__subclasses__())
    while todo:
        schema = todo.pop()
        found.append(schema)
        todo += schema.__subclasses__()
    return sorted({s for s in found if s.__module__.startswith("patron.")}, key=lambda s: s.__qualname__)


def a_value(schema: type[FilterSchema], name: str) -> typing.Any:
    """Return a value the field accepts, tried from a few of each kind."""
    annotation = schema.model_fields[name].annotation
    members = [m.value for arg in typing.get_args(annotation) if isinstance(arg, type) and issubclass(arg, enum.Enum)
               for m in arg]  # fmt: skip
    members += [literal for arg in typing.get_args(annotation) for literal in typing.get_args(arg)]
    for candidate in [*members, 7, "x", True, "2024-05-06T07:08:09Z", "2024-05-06", "1.5"]:
        try:
            return schema.model_validate({name: candidate})
        except ValidationError:
            continue
    raise AssertionError(f"no value found for {schema.__name__}.{name}")


SCHEMAS = filter_schemas()


def test_every_api_filter_schema_is_read_field_by_field():
    assert len(SCHEMAS) >= 10
    assert all(_plain_filter_fields(schema) is not None for schema in SCHEMAS)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_filters_stand_for_what_django_ninja_builds_whichever_are_given(schema):
    assert filter_expression(schema()) == schema().get_filter_expression() == Q()
    filled = {}
    for name in schema.model_fields:
        one = a_value(schema, name)
        assert filter_expression(one) == one.get_filter_expression() != Q()
        filled[name] = getattr(one, name)
    every = schema.model_validate(filled)
    assert filter_expression(every) == every.get_filter_expression()


def test_an_empty_text_filters_nothing_and_a_schema_of_its_own_making_is_left_to_django_ninja():
    class Named(FilterSchema):
        name: str | None = None
        city: typing.Annotated[str | None, FilterLookup("address__city", ignore_none=False)] = None

    assert _plain_filter_fields(Named) is None
    assert filter_expression(Named(name="", city="Oslo")) == Q(address__city="Oslo")
    assert filter_expression(Named(name="Ann")) == Q(name="Ann") & Q(address__city=None)

    class Either(FilterSchema):
        model_config = {"expression_connector": "OR"}  # type: ignore[typeddict-item]
        name: str | None = None
        email: typing.Annotated[str | None, FilterLookup("email__iexact")] = None

    assert filter_expression(Either(name="Ann", email="")) == Q(name="Ann")
    assert filter_expression(Either(name="Ann", email="a@b.c")) == Q(name="Ann") | Q(email__iexact="a@b.c")
