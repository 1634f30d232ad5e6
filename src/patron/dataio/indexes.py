"""Building a table's plain secondary indexes once after a large import instead of row by row (PostgreSQL).

PostgreSQL maintains every index of a table for each row inserted; for a million contacts most of an import's
database time goes there. Building the same indexes once over the finished table costs about half as much
(``bench/import_contacts.py --index-floor``: 81 s of database CPU to COPY a million contacts into the indexed
table, against 6 s into a bare copy plus 32–36 s to build its eight indexes, 22–25 s of which the trigram index).
So an import that is large against the table it fills may drop the table's plain indexes inside its own
transaction and create exactly the same ones again before it ends: a failure rolls back both, and no one else
ever sees the table without them.

Indexes that enforce nothing are dropped whenever the import takes this path. Unique indexes (and the UNIQUE
constraints behind some of them) go too only on a *first load*: when the table held no row once the import
had it locked. The import then looks nothing up by key (nothing can be stored but its own rows, whose keys
it already refuses to see twice), so no query needs them; building them at the end still checks every row,
and a key stored twice fails the whole import there (:class:`DuplicateKey`). The primary key, exclusion
constraints and unique indexes a foreign key points at always stay. Definitions come from the catalog at
import time (``pg_get_indexdef``, ``pg_get_constraintdef``), so the migrations stay their only source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, connection, transaction

logger = logging.getLogger(__name__)

# Below this many rows written an import keeps the indexes: maintaining them costs seconds at most, and the
# table is not worth locking for it.
MIN_DEFERRED_ROWS = 50_000
# How long an import waits for the table's exclusive lock before it writes with the indexes in place instead.
LOCK_TIMEOUT = "2s"
# Memory each index build may use (in the import's transaction only, and never less than the server's own
# setting): the trigram index of a million contacts builds in 22 s of CPU with 256 MB against 25 s with the
# default 64 MB.
BUILD_MEMORY_KB = 256 * 1024


@dataclass(frozen=True)
class DroppedIndex:
    """One index as the catalog defines it: its name, the statement that creates it, and the statistics target
    of each column set apart from the default (``pg_get_indexdef`` leaves those out).

    A unique index made by a UNIQUE constraint is dropped and added back through its constraint (``table``
    and ``constraint`` are then set, and ``definition`` is the constraint's, such as ``UNIQUE (external_id)``):
    PostgreSQL refuses to drop such an index on its own, and the constraint must come back as it was.
    """

    name: str
    definition: str
    # (column number, target): e.g. the contact search text samples 1,000 values (customers migration 0006).
    statistics: tuple[tuple[int, int], ...] = ()
    unique: bool = False
    table: str = ""
    constraint: str = ""

    def drop_statement(self) -> str:
        """Return the SQL that drops this index (through its constraint, if it has one)."""
        if self.constraint:
            return f"ALTER TABLE {self.table} DROP CONSTRAINT {connection.ops.quote_name(self.constraint)}"
        # The name comes from regclass, so it is already quoted and schema-qualified where needed.
        return f"DROP INDEX {self.name}"

    def statements(self) -> list[str]:
        """Return the SQL that creates this index as it was, statistics targets included."""
        create = (
            f"ALTER TABLE {self.table} ADD CONSTRAINT {connection.ops.quote_name(self.constraint)} {self.definition}"
            if self.constraint
            else self.definition
        )
        return [create] + [
            f"ALTER INDEX {self.name} ALTER COLUMN {column} SET STATISTICS {target}"
            for column, target in self.statistics
        ]


class DuplicateKey(Exception):
    """A unique index could not be built again after a first load: two rows hold the same key.

    ``detail`` is PostgreSQL's own account ("Key (lower(email::text))=(a@example.com) is duplicated.").
    """

    def __init__(self, index: DroppedIndex, detail: str):
        super().__init__(f"{index.name}: {detail}")
        self.index = index
        self.detail = detail


# What each index's column statistics targets are read with (see DroppedIndex.statistics).
_STATISTICS_SQL = (
    "(SELECT array_agg(ARRAY[a.attnum::int, a.attstattarget::int] ORDER BY a.attnum) FROM pg_attribute a"
    " WHERE a.attrelid = i.indexrelid AND a.attnum > 0 AND a.attstattarget >= 0)"
)
# Indexes that can be dropped and created again as they are: valid and live (an invalid one is a concurrent
# build cut short, which CREATE INDEX would make valid behind the migration's back), not clustered or the
# replica identity, and in the default tablespace (which the definitions do not name).
_REBUILDABLE_SQL = (
    "i.indisvalid AND i.indisready AND i.indislive AND NOT i.indisclustered AND NOT i.indisreplident"
    " AND c.reltablespace = 0"
)


def plain_indexes(table: str) -> list[DroppedIndex]:
    """Return the indexes of ``table`` that enforce nothing and can be rebuilt as they are, in creation order.

    Left out: the primary key, unique and exclusion indexes, any index behind a constraint, and indexes that
    cannot be rebuilt as they are (see ``_REBUILDABLE_SQL``).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), {_STATISTICS_SQL}"
            " FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT i.indisunique AND NOT i.indisexclusion"
            f" AND {_REBUILDABLE_SQL}"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
            " ORDER BY i.indexrelid",
            [table],
        )
        return [
            DroppedIndex(name, definition, tuple((int(c), int(t)) for c, t in statistics or ()))
            for name, definition, statistics in cursor.fetchall()
        ]


