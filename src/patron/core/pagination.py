"""Keyset pagination: stable pages over big tables without OFFSET and without an exact COUNT(*)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _

from patron.errors import Invalid


@dataclass
class Page:
    """One page of rows and the cursor that fetches the next one (None on the last page)."""

    items: list[Any]
    next_cursor: str | None


def encode_cursor(order: str, value: Any, pk: int) -> str:
    """Return the opaque cursor of the row with sort ``value`` and id ``pk`` in a list sorted by ``order``."""
    raw = json.dumps([order, None if value is None else str(value), pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: str, field: models.Field) -> tuple[Any, int]:
    """Return the (sort value, id) a cursor of a list sorted by ``order`` stands for, or raise Invalid."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        got_order, value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if got_order != order or not isinstance(pk, int):
            raise ValueError("cursor was made for another ordering")
        return (None if value is None else field.to_python(value)), pk
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise Invalid(_("The cursor is not one this list handed out; start again without it."), field="cursor") from exc


def keyset_page(
    qs: models.QuerySet,
    *,
    order: str = "-id",
    cursor: str | None = None,
    limit: int = 50,
    read: Callable[[models.QuerySet], list[Any]] = list,
) -> Page:
    """Return the page of ``qs`` after ``cursor``, sorted by ``order`` (a field name, ``-`` for descending).

    ``read`` turns the sliced query into the page's rows (default: model instances, as the query makes them).
    """
    descending = order.startswith("-")
    name = order.lstrip("-")
    field = qs.model._meta.get_field("id" if name == "pk" else name)
    name = field.name
    direction = "lt" if descending else "gt"
    if cursor:
        value, pk = decode_cursor(cursor, order, field)
        if name == "id":
            qs = qs.filter(**{f"id__{direction}": pk})
        else:
            qs = qs.filter(Q(**{f"{name}__{direction}": value}) | Q(**{name: value, f"id__{direction}": pk}))
    prefix = "-" if descending else ""
    ordering = [f"{prefix}{name}", f"{prefix}id"] if name != "id" else [f"{prefix}id"]
    rows = read(qs.order_by(*ordering)[: limit + 1])
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    return Page(rows, encode_cursor(order, getattr(last, field.attname), last.pk))
