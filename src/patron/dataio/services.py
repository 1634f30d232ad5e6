"""Importing files of records (CSV or XLSX) into any kind Patron keeps: the only place imports write.

One pipeline serves every kind. The file streams in chunks of rows; each chunk is converted cell by cell
(types, lengths, choices and ranges come from the model's fields) and checked for keys repeated within the file
in a reading thread (:class:`Prefetcher`) while the import's thread handles the chunk before; then its
references are resolved with one query per reference column (references found before are remembered), and its
rows matched to stored records by key.
New and changed rows then go through the kind's own ``Records`` like any other write (``prepare`` for derived
fields and domain rules, visibility through ``restrict(user, action)``, ``write_related`` for what hangs off
them, such as a deal's stage history) and are written with their audit history: ``bulk_create_with_history`` /
``bulk_update_with_history``, or on PostgreSQL the same history rows through a staged binary COPY
(:class:`PostgresWriter`). Everything runs inside one savepoint: the first error stops the writing, reading goes
on to collect up to :data:`MAX_ERRORS` row errors, and then nothing is kept but the :class:`ImportRun` saying
why. A row equal to what is stored is left alone, so importing the same file twice changes nothing.

A large import on PostgreSQL builds the table's plain indexes after its rows (:mod:`patron.dataio.indexes`). On
a first load, into a table that held no row once the import locked it, it also looks no row up by key and
builds the unique indexes after the rows: only its own rows can be stored, and a key they repeat is refused
at its row anyway.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import operator
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
from django.core.exceptions import ValidationError
from django.core.validators import DecimalValidator, validate_email
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.db.models.lookups import In
from django.db.models.signals import post_init, pre_init
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from patron.core.models import Role, Team, User
from patron.core.pagination import Page, keyset_page
from patron.core.permissions import Action, visibility_q
from patron.core.services import Draft, Records, snapshot
from patron.dataio import cells
from patron.dataio.cells import CellError, as_text, normal
from patron.dataio.indexes import DeferredIndexes, DuplicateKey, worth_deferring
from patron.dataio.kinds import KINDS, Kind, Ref, get_kind
from patron.dataio.models import ImportRun, ImportStatus
from patron.dataio.presets import Preset, get_preset
from patron.dataio.readers import Table, open_table
from patron.errors import Conflict, Forbidden, Invalid, NotFound, PatronError

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5000
BATCH_SIZE = 1000
UPDATE_BATCH_SIZE = 500
MAX_ERRORS = 100
MAX_WARNINGS = 100
# References found are remembered across chunks up to this many per column (a few MB): a million contacts
# name their hundred thousand accounts again and again.
MAX_CACHED_REFERENCES = 131_072

# Told (rows done, bytes read, bytes in the file or None, stage) after each chunk, with the stage "rows", and once
# more with "indexes" before indexes dropped for a large first load are built again (a minute for a million contacts).
Progress = Callable[[int, int, int | None, str], None]


# Settings of one import, read before any row


def parse_mapping(pairs: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Return ``{column: field}`` from "column=field" strings (an empty field means: ignore that column)."""
    if not pairs:
        return {}
    if isinstance(pairs, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in pairs.items()}
    mapping: dict[str, str] = {}
    for pair in pairs:
        for line in str(pair).splitlines():
            if not line.strip():
                continue
            column, sep, target = line.rpartition("=")
            if not sep or not column.strip():
                raise Invalid(
                    _("“%(pair)s” is not a column mapping; write it as column=field.") % {"pair": line.strip()},
                    field="map",
                )
            mapping[column.strip()] = target.strip()
    return mapping


def check_date_order(date_order: str | None) -> str | None:
    """Return a valid date order ("dmy" or "mdy") or None, or raise Invalid."""
    order = (date_order or "").strip().lower() or None
    if order not in (None, *cells.DATE_ORDERS):
        raise Invalid(
            _("The date order must be dmy or mdy, not “%(order)s”.") % {"order": date_order}, field="date_order"
        )
    return order


def import_user(username: str | None = None) -> User:
    """Return the user a command-line import runs as: the one named, or else the first admin."""
    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise NotFound(_("There is no active user “%(name)s”.") % {"name": username})
        return user
    admin = User.objects.filter(is_active=True).filter(Q(is_superuser=True) | Q(role=Role.ADMIN)).order_by("pk").first()
    if admin is None:
        raise NotFound(_("There is no admin to import as; create one with `patron createsuperuser` or pass --user."))
    return admin


def check_may_import(user: User, kind: Kind) -> None:
    """Refuse an import of a kind the user may not change at all (shared records for members)."""
    if visibility_q(user, kind.model, "change") is None:
        raise Forbidden(_("You may not import %(kind)s: only managers and admins change them.") % {"kind": kind.label})


# Row errors


@dataclass
class Problems:
    """Row errors and warnings met so far, with how many there were beyond those kept."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    warning_count: int = 0

    @property
    def full(self) -> bool:
        """Tell whether enough errors were collected to stop reading."""
        return len(self.errors) >= MAX_ERRORS

    def error(self, row: int | None, column: str, name: str, message: str) -> None:
        """Note a row error (row 1 is the header row, so the first data row is usually row 2)."""
        if not self.full:
            self.errors.append({"row": row, "column": column, "field": name, "message": message})

    def warning(self, row: int | None, column: str, name: str, message: str) -> None:
        """Note something imported differently from the file, which did not stop the import."""
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append({"row": row, "column": column, "field": name, "message": message})

    def merge(self, other: Problems) -> None:
        """Take in the errors and warnings ``other`` met, after those met so far (up to the same limits)."""
        self.errors.extend(other.errors[: max(MAX_ERRORS - len(self.errors), 0)])
        self.warning_count += other.warning_count
        self.warnings.extend(other.warnings[: max(MAX_WARNINGS - len(self.warnings), 0)])

    def as_error(self) -> Invalid:
        """Return the 422 error that reports every row error collected."""
        self.errors.sort(key=lambda e: (e.get("row") is None, e.get("row") or 0))
        first = self.errors[0]
        where = _("Row %(row)s, column “%(column)s”") % first if first.get("column") else _("Row %(row)s") % first
        count = len(self.errors)
        lead = (
            _("Nothing was imported: the file has at least %(count)s errors (reading stopped there).")
            if count >= MAX_ERRORS
            else _("Nothing was imported: the file has %(count)s error(s).")
        ) % {"count": count}
        return Invalid(f"{lead} {where}: {first['message']}", field=first.get("column") or None, details=self.errors)


class SeenKeys:
    """The key values met so far in a file, kept as 64-bit hashes beside their row numbers.

    A million keys take 12 MB of arrays instead of a set of a million strings, so memory stays flat while the
    file streams. Two different keys sharing a 64-bit hash would be reported as a repeat; for a million keys
    the odds of that are about one in thirty million.
    """

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, values: Sequence[str], rows: Sequence[int]) -> list[int | None]:
        """Remember ``values`` (met on ``rows``); return for each the row it was met on before, or None."""
        if not values:
            return []
        count = len(values)
        hashes = np.fromiter(map(hash, values), dtype=np.int64, count=count)
        # Needles in order make each binary search start where the last one ended: several times quicker. The
        # sort is stable, so of equal values the first met comes first.
        order = np.argsort(hashes, kind="stable")
        needles = hashes[order]
        numbers = np.asarray(rows, dtype=np.int64)
        earlier = np.full(count, -1, dtype=np.int64)  # by position in ``values``; -1: not met before
        starts = np.empty(count, dtype=bool)
        starts[0] = True
        np.not_equal(needles[1:], needles[:-1], out=starts[1:])
        if not starts.all():  # a value repeated within these: each repeat points at the first
            first = np.maximum.accumulate(np.where(starts, np.arange(count), 0))
            repeats = ~starts
            earlier[order[repeats]] = numbers[order[first[repeats]]]
        for run_hashes, run_rows in self.runs:
            at = np.minimum(np.searchsorted(run_hashes, needles), len(run_hashes) - 1)
            hit = run_hashes[at] == needles
            if hit.any():
                # A value sits in one run at most (a run keeps only values not met before).
                where, met = order[hit], run_rows[at[hit]]
                new = earlier[where] < 0
                earlier[where[new]] = met[new]
        kept = order[earlier[order] < 0]
        if len(kept):  # an empty run would have no last value to clip the searches to
            self.runs.append((hashes[kept], numbers[kept].astype(np.int32)))
        # Merge runs of similar size (as a log-structured merge does) so a lookup searches only a few sorted runs;
        # inserting the newer run into the older one keeps the result sorted with no sort and no index array.
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= len(self.runs[-1][0]):
            (h2, r2), (h1, r1) = self.runs.pop(), self.runs.pop()
            at = np.searchsorted(h1, h2)
            self.runs.append((np.insert(h1, at, h2), np.insert(r1, at, r2)))
        if len(kept) == count:  # nothing met before: the common case, answered without a loop
            return [None] * count
        return [None if e < 0 else e for e in earlier.tolist()]


# Columns


SKIP = object()  # an empty cell leaves the field as it is (or at its default on a new record)
REQUIRED = object()  # an empty cell is an error


@dataclass
class Column:
    """One column of the file bound to the field it fills, with the function that reads its cells."""

    index: int
    header: str
    name: str
    attname: str
    parse: Callable[[Any], Any]
    blank: Any
    ref: Ref | None = None
    fallbacks: tuple[int, ...] = ()  # further columns read, in order, where this one is empty


def _choices(model_field: models.Field, extra: dict[str, str]) -> cells.Choices:
    """Return a choice reader that knows the stored values and labels in English and in the user's language."""
    with translation.override("en"):
        english = [(value, str(label)) for value, label in model_field.choices]  # type: ignore[union-attr]
    reader = cells.Choices(english, extra)
    for value, label in model_field.choices:  # type: ignore[union-attr]
        reader.lookup.setdefault(normal(str(label)), str(value))
    return reader