def unique_indexes(table: str) -> list[DroppedIndex]:
    """Return the unique indexes of ``table`` that can be dropped and rebuilt as they are, in creation order.

    Left out: the primary key, exclusion constraints, a unique index some foreign key points at (dropping it
    would drop that key or fail), and indexes that cannot be rebuilt as they are (see ``_REBUILDABLE_SQL``).
    An index behind a UNIQUE constraint of the table comes with that constraint.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), {_STATISTICS_SQL},"
            " i.indrelid::regclass::text, k.conname, pg_get_constraintdef(k.oid)"
            " FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype = 'u'"
            " WHERE i.indrelid = %s::regclass AND i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion"
            f" AND {_REBUILDABLE_SQL}"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conindid = i.indexrelid"
            "  AND NOT (f.contype = 'u' AND f.conrelid = i.indrelid))"
            " ORDER BY i.indexrelid",
            [table],
        )
        return [
            DroppedIndex(
                name,
                constraint_definition if constraint else definition,
                tuple((int(c), int(t)) for c, t in statistics or ()),
                unique=True,
                table=table_name if constraint else "",
                constraint=constraint or "",
            )
            for name, definition, statistics, table_name, constraint, constraint_definition in cursor.fetchall()
        ]


def rows_at_most(table: str, limit: int) -> int:
    """Return the number of rows in ``table``, counting no further than ``limit`` + 1 (never a full COUNT)."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {qn(table)} LIMIT %s) AS t", [limit + 1])
        return int(cursor.fetchone()[0])


def worth_deferring(table: str, writing: int) -> bool:
    """Tell whether an import writing about ``writing`` rows into ``table`` should build the table's plain
    indexes after it: when it writes at least :data:`MIN_DEFERRED_ROWS` and the table holds at most half as many.

    Building the plain indexes reads every row of the table once; maintaining them as rows arrive costs about
    twice as much per row written (``bench/import_contacts.py --index-floor``: for contacts 60 s of database CPU
    per million rows written, against 27 s per million rows held). So the rebuild pays off up to about as many
    stored rows as written; half keeps a margin of a third, and keeps the exclusive lock to first loads and to
    tables the import at least triples. A big table goes on serving its readers.
    """
    return writing >= MIN_DEFERRED_ROWS and rows_at_most(table, writing // 2) * 2 <= writing


class DeferredIndexes:
    """The indexes of some tables, dropped inside the current transaction and created again at its end.

    Dropping an index takes the table's ACCESS EXCLUSIVE lock until the transaction ends: nobody else reads
    or writes the table meanwhile. That is why imports take this path only for a table that is empty or small
    against the import (:func:`worth_deferring`), and why the lock is waited for at most :data:`LOCK_TIMEOUT`
    (after which the import goes on with the indexes in place).
    """

    def __init__(self) -> None:
        self.dropped: dict[str, list[DroppedIndex]] = {}
        # Tables that held no row when they were locked. The lock is held until the transaction ends, so until
        # then such a table holds only what this transaction writes into it.
        self.empty: set[str] = set()

    def drop(self, table: str, *, unique: bool = False) -> bool:
        """Lock ``table`` and drop its plain indexes, and with ``unique`` its unique ones too if it holds no row;
        return False (changing nothing) if the lock is busy.

        Whether the table was empty once locked is kept in :attr:`empty`.
        """
        if table in self.dropped:
            return True
        qn = connection.ops.quote_name
        waited = self._setting("lock_timeout")
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
                cursor.execute(f"LOCK TABLE {qn(table)} IN ACCESS EXCLUSIVE MODE")
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [waited])
                # PostgreSQL alters no index of a table with foreign-key checks queued for commit (Django's are
                # deferred): run them now.
                connection.check_constraints()
                # Counted only now: a row committed by someone else before the lock counts, and none can come after.
                empty = rows_at_most(table, 0) == 0
                indexes = plain_indexes(table)
                if unique and empty:
                    # Built first at the end, so that a repeated key fails the import before the long builds.
                    indexes = unique_indexes(table) + indexes
                for index in indexes:
                    cursor.execute(index.drop_statement())
        except OperationalError:
            logger.info("Table %s is busy: the import keeps its indexes up to date row by row", table)
            return False
        self.dropped[table] = indexes
        if empty:
            self.empty.add(table)
        return True

    @property
    def pending(self) -> bool:
        """Tell whether some dropped index is still to be built again."""
        return any(self.dropped.values())

    def restore(self) -> None:
        """Create every dropped index again, exactly as it was defined, unique ones first.

        Raises :class:`DuplicateKey` when a unique index meets a key stored twice; the transaction is then
        aborted, and rolling it back (or back to a savepoint taken before :meth:`drop`) undoes the rows and
        brings the indexes back.
        """
        if not any(self.dropped.values()):
            return
        memory = self._setting("maintenance_work_mem")
        connection.check_constraints()  # as in drop(): the import's rows queued foreign-key checks
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('maintenance_work_mem', greatest(setting::bigint, %s)::text || 'kB', true)"
                " FROM pg_settings WHERE name = 'maintenance_work_mem'",
                [BUILD_MEMORY_KB],
            )
            for indexes in self.dropped.values():
                for index in indexes:
                    for statement in index.statements():
                        try:
                            cursor.execute(statement)
                        except IntegrityError as exc:
                            diag = getattr(exc.__cause__, "diag", None)
                            raise DuplicateKey(index, getattr(diag, "message_detail", None) or str(exc)) from exc
            cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [memory])
        self.dropped.clear()

    @staticmethod
    def _setting(name: str) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting(%s)", [name])
            return str(cursor.fetchone()[0])
