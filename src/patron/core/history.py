"""A record's change history as its users may read it: who changed which fields, when, from what to what.

Every record type keeps its audit trail with django-simple-history. Admins could always read it in the Django admin;
this module serves it to anyone who may see the record (pages and API), newest change first, a keyset page at a
time. Reading only: the history is written by the records' services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from patron.core.models import User
from patron.core.pagination import Page, decode_cursor, encode_cursor
from patron.core.services import Records
from patron.errors import NotFound

#: simple-history's change types, as the pages and the API name them.
KINDS = {"+": "created", "~": "changed", "-": "deleted"}
#: The order of a history page (the history row's own id grows with every change).
ORDER = "-history_id"


@dataclass(frozen=True)
class FieldChange:
    """One field's value before and after a change (before is None for a record's first version).

    ``old`` and ``new`` are the stored values as JSON carries them (a choice's code, a link's id); the
    ``*_display`` texts are what a page shows (a choice's label in the reader's language).
    """

    field: str
    label: str
    old: Any
    new: Any
    old_display: str
    new_display: str


@dataclass(frozen=True)
class Change:
    """One version of a record: when, by whom, why, and which fields it changed."""

    id: int
    at: datetime
    kind: str
    by_id: int | None
    by: str | None
    reason: str
    changes: list[FieldChange]


def has_history(records: Records) -> bool:
    """Tell whether the records' model keeps a change history."""
    return hasattr(records.model, "history")


def record_history(records: Records, user: User, pk: Any, *, cursor: str | None = None, limit: int = 50) -> Page:
    """Return one page of the changes of a record the user may see, newest first (NotFound if they may not)."""
    if not has_history(records):
        raise NotFound(_("%(record)s records keep no change history.") % {"record": records.noun()})
    record = records.get(user, pk)
    history = records.model.history.model  # type: ignore[attr-defined]
    rows = history.objects.filter(id=record.pk).select_related("history_user")
    if cursor:
        before = decode_cursor(cursor, ORDER, history._meta.get_field("history_id"))[1]
        rows = rows.filter(history_id__lt=before)
    # One row more than the page: it tells whether there is a next page and is the page's oldest change's "before".
    versions = list(rows.order_by(ORDER)[: limit + 1])
    fields = _tracked_fields(history)
    page = [_change(new, versions[i + 1] if i + 1 < len(versions) else None, fields) for i, new in enumerate(versions)]
    if len(versions) <= limit:
        return Page(page, None)
    return Page(page[:limit], encode_cursor(ORDER, None, versions[limit - 1].history_id))


def _tracked_fields(history: type[models.Model]) -> list[models.Field]:
    # What a user edits: the record's own editable fields, not the audit bookkeeping or automatic timestamps.
    own = {f.name for f in history.tracked_fields if f.editable}  # type: ignore[attr-defined]
    return [f for f in history._meta.fields if f.name in own]


def _change(new: Any, old: Any | None, fields: list[models.Field]) -> Change:
    kind = KINDS.get(new.history_type, new.history_type)
    if kind == "deleted":
        changed: list[FieldChange] = []
    elif old is None or kind == "created":
        changed = [_field_change(f, None, new) for f in fields if getattr(new, f.attname) not in (None, "")]
    else:
        changed = [_field_change(f, old, new) for f in fields if getattr(new, f.attname) != getattr(old, f.attname)]
    user = new.history_user
    return Change(
        id=new.history_id,
        at=new.history_date,
        kind=kind,
        by_id=new.history_user_id,
        by=(user.get_full_name() or user.username) if user is not None else None,
        reason=new.history_change_reason or "",
        changes=changed,
    )


def _field_change(field: models.Field, old: Any | None, new: Any) -> FieldChange:
    before = None if old is None else _stored(getattr(old, field.attname))
    after = _stored(getattr(new, field.attname))
    return FieldChange(
        field.attname, str(field.verbose_name), before, after, _display(field, before), _display(field, after)
    )


def _stored(value: Any) -> Any:
    """Return a stored value as JSON carries it: ISO text for dates and times, exact text for decimals."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _display(field: models.Field, value: Any) -> str:
    if value is None or value == "":
        return "–"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)