def _size_band(choices: cells.Choices) -> Callable[[Any], str]:
    """Read a size band, or a number of employees turned into its band (HubSpot and Salesforce give numbers)."""
    bands = ((9, "1-9"), (49, "10-49"), (249, "50-249"), (999, "250-999"))

    def parse(value: Any) -> str:
        try:
            return choices(value)
        except CellError:
            try:
                employees = cells.parse_int(value)
            except CellError:
                raise CellError(
                    _("“%(value)s” is not a size band (%(bands)s) or a number of employees.")
                    % {"value": as_text(value), "bands": ", ".join(choices.values)}
                ) from None
            return next((band for top, band in bands if employees <= top), "1000+")

    return parse


def _text(max_length: int | None) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = value.strip() if type(value) is str else as_text(value)
        if max_length is not None and len(text) > max_length:
            raise CellError(
                _("The text is %(length)s characters long; at most %(max)s fit.")
                % {"length": len(text), "max": max_length}
            )
        return text

    return parse


# Plain addresses (name.surname+tag@mail.example.com) that Django's validator accepts too; anything else goes
# through the validator itself, so the rule stays Django's while the common case costs one regex.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def _email(max_length: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = as_text(value)
        if len(text) > max_length:
            raise CellError(_("The e-mail address is longer than %(max)s characters.") % {"max": max_length})
        if _PLAIN_EMAIL.fullmatch(text):
            return text
        try:
            validate_email(text)
        except ValidationError:
            raise CellError(_("“%(value)s” is not a valid e-mail address.") % {"value": text}) from None
        return text

    return parse


def _validated(parse: Callable[[Any], Any], validators: list[Callable[[Any], None]]) -> Callable[[Any], Any]:
    """Run the model field's own validators (ranges such as NPS 0 to 10) after reading the cell."""
    if not validators:
        return parse

    def checked(value: Any) -> Any:
        result = parse(value)
        for validator in validators:
            try:
                validator(result)
            except ValidationError as exc:
                raise CellError(" ".join(exc.messages)) from None
        return result

    return checked


def _with_words(parse: Callable[[Any], Any], words: dict[str, str]) -> Callable[[Any], Any]:
    """Translate a preset's words (another CRM's stage names) before reading the cell."""
    if not words:
        return parse

    def translated(value: Any) -> Any:
        word = words.get(normal(as_text(value)))
        return parse(value if word is None else word)

    return translated


def cell_parser(kind: Kind, name: str, date_order: str | None, preset: Preset | None) -> Callable[[Any], Any]:
    """Return the function that reads a cell for one field, from the field's definition on the model."""
    model_field = kind.model_field(name)
    words = preset.words_for(kind.name, name) if preset else {}
    if name in kind.refs:
        ref_parse: Callable[[Any], Any] = as_text
        if preset and name in preset.first_of_list:

            def ref_parse(value: Any) -> str:
                return as_text(value).replace(",", ";").split(";", 1)[0].strip()

        return _with_words(ref_parse, words)
    validators: list[Callable[[Any], None]] = []
    parse: Callable[[Any], Any]
    if name == "country":
        parse = cells.parse_country
    elif name == "currency":
        parse = cells.parse_currency
    elif model_field.choices:
        choices = _choices(model_field, kind.choice_words.get(name, {}))
        parse = _size_band(choices) if name == "size_band" else choices
    elif isinstance(model_field, models.EmailField):
        parse = _email(model_field.max_length or 254)
    elif isinstance(model_field, models.CharField | models.TextField):
        parse = _text(model_field.max_length)
    elif isinstance(model_field, models.DecimalField):
        digits, places = model_field.max_digits or 20, model_field.decimal_places or 0

        def parse(value: Any) -> Decimal:
            return cells.parse_amount(value, digits=digits, places=places)

        validators = [v for v in model_field.validators if not isinstance(v, DecimalValidator)]
    elif isinstance(model_field, models.IntegerField):
        parse = cells.parse_int
        validators = list(model_field.validators)
    elif isinstance(model_field, models.BooleanField):
        parse = cells.parse_bool
    elif isinstance(model_field, models.DateTimeField):

        def parse(value: Any) -> dt.datetime:
            return cells.parse_datetime(value, date_order)

    elif isinstance(model_field, models.DateField):

        def parse(value: Any) -> dt.date:
            return cells.parse_date(value, date_order)

    else:  # pragma: no cover - every importable field is one of the above
        raise TypeError(f"{kind.model.__name__}.{name} has a type imports cannot read")
    return _with_words(_validated(parse, validators), words)


def blank_rule(kind: Kind, name: str) -> Any:
    """Return what an empty cell means for a field: SKIP, REQUIRED, or the empty value to store ("" or None)."""
    model_field = kind.model_field(name)
    if name == kind.parent or (name in kind.keys and len(kind.keys) == 1):
        return REQUIRED
    ref = kind.refs.get(name)
    if ref is not None and ref.is_user:
        return SKIP  # an empty owner keeps the stored one (a new account's owner is the importing user)
    if name in kind.keys or model_field.blank:
        return None if model_field.null else ""
    if model_field.has_default():
        return SKIP
    return REQUIRED


def _field_names(kind: Kind) -> dict[str, str]:
    """Return every name a column may carry for each field, folded: the field, its label, aliases, ref forms."""
    names: dict[str, str] = {}
    for name in kind.fields:
        model_field = kind.model_field(name)
        names.setdefault(normal(name), name)
        with translation.override("en"):
            names.setdefault(normal(str(model_field.verbose_name)), name)
        names.setdefault(normal(str(model_field.verbose_name)), name)
        ref = kind.refs.get(name)
        if ref is not None:
            forms = ["email", "username"] if ref.is_user else ["name"] if ref.is_team else [ref.lookup]
            if ref.by_email:
                forms.append("email")
            for form in forms:
                names.setdefault(normal(f"{name}_{form}"), name)
    for alias, name in kind.aliases.items():
        names.setdefault(normal(alias), name)
    return names


@dataclass
class Plan:
    """Which column fills which field, and which columns the import leaves aside."""

    columns: list[Column]
    ignored: list[str]

    header: Sequence[str] = ()

    @property
    def mapping(self) -> dict[str, str]:
        """Return ``{column: field}`` for the run record, with ignored columns mapped to ""."""
        used = {c.header: c.name for c in self.columns}
        used.update({self.header[i]: c.name for c in self.columns for i in c.fallbacks})
        return {**used, **dict.fromkeys(self.ignored, "")}


