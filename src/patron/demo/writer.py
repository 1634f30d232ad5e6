"""Fast row writing for generated data: COPY on PostgreSQL, ``executemany`` on SQLite.

The generator hands over plain tuples (ids it allocated itself, strings for dates and decimals), so a
row costs no model instance and no ``RETURNING``; millions of rows go in at database speed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.core.management.color import no_style
from django.db import connection, models


class BulkWriter:
    """Insert rows into a model's table in bulk and keep count of what was written."""

    def __init__(self) -> None:
        self.vendor = connection.vendor
        self.counts: Counter[str] = Counter()
        self._next_id: dict[type[models.Model], int] = {}
        self._columns: dict[tuple[type[models.Model], tuple[str, ...]], tuple[str, tuple[Any, ...]]] = {}
        self.written: set[type[models.Model]] = set()

    # Ids

    def allocate(self, model: type[models.Model], count: int) -> np.ndarray:
        """Reserve ``count`` consecutive primary keys for ``model`` and return them."""
        start = self._next_id.get(model)
        if start is None:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT MAX({connection.ops.quote_name('id')}) FROM {self._table(model)}")
                start = (cursor.fetchone()[0] or 0) + 1
        self._next_id[model] = start + count
        return np.arange(start, start + count, dtype=np.int64)

    # Values

    def datetimes(self, seconds: np.ndarray) -> list[str]:
        """Return UTC epoch ``seconds`` as the text each database stores for an aware datetime."""
        text = np.datetime_as_string(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]")).tolist()
        if self.vendor == "sqlite":
            return [s.replace("T", " ") for s in text]
        return [s + "+00" for s in text]

    def datetime(self, value: dt.datetime) -> str:
        """Return one aware datetime as stored text."""
        return self.datetimes(np.array([int(value.timestamp())]))[0]

    @staticmethod
    def dates(days_since_epoch: np.ndarray) -> list[str]:
        """Return day numbers since 1970-01-01 as ISO dates."""
        return np.datetime_as_string(np.asarray(days_since_epoch, dtype=np.int64).astype("datetime64[D]")).tolist()

    @staticmethod
    def money(cents: np.ndarray) -> list[str]:
        """Return integer cents as decimal strings."""
        return [f"{c // 100}.{c % 100:02d}" if c >= 0 else f"-{-c // 100}.{-c % 100:02d}" for c in cents.tolist()]

    # Writing

    @staticmethod
    def _table(model: type[models.Model]) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    def _plan(self, model: type[models.Model], fields: tuple[str, ...]) -> tuple[str, tuple[Any, ...]]:
        """Return the column list for ``fields`` plus every other column, and the constants those others take."""
        key = (model, fields)
        if key in self._columns:
            return self._columns[key]
        given: list[models.Field] = []
        for name in fields:
            f = model._meta.get_field(name)
            if not isinstance(f, models.Field) or not f.concrete:
                raise ValueError(f"{model.__name__}.{name} is not a column.")
            given.append(f)
        names = {f.attname for f in given} | {f.name for f in given}
        extra: list[models.Field] = []
        constants: list[Any] = []
        for f in model._meta.concrete_fields:
            if f.name in names or f.attname in names:
                continue
            value = f.get_default()  # what Django would store for a field left out: its default, "" or None
            if value is None and not f.null:
                raise ValueError(
                    f"The demo writer has no value for {model.__name__}.{f.name}; add it to the generator."
                )
            value = f.get_db_prep_save(value, connection)
            extra.append(f)
            constants.append(value)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in [*given, *extra])
        self._columns[key] = (columns, tuple(constants))
        return self._columns[key]

    def write(self, model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> int:
        """Insert ``rows`` (tuples in the order of ``fields``) into ``model``'s table; return how many."""
        columns, constants = self._plan(model, tuple(fields))
        if constants:
            rows = (row + constants for row in rows)
        rows = list(rows)
        if not rows:
            return 0
        table = self._table(model)
        if self.vendor == "postgresql":
            with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(rows[0]))
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        self.counts[model._meta.label] += len(rows)
        self.written.add(model)
        return len(rows)

    def finish(self) -> None:
        """Move PostgreSQL's id sequences past the ids this writer chose itself."""
        if self.vendor != "postgresql" or not self.written:
            return
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), sorted(self.written, key=lambda m: m.__name__)):
                cursor.execute(sql)
