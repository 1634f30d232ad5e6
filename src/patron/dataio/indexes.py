"""Building a table's plain secondary indexes once after a large import instead of row by row (PostgreSQL).

PostgreSQL maintains every index of a table for each row inserted; for a million contacts most of an import's
database time goes there. Building the same indexes once over the finished table costs about half as much
(``bench/import_contacts.py --index-floor``: 81 s of database CPU to COPY a million contacts into the indexed
table, against 6 s into a bare copy plus 32–36 s to build its eight indexes, 22–25 s of which the trigram index).
So an import that is large against the table it fills may drop the table's plain indexes inside its own
transaction and create exactly the same ones again before it ends: a failure rolls back both, and no one else
ever sees the table without them.

Only indexes that enforce nothing are dropped: the primary key, unique indexes and indexes behind a
constraint stay. Those keep refusing a repeated key at the row that repeats it, and the import reads through
them (it looks each chunk's rows up by key). Definitions come from the catalog at import time
(``pg_get_indexdef``), so the migrations stay their only source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import OperationalError, connection, transaction

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
class PlainIndex:
    """One index as the catalog defines it: its name, the statement that creates it, and the statistics target
    of each column set apart from the default (``pg_get_indexdef`` leaves those out)."""

    name: str
    definition: str
    # (column number, target): e.g. the contact search text samples 1,000 values (customers migration 0006).
    statistics: tuple[tuple[int, int], ...] = ()

    def statements(self) -> list[str]:
        """Return the SQL that creates this index as it was, statistics targets included."""
        # The name comes from regclass, so it is already quoted and schema-qualified where needed.
        return [self.definition] + [
            f"ALTER INDEX {self.name} ALTER COLUMN {column} SET STATISTICS {target}"
            for column, target in self.statistics
        ]


def plain_indexes(table: str) -> list[PlainIndex]:
    """Return the indexes of ``table`` that enforce nothing and can be rebuilt as they are, in creation order.

    Left out: the primary key, unique and exclusion indexes, any index behind a constraint, indexes that are
    not valid (a concurrent build cut short; ``CREATE INDEX`` would make it valid behind the migration's
    back), clustered or replica-identity indexes, and indexes outside the default tablespace (which
    ``pg_get_indexdef`` does not name).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),"
            " (SELECT array_agg(ARRAY[a.attnum::int, a.attstattarget::int] ORDER BY a.attnum) FROM pg_attribute a"
            "  WHERE a.attrelid = i.indexrelid AND a.attnum > 0 AND a.attstattarget >= 0)"
            " FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT i.indisunique AND NOT i.indisexclusion"
            " AND i.indisvalid AND i.indisready AND i.indislive AND NOT i.indisclustered AND NOT i.indisreplident"
            " AND c.reltablespace = 0"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
            " ORDER BY i.indexrelid",
            [table],
        )
        return [
            PlainIndex(name, definition, tuple((int(c), int(t)) for c, t in statistics or ()))
            for name, definition, statistics in cursor.fetchall()
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
    """The plain indexes of some tables, dropped inside the current transaction and created again at its end.

    Dropping an index takes the table's ACCESS EXCLUSIVE lock until the transaction ends: nobody else reads
    or writes the table meanwhile. That is why imports take this path only for a table that is empty or small
    against the import (:func:`worth_deferring`), and why the lock is waited for at most :data:`LOCK_TIMEOUT`
    (after which the import goes on with the indexes in place).
    """

    def __init__(self) -> None:
        self.dropped: dict[str, list[PlainIndex]] = {}

    def drop(self, table: str) -> bool:
        """Lock ``table`` and drop its plain indexes; return False (changing nothing) if the lock is busy."""
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
                indexes = plain_indexes(table)
                for index in indexes:
                    # The name comes from regclass, so it is already quoted and schema-qualified where needed.
                    cursor.execute(f"DROP INDEX {index.name}")
        except OperationalError:
            logger.info("Table %s is busy: the import keeps its indexes up to date row by row", table)
            return False
        self.dropped[table] = indexes
        return True

    @property
    def pending(self) -> bool:
        """Tell whether some dropped index is still to be built again."""
        return any(self.dropped.values())

    def restore(self) -> None:
        """Create every dropped index again, exactly as it was defined."""
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
                        cursor.execute(statement)
            cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [memory])
        self.dropped.clear()

    @staticmethod
    def _setting(name: str) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting(%s)", [name])
            return str(cursor.fetchone()[0])