def plan_columns(
    kind: Kind,
    header: Sequence[str],
    *,
    preset: Preset | None = None,
    mapping: Mapping[str, str] | None = None,
    date_order: str | None = None,
    header_row: int = 1,
) -> Plan:
    """Match the file's columns to fields (explicit mapping, then preset, then names) and check none is missing."""
    by_name: dict[str, int] = {}
    for index, title in enumerate(header):
        if title:
            by_name.setdefault(title, index)
            by_name.setdefault(normal(title), index)
    names = _field_names(kind)
    chosen: dict[str, int] = {}
    used: set[int] = set()
    refused: set[int] = set()

    def find(column: str) -> int | None:
        index = by_name.get(column.strip())
        return by_name.get(normal(column)) if index is None else index

    for column, target in (mapping or {}).items():
        mapped = find(column)
        if mapped is None:
            raise Invalid(
                _("The mapping names the column “%(column)s”, which the file does not have. Its columns: %(columns)s.")
                % {"column": column, "columns": ", ".join(h for h in header if h)},
                field="map",
                details=[{"row": header_row, "column": column, "field": target, "message": "no such column"}],
            )
        if not target or target == "-":
            refused.add(mapped)
            continue
        name = names.get(normal(target))
        if name is None:
            raise Invalid(
                _("“%(field)s” is not a field of %(kind)s; choose one of %(fields)s.")
                % {"field": target, "kind": kind.label, "fields": ", ".join(kind.fields)},
                field="map",
                details=[{"row": header_row, "column": column, "field": target, "message": "no such field"}],
            )
        if name in chosen and chosen[name] != mapped:
            raise Invalid(
                _("Two columns are mapped to %(field)s; map only one.") % {"field": name},
                field="map",
                details=[{"row": header_row, "column": column, "field": name, "message": "mapped twice"}],
            )
        chosen[name] = mapped
        used.add(mapped)
    preset_columns = preset.columns_for(kind.name) if preset else []
    fallbacks: dict[str, list[int]] = {}
    for column, name in preset_columns:
        found = find(column)
        if found is None or found in used or found in refused:
            continue
        index = found
        if name not in chosen:
            chosen[name] = index
            fallbacks[name] = []
        elif name in fallbacks:  # a second export column for the same field: read where the first is empty
            fallbacks[name].append(index)
        else:
            continue
        used.add(index)
    for index, title in enumerate(header):
        if not title or index in used or index in refused:
            continue
        name = names.get(normal(title))
        if name is not None and name not in chosen:
            chosen[name] = index
            used.add(index)
    _check_required(kind, chosen, preset_columns, header_row)
    columns = [
        Column(
            index=index,
            header=header[index],
            name=name,
            attname=kind.model_field(name).attname,
            parse=cell_parser(kind, name, date_order, preset),
            blank=blank_rule(kind, name),
            ref=kind.refs.get(name),
            fallbacks=tuple(fallbacks.get(name, ())),
        )
        for name, index in sorted(chosen.items(), key=lambda item: item[1])
    ]
    ignored = [h for i, h in enumerate(header) if h and i not in used]
    return Plan(columns, ignored, header)


def _check_required(kind: Kind, chosen: Mapping[str, int], preset_columns: list[tuple[str, str]], row: int) -> None:
    """Raise Invalid naming every required column the file lacks, before any row is read."""
    expected: dict[str, str] = {}
    for column, name in preset_columns:
        expected.setdefault(name, column)
    missing = []
    if not any(key in chosen for key in kind.keys):
        missing.append(" / ".join(expected.get(k, k) for k in kind.keys))
    for name in kind.fields:
        if name in chosen or name in kind.keys:
            continue
        if blank_rule(kind, name) is REQUIRED:
            missing.append(expected.get(name, name))
    if missing:
        message = _("The file lacks required column(s): %(columns)s.") % {"columns": ", ".join(missing)}
        raise Invalid(
            message,
            field=missing[0],
            details=[{"row": row, "column": m, "field": m, "message": _("This column is required.")} for m in missing],
        )


# Looking up what rows point at


_SEPARATOR = "\x1f"  # the ASCII unit separator


def value_set_sql(values: list[Any], sql_type: str) -> tuple[str, Any]:
    """Return ``(SQL, parameter)`` for a subquery yielding ``values`` as ``sql_type``, sent as one parameter.

    Text goes as one string that PostgreSQL splits (``string_to_array``): psycopg dumps a list parameter
    element by element in Python, ~2 µs each, and each chunk of an import sends a few lists of 5,000 keys.
    Values that are not all non-empty strings free of the separator go as an array, as before.
    """
    if values and sql_type in ("varchar", "text") and all(type(v) is str for v in values):
        joined = _SEPARATOR.join(values)
        if joined.count(_SEPARATOR) == len(values) - 1 and min(map(len, values)) > 0:
            return f"SELECT unnest(string_to_array(%s, chr(31)))::{sql_type}", joined
    return f"SELECT unnest(%s::{sql_type}[])", values


def one_of(model: type[models.Model], name: str, values: Iterable[Any]) -> Q:
    """Return a filter keeping rows whose ``name`` is one of ``values``.

    On PostgreSQL it is ``column IN (SELECT unnest(...))`` with the values as one parameter (see
    :func:`value_set_sql`): a chunk's 5,000 keys cost one parameter instead of 5,000 placeholders to build, send
    and plan, and the planner probes the index for each (where ``= ANY`` of 5,000 random keys makes it scan the
    whole table).
    """
    values = list(values)
    if connection.vendor != "postgresql":
        return Q(**{f"{name}__in": values})
    qn = connection.ops.quote_name
    model_field = cast(models.Field, model._meta.get_field(name))
    column = f"{qn(model._meta.db_table)}.{qn(model_field.column or name)}"
    array_type = re.sub(r"\(.*\)", "", model_field.rel_db_type(connection) or "text")
    subquery, parameter = value_set_sql(values, array_type)
    return Q(RawSQL(f"{column} IN ({subquery})", [parameter], output_field=models.BooleanField()))


class People:
    """Active users by e-mail, username and full name, for owner and "logged by" columns."""

    def __init__(self) -> None:
        self.by_word: dict[str, int] = {}
        names: dict[str, list[int]] = {}
        for pk, username, email, first, last in User.objects.filter(is_active=True).values_list(
            "pk", "username", "email", "first_name", "last_name"
        ):
            self.by_word.setdefault(username.lower(), pk)
            if email:
                self.by_word.setdefault(email.lower(), pk)
            full = f"{first} {last}".strip().lower()
            if full:
                names.setdefault(full, []).append(pk)
        for full, pks in names.items():
            if len(pks) == 1:
                self.by_word.setdefault(full, pks[0])

    def find(self, text: str) -> int | None:
        """Return the user a cell names, or None."""
        return self.by_word.get(text.strip().lower())


class ContactEmails:
    """Finds contacts by e-mail regardless of case, through the unique index on ``Lower(email)``."""

    def __init__(self, model: type[models.Model]):
        self.model = model

    def q(self, emails: Iterable[str]) -> Q:
        """Return a filter for the contacts whose e-mail is one of ``emails`` (lower-cased), in any case.

        On PostgreSQL the addresses go as one parameter (see :func:`one_of`).
        """
        lowered = list(emails)
        if connection.vendor != "postgresql":
            return Q(In(Lower("email"), lowered))
        qn = connection.ops.quote_name
        email = cast(models.Field, self.model._meta.get_field("email"))
        column = f"{qn(self.model._meta.db_table)}.{qn(email.column or 'email')}"
        subquery, parameter = value_set_sql(lowered, "text")
        return Q(RawSQL(f"LOWER({column}) IN ({subquery})", [parameter], output_field=models.BooleanField()))


class Stopwatch:
    """Seconds spent in each stage of an import, and of them this thread's CPU seconds (the rest is waiting on
    the database or the other thread), logged at the end (``patron.dataio`` logger, INFO)."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self.last = time.perf_counter()
        self.last_cpu = time.thread_time()

    def lap(self, stage: str) -> None:
        """Add the time since the previous lap to ``stage``."""
        now, cpu = time.perf_counter(), time.thread_time()
        spent = self.seconds.setdefault(stage, [0.0, 0.0])
        spent[0] += now - self.last
        spent[1] += cpu - self.last_cpu
        self.last, self.last_cpu = now, cpu

    def skip(self) -> None:
        """Leave the time since the previous lap out of every stage (time spent waiting on the other thread)."""
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()

    def __str__(self) -> str:
        return ", ".join(f"{stage} {wall:.1f} (CPU {cpu:.1f})" for stage, (wall, cpu) in self.seconds.items())


@dataclass(slots=True)
class Row:
    """A converted row: its number, its field values, its keys as matched, and its reference cells."""

    number: int
    values: dict[str, Any]
    refs: dict[str, str]
    failed: bool = False
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class Chunk:
    """Rows of the file converted and checked for repeated keys, with the problems met doing so."""

    rows: list[Row]
    problems: Problems
    position: int  # how far reading had got (see Table.position)


_END = object()


class Prefetcher:
    """Reads, converts and checks the next chunk of rows in a thread while the import's thread handles the last.

    Reading, converting cells and spotting keys repeated within the file need no database; in their own thread
    they run while the import's thread waits on the database (which releases the GIL), rather than between its
    queries. The thread starts a chunk only once the import's thread has taken the one before, so at most two
    chunks are held at a time and memory stays flat whatever the file's size.
    """

    def __init__(self, produce: Callable[[], Iterator[Chunk]]):
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._room = threading.Semaphore(1)
        self._stop = threading.Event()
        # The reading thread reports row errors in the language of the request or command that started it.
        self._thread = threading.Thread(
            target=self._run, args=(produce, translation.get_language()), name="patron-import-reader", daemon=True
        )
        self._thread.start()

    def _run(self, produce: Callable[[], Iterator[Chunk]], language: str | None) -> None:
        try:
            with translation.override(language):
                chunks = produce()
                while self._wait_for_room():
                    chunk = next(chunks, None)
                    if chunk is None:
                        break
                    self._queue.put(chunk)
        except BaseException as exc:  # handed to the import's thread, which raises it
            self._queue.put(exc)
            return
        self._queue.put(_END)

    def _wait_for_room(self) -> bool:
        while not self._stop.is_set():
            if self._room.acquire(timeout=0.1):
                return True
        return False

    def __iter__(self) -> Iterator[Chunk]:
        while (item := self._queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            self._room.release()
            yield item

    def close(self) -> None:
        """Stop reading and wait for the thread to end (before anyone else touches the file)."""
        self._stop.set()
        self._thread.join()


# What the cyclic garbage collector's thresholds are raised to while imports run (see collecting_less).
IMPORT_GC_THRESHOLD = (50_000, 20, 100)
_gc_lock = threading.Lock()
_gc_imports = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def collecting_less() -> Iterator[None]:
    """Run the cyclic garbage collector less often while an import runs, then as before.

    An import allocates millions of small objects that live for one chunk and are freed by reference
    counting; at the default thresholds the collector still walks them every 700 allocations and every
    live Django object again and again: a quarter of the importer's CPU time (bench/import_contacts.py).
    Cycles made meanwhile are still collected, just later. The setting is the process's, so concurrent
    imports share it and the last to finish restores it.
    """
    global _gc_imports, _gc_saved
    with _gc_lock:
        if _gc_imports == 0:
            _gc_saved = cast(tuple[int, int, int], gc.get_threshold())
            gc.set_threshold(*(max(a, b) for a, b in zip(_gc_saved, IMPORT_GC_THRESHOLD, strict=True)))
        _gc_imports += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_imports -= 1
            if _gc_imports == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)


class Importer:
    """Runs one import: reads the table chunk by chunk, validates, matches and writes."""

    def __init__(
        self,
        user: User,
        kind: Kind,
        table: Table,
        plan: Plan,
        *,
        run: ImportRun,
        dry_run: bool = False,
        progress: Progress | None = None,
    ):
        self.user = user
        self.kind = kind
        self.model = kind.model
        self.table = table
        self.plan = plan
        self.run = run
        self.dry_run = dry_run
        self.progress = progress
        self.problems = Problems()
        self.records: Records = kind.records
        self.seen = {key: SeenKeys() for key in kind.keys}
        self.columns_by_name = {c.name: c for c in plan.columns}
        self.hot_columns = [(c.index, c.parse, c.attname, c.blank, c.ref is not None, c) for c in plan.columns]
        # The parent (account) is resolved first: a contact column is checked against the row's account.
        self.ref_columns = sorted((c for c in plan.columns if c.ref is not None), key=lambda c: c.name != kind.parent)
        self.people: People | None = None
        self.teams: dict[str, int] | None = None
        self.found_references: dict[str, dict[str, tuple[int, int | None]]] = {}
        self.emails = ContactEmails(kind.model) if "email" in kind.casefold_keys else None
        self.contact_emails: ContactEmails | None = None
        self.changeable_all = visibility_q(user, kind.model, "change") == Q()
        self.reason = _("Import %(run)s: %(file)s") % {"run": run.pk, "file": run.file_name or "-"}
        self.rows = self.created = self.updated = self.unchanged = 0
        self.now = timezone.now()
        self.attnames = [f.attname for f in kind.model._meta.concrete_fields]
        # What a stored record is compared on: its id, its keys, and the fields the file (or ``complete``) fills.
        self.compared = list(dict.fromkeys(["id", *kind.keys, *(c.attname for c in plan.columns), *kind.derived]))
        self.defaults = {f.attname: f.get_default() for f in kind.model._meta.concrete_fields}
        self.init_signals = pre_init.has_listeners(kind.model) or post_init.has_listeners(kind.model)
        self.has_clean = kind.model.clean is not models.Model.clean
        self.clock = Stopwatch()
        self.reading_clock = Stopwatch()
        writer = PostgresWriter if connection.vendor == "postgresql" else OrmWriter
        self.writer = writer(kind.model, user=user, reason=self.reason, now=self.now)
        # Indexes built after the import instead of row by row, for large imports on PostgreSQL (decided at the
        # first write, from how much of the file the first chunk was: see _defer_indexes).
        self.deferred = DeferredIndexes() if connection.vendor == "postgresql" else None
        self.deciding = True
        # Set once the table is known to have held no row when this import locked it (a first load, see
        # _defer_indexes): from then on rows are not looked up by key, since none could be found.
        self.first_load = False

    # Driving

    def execute(self) -> None:
        """Import every row, or raise Invalid with the row errors (the caller's savepoint then undoes the writes)."""
        with collecting_less():
            self._execute()

    def _execute(self) -> None:
        reader = Prefetcher(self._chunks)
        position = 0
        try:
            for chunk in reader:
                self.clock.lap("waiting for rows")
                self._chunk(chunk)
                position = chunk.position
                if self.progress:
                    self.progress(self.rows, position, self.table.total, "rows")
                if self.problems.full:
                    break
        except Invalid as exc:
            # The file cannot be read on (a byte that is not UTF-8, broken CSV quoting): report it after the
            # row errors met before it, if any.
            if not self.problems.errors:
                raise
            self.problems.errors.extend(exc.details)
        finally:
            reader.close()
        if self.problems.errors:
            raise self.problems.as_error()
        self.writer.close()
        if self.deferred is not None:
            if self.progress and self.deferred.pending:
                self.progress(self.rows, position, self.table.total, "indexes")
            self.clock.skip()
            try:
                self.deferred.restore()
            except DuplicateKey as exc:
                raise self._duplicate_key_error(exc) from None
            self.clock.lap("indexes")
        logger.info(
            "Import %s of %s rows%s, seconds by stage: %s (reading thread); %s",
            self.run.pk,
            self.rows,
            " (a first load: no lookups by key, unique indexes built after the rows)" if self.first_load else "",
            self.reading_clock,
            self.clock,
        )

    def _chunks(self) -> Iterator[Chunk]:
        """Yield the file's rows chunk by chunk, converted and checked for keys repeated in the file."""
        rows = self.table.rows()
        clock = self.reading_clock
        clock.skip()
        while raw := list(islice(rows, CHUNK_ROWS)):
            clock.lap("read")
            problems = Problems()
            converted = [self._convert(number, row_cells, problems) for number, row_cells in raw]
            clock.lap("convert")
            # Rows with a bad cell still go through the key and reference checks, so one pass reports all of a
            # row's problems; they are left out from matching on.
            self._check_repeated_keys(converted, problems)
            clock.lap("repeated keys")
            yield Chunk(converted, problems, self.table.position)
            clock.skip()

    def _chunk(self, chunk: Chunk) -> None:
        rows = chunk.rows
        self.rows += len(rows)
        self.problems.merge(chunk.problems)
        clock = self.clock
        self._resolve_references(rows)
        clock.lap("references")
        writing = self._match([row for row in rows if not row.failed])
        clock.lap("match")
        if self.problems.errors or self.dry_run:
            return
        if self.deciding and writing:
            self._defer_indexes(len(writing), chunk.position)
            clock.lap("indexes")
        self._write(writing)
        clock.lap("write")

    def _defer_indexes(self, writing: int, position: int) -> None:
        """Decide, once, before the first write, whether to build the plain indexes of the table and of its
        history table after the import rather than row by row (PostgreSQL; see :mod:`patron.dataio.indexes`).

        The rows the import will write are estimated from the first chunk: the share of its rows written and
        how much of the file it was. A table loses its plain indexes only when it holds at most half as many rows
        (:func:`worth_deferring`); the rest of the import then holds the table's ACCESS EXCLUSIVE lock.

        If the kind's table held no row once locked, this is a first load: the rest of the import looks up no
        stored record by key (see :meth:`_existing`), and the table's unique indexes are built at the end too,
        unless a reference column names records of the kind being imported (those are looked up by key).
        """
        self.deciding = False
        total = self.table.total
        if self.deferred is None or not total or not position:
            return
        expected = writing * total // position
        table = self.model._meta.db_table
        history = self.model.history.model  # type: ignore[attr-defined]
        looked_up = any(c.ref is not None and c.ref.model is self.model for c in self.ref_columns)
        if worth_deferring(table, expected) and self.deferred.drop(table, unique=not looked_up):
            self.first_load = table in self.deferred.empty
        if worth_deferring(history._meta.db_table, expected):
            self.deferred.drop(history._meta.db_table)

    def _duplicate_key_error(self, exc: DuplicateKey) -> Invalid:
        """Return the error for a unique index that could not be built again after a first load.

        Keys repeated in the file are refused at their rows before anything is written; this is the database
        finding two rows the same that that check told apart (its idea of lower case is not Python's for a
        few letters), or a unique field that is not a key. Nothing is kept.
        """
        # The columns the index covers: the identifiers from its first parenthesis on ("UNIQUE (external_id)",
        # "... USING btree (lower((email)::text))"), quoted or not.
        definition = exc.index.definition
        words = {w.strip('"') for w in re.findall(r'"[^"]+"|\w+', definition[definition.find("(") :])}
        names = [f.name for f in self.model._meta.concrete_fields if f.column in words]
        name = next((n for n in names if n in self.columns_by_name), names[0] if names else "")
        column = self._header_of(name) if name else ""
        message = _(
            "Nothing was imported: two rows hold the same %(column)s, which must be unique (the database says: "
            "%(detail)s)."
        ) % {"column": column or exc.index.name, "detail": exc.detail}
        return Invalid(
            message, field=column or None, details=[{"row": None, "column": column, "field": name, "message": message}]
        )

    # Converting cells

    def _convert(self, number: int, row_cells: Sequence[Any], problems: Problems) -> Row:
        values: dict[str, Any] = {}
        refs: dict[str, str] = {}
        failed = False
        width = len(row_cells)
        # The hot loop of an import: a million rows of ten columns pass here, so it reads plain tuples.
        for index, parse, attname, blank, is_ref, column in self.hot_columns:
            raw = row_cells[index] if index < width else None
            if raw is None or raw == "" or (type(raw) is str and raw.isspace()):
                raw = self._fallback(row_cells, column.fallbacks) if column.fallbacks else None
            if raw is None:
                if blank is SKIP:
                    continue
                if blank is REQUIRED:
                    problems.error(number, column.header, column.name, _("This cell is empty; it is required."))
                    failed = True
                else:
                    values[attname] = None if is_ref else blank
                continue
            try:
                value = parse(raw)
            except CellError as exc:
                problems.error(number, column.header, column.name, str(exc))
                failed = True
                continue
            if not is_ref:
                if value != "" or blank is not SKIP:
                    values[attname] = value
            elif value:
                refs[column.name] = value
            elif blank is REQUIRED:
                problems.error(number, column.header, column.name, _("This cell is empty; it is required."))
                failed = True
            else:
                values[attname] = None
        keys = {}
        for key in self.kind.keys:
            value = values.get(key)
            if value:
                keys[key] = value.lower() if key in self.kind.casefold_keys else value
        if not failed and not keys:
            names = " / ".join(self._header_of(key) for key in self.kind.keys)
            problems.error(
                number, names, self.kind.keys[0], _("The row needs a value in %(columns)s.") % {"columns": names}
            )
            failed = True
        if not failed and self.kind.complete is not None:
            self.kind.complete(values)
        return Row(number, values, refs, failed, keys)

    @staticmethod
    def _fallback(row_cells: Sequence[Any], fallbacks: tuple[int, ...]) -> Any:
        """Return the first non-empty cell among a column's fallbacks, or None."""
        for index in fallbacks:
            raw = row_cells[index] if index < len(row_cells) else None
            if not (raw is None or raw == "" or (type(raw) is str and raw.isspace())):
                return raw
        return None

    def _header_of(self, name: str) -> str:
        column = self.columns_by_name.get(name)
        return column.header if column else name

    def _check_repeated_keys(self, rows: list[Row], problems: Problems) -> None:
        """Refuse a key that appears on two rows of the file: which of them should win is not for us to guess."""
        for key in self.kind.keys:
            having = [(row, value) for row in rows if (value := row.keys.get(key)) is not None]
            earlier = self.seen[key].add([v for _r, v in having], [r.number for r, _v in having])
            if earlier.count(None) == len(earlier):
                continue
            for (row, _value), first in zip(having, earlier, strict=True):
                if first is not None:
                    row.failed = True
                    problems.error(
                        row.number,
                        self._header_of(key),
                        key,
                        _("“%(value)s” appears twice in the file: also on row %(first)s.")
                        % {"value": row.values[key], "first": first},
                    )

    # References

    @staticmethod
    def _ref_key(ref: Ref, text: str) -> str:
        """Return how a reference cell is matched: teams and e-mail addresses regardless of case."""
        return text.lower() if ref.is_team or (ref.by_email and "@" in text) else text

    def _resolve_references(self, rows: list[Row]) -> None:
        for column in self.ref_columns:
            ref = column.ref
            assert ref is not None
            if ref.is_user:
                self._resolve_people(column, rows)
                continue
            name = column.name
            # Most references (an account's external id) are matched as written: no call per row for those.
            folds = ref.is_team or ref.by_email
            texts = [row.refs[name] for row in rows if name in row.refs]
            wanted = {self._ref_key(ref, t) for t in texts} if folds else set(texts)
            if not wanted:
                continue
            found = self._teams(wanted) if ref.is_team else self._cached_records_by(column, ref, wanted)
            missing = wanted - found.keys()
            reasons = self._why_missing(column, ref, missing) if missing else {}
            for row in rows:
                text = row.refs.get(column.name)
                if text is None:
                    continue
                key = self._ref_key(ref, text) if folds else text
                if key not in found:
                    row.failed = True
                    self.problems.error(row.number, column.header, column.name, reasons[key])
                    continue
                pk, account_id = found[key]
                if account_id is not None and row.values.get("account_id") not in (None, account_id):
                    row.failed = True
                    self.problems.error(
                        row.number,
                        column.header,
                        column.name,
                        _("Contact “%(value)s” belongs to another account.") % {"value": text},
                    )
                    continue
                row.values[column.attname] = pk

    def _resolve_people(self, column: Column, rows: list[Row]) -> None:
        if self.people is None:
            self.people = People()
        for row in rows:
            text = row.refs.get(column.name)
            if text is None:
                continue
            pk = self.people.find(text)
            if pk is None:
                self.problems.warning(
                    row.number,
                    column.header,
                    column.name,
                    _(
                        "No Patron user is “%(value)s”; the field was left as it was (or at its default on a new record)."
                    )
                    % {"value": text},
                )
            else:
                row.values[column.attname] = pk

    def _teams(self, wanted: set[str]) -> dict[str, tuple[int, int | None]]:
        if self.teams is None:
            self.teams = {name.lower(): pk for pk, name in Team.objects.values_list("pk", "name")}
        return {name: (self.teams[name], None) for name in wanted if name in self.teams}

    def _cached_records_by(self, column: Column, ref: Ref, wanted: set[str]) -> dict[str, tuple[int, int | None]]:
        """Return :meth:`_records_by`, asking the database only for the values not found in earlier chunks.

        Records of the kind being imported are always asked for again, since the import itself may change them.
        """
        if ref.model is self.model:
            return self._records_by(column, ref, wanted)
        cache = self.found_references.setdefault(column.name, {})
        found = {value: cache[value] for value in wanted if value in cache}
        if len(found) < len(wanted):
            fresh = self._records_by(column, ref, wanted - found.keys())
            if len(cache) + len(fresh) > MAX_CACHED_REFERENCES:
                cache.clear()
            cache.update(fresh)
            found.update(fresh)
        return found

    def _records_by(self, column: Column, ref: Ref, wanted: set[str]) -> dict[str, tuple[int, int | None]]:
        """Return ``{matched cell: (id, account id to agree with, or None)}`` for records the user may use."""
        assert ref.model is not None
        action = "change" if column.name == self.kind.parent else "view"
        qs = ref.model.objects.restrict(self.user, action)  # type: ignore[attr-defined]
        same_account = column.name == "contact" and "account" in self.kind.refs
        fields = [ref.lookup, "pk", "account_id" if same_account else "pk"]
        by_email = {v for v in wanted if ref.by_email and "@" in v}
        by_key = wanted - by_email
        found: dict[str, tuple[int, int | None]] = {}
        if by_key:
            for value, pk, account_id in qs.filter(one_of(ref.model, ref.lookup, by_key)).values_list(*fields):
                found[value] = (pk, account_id if same_account else None)
        if by_email:
            if self.contact_emails is None:
                self.contact_emails = ContactEmails(ref.model)
            for email, pk, account_id in qs.filter(self.contact_emails.q(by_email)).values_list(
                "email", "pk", "account_id"
            ):
                found.setdefault(email.lower(), (pk, account_id if same_account else None))
        return found

    def _why_missing(self, column: Column, ref: Ref, missing: set[str]) -> dict[str, str]:
        """Say, for each unknown reference, whether it does not exist or the user may not use it."""
        if ref.is_team:
            return {t: _("There is no team “%(value)s”.") % {"value": t} for t in missing}
        assert ref.model is not None
        label = str(ref.model._meta.verbose_name)
        keys = {v for v in missing if not (ref.by_email and "@" in v)}
        manager = ref.model._default_manager
        existing = set(manager.filter(one_of(ref.model, ref.lookup, keys)).values_list(ref.lookup, flat=True))
        if len(keys) < len(missing):
            emails = ContactEmails(ref.model).q(missing - keys)
            existing |= {e.lower() for e in manager.filter(emails).values_list("email", flat=True)}
        reasons = {}
        for value in missing:
            if value in existing:
                reasons[value] = (
                    _("You may not add records to %(label)s “%(value)s”.")
                    if column.name == self.kind.parent
                    else _("You may not see %(label)s “%(value)s”.")
                ) % {"label": label, "value": value}
            else:
                lookup = "e-mail" if value not in keys else ref.lookup.replace("_", " ")
                reasons[value] = _("There is no %(label)s with %(lookup)s “%(value)s”.") % {
                    "label": label,
                    "lookup": lookup,
                    "value": value,
                }
        return reasons

    # Matching rows to stored records

    def _existing(self, rows: list[Row]) -> dict[str, dict[str, dict[str, Any]]]:
        """Return the stored rows (as ``{attname: value}``) the chunk's rows name, indexed by each key's value.

        Rows are looked up by their first key; the other keys (a contact's e-mail) only where that found
        nothing or found a record holding another value, since a unique value already on the record found
        cannot belong to a second one. A re-import thus costs one indexed lookup per chunk.
        """
        keys, casefold = self.kind.keys, self.kind.casefold_keys
        index: dict[str, dict[str, dict[str, Any]]] = {key: {} for key in keys}
        if self.first_load:
            # The table held nothing when this import locked it, and still holds only the rows of earlier chunks.
            # A row naming one of those by any key was refused as a repeat (_check_repeated_keys sees every
            # key of every row, e-mails lower-cased as here), so every lookup would come back empty.
            return index

        def fetch(condition: Q) -> None:
            # Plain tuples of the compared fields, not model instances: most rows of a re-import need no more.
            for values in self.model._default_manager.filter(condition).values_list(*self.compared):
                stored = dict(zip(self.compared, values, strict=True))
                for key in keys:
                    value = stored[key]
                    if value:
                        index[key][value.lower() if key in casefold else value] = stored

        primary = keys[0]
        first = {row.keys[primary] for row in rows if primary in row.keys}
        if first:
            fetch(one_of(self.model, primary, first))
        for key in keys[1:]:
            wanted = set()
            for row in rows:
                value = row.keys.get(key)
                if value is None:
                    continue
                found = index[primary].get(row.keys.get(primary, ""))
                held = found[key] if found is not None else None
                if held is None or (held.lower() if key in casefold else held) != value:
                    wanted.add(value)
            if wanted:
                fetch(
                    self.emails.q(wanted)
                    if self.emails is not None and key == "email"
                    else one_of(self.model, key, wanted)
                )
        return index

    def _allowed(self, pks: list[int], action: Action) -> set[int] | None:
        """Return the ids among ``pks`` the user may ``action`` (None meaning all of them)."""
        if self.changeable_all or not pks:
            return None
        visible = self.records.query(self.user, action).filter(one_of(self.model, "id", pks))
        return set(visible.values_list("pk", flat=True))

    def _match(self, rows: list[Row]) -> list[Draft]:
        """Return the drafts of the chunk's new and changed records, after the domain's own rules ran on them.

        A row equal to its stored record is left alone straight away; a row that differs is loaded whole and
        goes through the kind's ``Records.prepare`` like any other write (which may find it unchanged after all,
        say an e-mail differing only in capitals), then through the permission and model checks.
        """
        index = self._existing(rows)
        matched: list[tuple[Row, dict[str, Any] | None]] = []
        for row in rows:
            stored = self._match_one(row, index)
            if stored is not False:
                matched.append((row, stored))  # type: ignore[arg-type]
        found = [stored["id"] for _row, stored in matched if stored is not None]
        visible = self._allowed(found, "view")
        drafts: list[Draft] = []
        differing: list[tuple[Row, int]] = []
        key_label, key = self._header_of(self.kind.keys[0]), self.kind.keys[0]
        for row, stored in matched:
            if stored is None:
                drafts.append(
                    Draft(data=dict(row.values), obj=self._new({**self.defaults, **row.values}), row=row.number)
                )
            elif visible is not None and stored["id"] not in visible:
                self.problems.error(row.number, key_label, key, _("This record belongs to someone you may not see."))
            elif any(stored[a] != v for a, v in row.values.items()):
                differing.append((row, stored["id"]))
            else:
                self.unchanged += 1
        if differing:
            objs = self.model._default_manager.in_bulk([pk for _row, pk in differing])
            for row, pk in differing:
                obj = objs[pk]
                before = snapshot(obj)
                for attname, value in row.values.items():
                    setattr(obj, attname, value)
                drafts.append(Draft(data=dict(row.values), obj=obj, created=False, before=before, row=row.number))
        drafts = self._prepare(drafts)
        changing = [d for d in drafts if not d.created and d.changed()]
        changeable = self._allowed([d.obj.pk for d in changing], "change")
        # By identity: ``d in changing`` compared drafts field by field, 5,000 x 5,000 times in a chunk of changes.
        changing_ids = {id(d) for d in changing}
        writing: list[Draft] = []
        for d in drafts:
            if not d.created and id(d) not in changing_ids:
                self.unchanged += 1
            elif not d.created and changeable is not None and d.obj.pk not in changeable:
                self.problems.error(d.row, key_label, key, _("You may see this record but not change it."))
            elif self._clean(d):
                writing.append(d)
                if d.created:
                    self.created += 1
                else:
                    self.updated += 1
        return writing

    def _new(self, values: dict[str, Any]) -> models.Model:
        """Return a new, unsaved record holding ``values`` (one for every concrete field, by attname).

        Model.__init__ costs ~15 µs a row (a setattr through each field's descriptor), a sixth of an import's
        Python time for a million contacts. A new record holds nothing but its field values in ``__dict__``
        and a fresh ``_state``, so this builds the same object directly, unless something listens to the
        model's init signals, which then must run.
        """
        if self.init_signals:
            return self.model(*[values[a] for a in self.attnames])
        obj = self.model.__new__(self.model)
        obj.__dict__.update(values)
        obj._state = ModelState()
        return obj

    def _prepare(self, drafts: list[Draft]) -> list[Draft]:
        """Run the kind's ``Records.prepare`` (derived fields, domain rules) and return the drafts it accepts.

        The hook stops at the first draft it refuses; halving the batch until each refusal is alone finds them
        all with a few more calls, so every such row is reported.
        """
        if not drafts:
            return drafts
        try:
            self.records.prepare(self.user, drafts)
        except PatronError as exc:
            if len(drafts) == 1:
                draft = drafts[0]
                name = (exc.field or "").removesuffix("_id")
                message = exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message
                self.problems.error(draft.row, self._header_of(name) if name else "", name, message)
                return []
            middle = len(drafts) // 2
            return self._prepare(drafts[:middle]) + self._prepare(drafts[middle:])
        return drafts

    def _match_one(self, row: Row, index: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any] | bool | None:
        """Return the stored row a file row names (None for a new one), or False after noting a clash of keys."""
        hits = []
        for key in self.kind.keys:
            value = row.keys.get(key)
            if value is not None and value in index[key]:
                hits.append((key, index[key][value]))
        if not hits:
            return None
        key, stored = hits[0]
        for other_key, other in hits[1:]:
            if other["id"] != stored["id"]:
                self.problems.error(
                    row.number,
                    self._header_of(other_key),
                    other_key,
                    _("“%(value)s” belongs to another record than the one with %(key)s “%(key_value)s”.")
                    % {"value": row.values[other_key], "key": key, "key_value": row.values[key]},
                )
                return False
        primary = self.kind.keys[0]
        given = row.values.get(primary)
        if key != primary and stored[primary] and given and stored[primary] != given:
            self.problems.error(
                row.number,
                self._header_of(key),
                key,
                _(
                    "“%(value)s” belongs to the record with %(primary)s “%(stored)s”, not “%(given)s”. "
                    "To update it anyway, leave the %(primary)s column out of the mapping."
                )
                % {"value": row.values[key], "primary": primary, "stored": stored[primary], "given": given},
            )
            return False
        return stored

    def _clean(self, draft: Draft) -> bool:
        """Run the model's own cross-field rules (an end date before its start, ...) on a draft."""
        if not self.has_clean:
            return True
        try:
            draft.obj.clean()
        except ValidationError as exc:
            details = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            for name, messages in details.items():
                column = self._header_of(name) if name != "__all__" else ""
                self.problems.error(draft.row, column, name, " ".join(messages))
            return False
        return True

    # Writing

    def _write(self, writing: list[Draft]) -> None:
        """Write the chunk's new and changed records with their history, then what hangs off them."""
        creates = [d.obj for d in writing if d.created]
        updates = [d for d in writing if not d.created]
        if creates:
            self.writer.create(creates)
        if updates:
            fields = {self.model._meta.get_field(a).name for d in updates for a in d.changed()}
            self.writer.update([d.obj for d in updates], fields)
        # The kind's own follow-up writes, such as the stage history of deals.
        self.records.write_related(self.user, writing)


class OrmWriter:
    """Writes through the ORM: ``bulk_create_with_history`` and ``bulk_update_with_history`` (any database)."""

    def __init__(self, model: type[models.Model], *, user: User, reason: str, now: dt.datetime):
        self.model = model
        self.history = {"default_user": user, "default_change_reason": reason, "default_date": now}
        self.now = now
        self.attnames = [f.attname for f in model._meta.concrete_fields]

    def create(self, objs: list[models.Model]) -> None:
        """Insert new records with a "+" history row each (they get their ids)."""
        bulk_create_with_history(objs, self.model, batch_size=BATCH_SIZE, **self.history)

    def update(self, objs: list[models.Model], fields: set[str]) -> None:
        """Save changed fields with a "~" history row each."""
        for obj in objs:
            obj.updated_at = self.now  # type: ignore[attr-defined]
        bulk_update_with_history(
            objs, self.model, fields=sorted(fields | {"updated_at"}), batch_size=UPDATE_BATCH_SIZE, **self.history
        )

    def close(self) -> None:
        """Nothing to release."""


_HISTORY_OWN = ("history_id", "history_date", "history_change_reason", "history_type", "history_user_id")


class PostgresWriter(OrmWriter):
    """Writes on PostgreSQL through a temporary table: binary COPY in, then one INSERT or UPDATE of the table
    and one INSERT of the history rows, per chunk.

    The history rows are the ones ``bulk_create_with_history`` would write (the record's values after the
    change, "+" or "~", the user, the date and the reason); building them in SQL from the staged rows instead
    of as Django objects is what makes a million-row import a matter of seconds rather than minutes
    (see bench/import_contacts.py).
    """

    def __init__(self, model: type[models.Model], *, user: User, reason: str, now: dt.datetime):
        super().__init__(model, user=user, reason=reason, now=now)
        qn = connection.ops.quote_name
        self.user, self.reason = user, reason
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]
        self.types = [re.sub(r"\(.*\)", "", f.db_type(connection) or "") for f in self.fields]
        self.table = qn(model._meta.db_table)
        self.stage = qn(f"import_stage_{model._meta.db_table}")
        self.columns = [qn(f.column or "") for f in self.fields]
        by_attname = {f.attname: qn(f.column or "") for f in self.fields}
        history_model = model.history.model  # type: ignore[attr-defined]
        tracked = [f for f in history_model._meta.concrete_fields if f.attname not in _HISTORY_OWN]
        self.history_table = qn(history_model._meta.db_table)
        self.history_columns = [qn(f.column) for f in tracked]
        self.history_sources = [by_attname[f.attname] for f in tracked]
        self.auto_now = [f.attname for f in self.fields if getattr(f, "auto_now", False)]
        self.auto_now_add = [f.attname for f in self.fields if getattr(f, "auto_now_add", False)]
        self.staged = False

    def _stage(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        if not self.staged:
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.stage} (LIKE {self.table}) ON COMMIT DROP")
            self.staged = True
        cursor.execute(f"TRUNCATE {self.stage}")
        # itemgetter picks a row's values in C: a third of the time of a comprehension, a million rows over.
        attnames = self.attnames
        pick = operator.itemgetter(*attnames) if len(attnames) > 1 else lambda values: (values[attnames[0]],)
        with cursor.cursor.copy(f"COPY {self.stage} ({', '.join(self.columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(self.types)
            for values in rows:
                copy.write_row(pick(values))

    def _history(self, cursor: Any, kind: str) -> None:
        cursor.execute(
            f"INSERT INTO {self.history_table} ({', '.join(self.history_columns)}, history_date, "
            f"history_change_reason, history_type, history_user_id) "
            f"SELECT {', '.join(self.history_sources)}, %s, %s, %s, %s FROM {self.stage}",
            [self.now, self.reason, kind, self.user.pk],
        )

    def create(self, objs: list[models.Model]) -> None:
        """Insert new records (ids drawn from the table's sequence) with a "+" history row each."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [self.model._meta.db_table, len(objs)],
            )
            stamps = dict.fromkeys(self.auto_now_add + self.auto_now, self.now)
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.__dict__.update(stamps)
                obj.pk = pk
                obj._state.adding = False
            self._stage(cursor, [obj.__dict__ for obj in objs])
            columns = ", ".join(self.columns)
            cursor.execute(f"INSERT INTO {self.table} ({columns}) SELECT {columns} FROM {self.stage}")
            self._history(cursor, "+")

    def update(self, objs: list[models.Model], fields: set[str]) -> None:
        """Save changed fields with a "~" history row each."""
        for obj in objs:
            for attname in self.auto_now:
                setattr(obj, attname, self.now)
        column_of = {f.name: f.column or "" for f in self.fields} | {f.attname: f.column or "" for f in self.fields}
        names = {column_of[f] for f in fields} | {column_of[a] for a in self.auto_now}
        qn = connection.ops.quote_name
        assignments = ", ".join(f"{qn(c)} = s.{qn(c)}" for c in sorted(names))
        with connection.cursor() as cursor:
            self._stage(cursor, [obj.__dict__ for obj in objs])
            cursor.execute(f"UPDATE {self.table} AS t SET {assignments} FROM {self.stage} AS s WHERE t.id = s.id")
            self._history(cursor, "~")

    def close(self) -> None:
        """Drop the temporary table (it would go at commit anyway)."""
        if self.staged:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.stage}")
            self.staged = False


# The service


def import_file(
    user: User,
    kind: str,
    source: IO[bytes],
    *,
    file_name: str = "",
    preset: str | None = None,
    mapping: Iterable[str] | Mapping[str, str] | None = None,
    date_order: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportRun:
    """Import a CSV or XLSX file of ``kind`` records as ``user``, all or nothing; return the finished run.

    Raises Invalid (with every row error in ``details``) when anything in the file is wrong; the failed run is
    still recorded in the caller's transaction. A dry run checks everything and writes nothing.
    """
    spec = get_kind(kind)
    chosen = get_preset(preset)
    order = check_date_order(date_order) or (chosen.date_order if chosen else None)
    columns = parse_mapping(mapping)
    run = ImportRun.objects.create(
        user=user,
        kind=spec.name,
        preset=chosen.name if chosen else "",
        file_name=os.path.basename(file_name or getattr(source, "name", "") or "")[-255:],
        dry_run=dry_run,
    )
    table: Table | None = None
    try:
        check_may_import(user, spec)
        table = open_table(source, name=run.file_name)
        run.file_format, run.file_size = table.format, table.size
        plan = plan_columns(
            spec, table.header, preset=chosen, mapping=columns, date_order=order, header_row=table.header_row
        )
        run.mapping = plan.mapping
        importer = Importer(user, spec, table, plan, run=run, dry_run=dry_run, progress=progress)
        try:
            with transaction.atomic():
                importer.execute()
        except IntegrityError as exc:
            raise Conflict(
                _("Another change to the same records happened during the import; nothing was imported: %(e)s")
                % {"e": exc}
            ) from None
        finally:
            run.rows = importer.rows
            run.warnings, run.warning_count = importer.problems.warnings, importer.problems.warning_count
        run.created, run.updated, run.unchanged = importer.created, importer.updated, importer.unchanged
        run.status = ImportStatus.CHECKED if dry_run else ImportStatus.SUCCEEDED
        _finish(run, table)
        return run
    except PatronError as exc:
        run.status = ImportStatus.FAILED
        run.message = exc.message
        run.errors = exc.details or [{"row": None, "column": exc.field or "", "field": "", "message": exc.message}]
        _finish(run, table)
        raise
    finally:
        if table is not None:
            table.close()


def _finish(run: ImportRun, table: Table | None) -> None:
    if table is not None:
        run.sha256 = table.sha256()
    run.finished_at = timezone.now()
    run.save()


def import_path(user: User, kind: str, path: str, **options: Any) -> ImportRun:
    """Import the file at ``path`` (see :func:`import_file` for the options)."""
    file = Path(path)
    if not file.is_file():
        raise NotFound(_("There is no file %(path)s.") % {"path": path})
    with file.open("rb") as source:
        return import_file(user, kind, source, file_name=file.name, **options)


# Reading runs


def list_runs(user: User, *, cursor: str | None = None, limit: int = 50) -> Page:
    """Return one keyset page of the user's own import runs, newest first."""
    return keyset_page(ImportRun.objects.filter(user=user), order="-id", cursor=cursor, limit=limit)


def get_run(user: User, pk: int) -> ImportRun:
    """Return one of the user's import runs (admins may open anyone's), or raise NotFound."""
    runs = ImportRun.objects.all() if user.is_admin else ImportRun.objects.filter(user=user)
    run = runs.filter(pk=pk).first()
    if run is None:
        raise NotFound(_("Import run %(pk)s not found.") % {"pk": pk})
    return run


# Describing what a file may hold


def describe_kind(name: str, preset: str | None = None) -> dict[str, Any]:
    """Return the columns a file of ``name`` may have: each field, whether it is required, and how it is read."""
    kind = get_kind(name)
    chosen = get_preset(preset)
    preset_columns: dict[str, list[str]] = {}
    if chosen and kind.name in chosen.columns:
        for column, target in chosen.columns[kind.name]:
            preset_columns.setdefault(target, []).append(column)
    fields = []
    for field_name in kind.fields:
        model_field = kind.model_field(field_name)
        ref = kind.refs.get(field_name)
        rule = blank_rule(kind, field_name)
        fields.append(
            {
                "name": field_name,
                "label": str(model_field.verbose_name),
                "required": rule is REQUIRED or (field_name in kind.keys and len(kind.keys) == 1),
                "key": field_name in kind.keys,
                "reads": _reads(kind, field_name, model_field, ref),
                "choices": [str(v) for v, _label in model_field.choices] if model_field.choices and not ref else [],
                "preset_columns": preset_columns.get(field_name, []),
            }
        )
    return {
        "kind": kind.name,
        "label": kind.label,
        "keys": list(kind.keys),
        "preset": chosen.name if chosen else "",
        "fields": fields,
    }


def describe_kinds(preset: str | None = None) -> list[dict[str, Any]]:
    """Return :func:`describe_kind` for every kind (only those a preset covers, when one is given)."""
    chosen = get_preset(preset)
    return [describe_kind(name, preset) for name in KINDS if chosen is None or name in chosen.columns]


def _reads(kind: Kind, name: str, model_field: models.Field, ref: Ref | None) -> str:
    """Say in a few words what a column holds."""
    if ref is not None:
        if ref.is_user:
            return _("a user's e-mail, username or full name")
        if ref.is_team:
            return _("a team's name")
        assert ref.model is not None
        label = str(ref.model._meta.verbose_name)
        if ref.by_email:
            return _("the %(label)s's external id or e-mail") % {"label": label}
        return _("the %(label)s's %(lookup)s") % {"label": label, "lookup": ref.lookup.replace("_", " ")}
    if name == "country":
        return _("a country code or name")
    if name == "currency":
        return _("a three-letter currency code")
    if model_field.choices:
        return _("one of the choices")
    if isinstance(model_field, models.EmailField):
        return _("an e-mail address")
    if isinstance(model_field, models.DecimalField | models.IntegerField):
        return _("a number")
    if isinstance(model_field, models.BooleanField):
        return _("yes or no")
    if isinstance(model_field, models.DateTimeField):
        return _("a date and time")
    if isinstance(model_field, models.DateField):
        return _("a date")
    limit = getattr(model_field, "max_length", None)
    return _("text up to %(max)s characters") % {"max": limit} if limit else _("text")
