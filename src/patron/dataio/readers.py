"""Opening an imported file as a stream of rows: CSV (UTF-8, any of , ; tab) or XLSX, never whole in memory.

A CSV file is read in 64 KiB blocks, decoded as it goes (a byte that is not UTF-8 stops the import with its
byte offset and line), split into lines and parsed by :mod:`csv`. An XLSX file is read by openpyxl in
read-only mode, which streams the sheet. Either way the caller gets the header and an iterator of
``(row number, cells)`` where row 1 is the header row as a spreadsheet shows it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import IO, Any

from django.utils.translation import gettext as _

from patron.dataio.cells import as_text
from patron.errors import Invalid

BLOCK = 64 * 1024
DELIMITERS = (",", ";", "\t")
_EOL = re.compile(r"\r\n|\n|\r")
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls format


class Table(ABC):
    """A file opened for import: its header, its rows as they stream in, how far reading has got, and its hash."""

    format = ""

    def __init__(self, source: IO[bytes], size: int | None):
        self.source = source
        self.size = size
        self.header: list[str] = []
        self.header_row = 1
        self.delimiter = ""

    @abstractmethod
    def open(self) -> None:
        """Read the file up to and including its header row."""

    @abstractmethod
    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        """Yield ``(row number, cells)`` for every non-empty row under the header."""

    @property
    @abstractmethod
    def position(self) -> int:
        """Return how far reading has got, in the unit of :attr:`total`."""

    @property
    def total(self) -> int | None:
        """Return the size of the whole file in the unit of :attr:`position` (None when unknown)."""
        return self.size

    @abstractmethod
    def sha256(self) -> str:
        """Return the SHA-256 of the file's bytes (reading what is left unread, if anything)."""

    def close(self) -> None:  # noqa: B027 - most readers hold nothing open beyond the caller's file
        """Release what the reader holds open."""


def file_size(source: IO[bytes]) -> int | None:
    """Return the size in bytes of a seekable file (or an upload), or None."""
    size = getattr(source, "size", None)
    if isinstance(size, int):
        return size
    try:
        here = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(here)
        return end
    except (AttributeError, OSError, ValueError):
        return None


def open_table(source: IO[bytes], *, name: str = "") -> Table:
    """Open a CSV or XLSX file (told apart by its first bytes) and read its header."""
    size = file_size(source)
    head = source.read(4)
    source.seek(0)
    if not head:
        raise Invalid(_("The file %(name)s is empty.") % {"name": name or ""}, field="file")
    if head == _OLE_MAGIC:
        raise Invalid(
            _("This is an old Excel 97–2003 (.xls) file; save it as .xlsx or as CSV UTF-8 and import that."),
            field="file",
        )
    table: Table = XlsxTable(source, size) if head == _XLSX_MAGIC else CsvTable(source, size)
    try:
        table.open()
    except BaseException:
        table.close()
        raise
    return table


def _not_utf8(exc: UnicodeDecodeError, offset: int, line: int) -> Invalid:
    bad = exc.object[exc.start : exc.start + 1].hex().upper()
    message = _(
        "The file is not UTF-8: byte 0x%(byte)s at offset %(offset)s (line %(line)s) cannot be read. "
        "Save it as “CSV UTF-8” and import it again."
    ) % {"byte": bad, "offset": offset, "line": line}
    return Invalid(message, field="file", details=[{"line": line, "offset": offset, "column": "", "message": message}])


class CsvTable(Table):
    """A delimited text file in UTF-8 (with or without a byte-order mark), or UTF-16 with one."""

    format = "csv"

    def __init__(self, source: IO[bytes], size: int | None):
        super().__init__(source, size)
        self._hash = hashlib.sha256()
        self._read = 0
        self._newlines = 0
        self._rows: Iterator[tuple[int, Sequence[Any]]] = iter(())

    def _blocks(self) -> Iterator[str]:
        """Yield the file decoded, block by block, hashing and counting the bytes as they pass."""
        first = self.source.read(BLOCK)
        encoding = "utf-16" if first[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8"
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        block, started = first, False
        while True:
            final = not block
            before = self._read
            self._hash.update(block)
            self._read += len(block)
            try:
                text = decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                seen = exc.object  # what the decoder held back from the last block, then this block
                offset = before + len(block) - len(seen) + exc.start
                line = self._newlines + bytes(seen[: exc.start]).count(b"\n") + 1
                raise _not_utf8(exc, offset, line) from None
            self._newlines += block.count(b"\n")
            if not started and text:
                started = True
                text = text.removeprefix("\ufeff")
            if text:
                yield text
            if final:
                return
            block = self.source.read(BLOCK)

    def _lines(self) -> Iterator[str]:
        """Yield the text line by line with its line ending, as :mod:`csv` wants it (\\r\\n, \\n or \\r)."""
        rest = ""
        for text in self._blocks():
            if rest:
                text = rest + text
            start = 0
            for match in _EOL.finditer(text):
                end = match.end()
                if end == len(text) and match.group() == "\r":
                    break  # it may be the first half of \r\n; wait for the next block
                yield text[start:end]
                start = end
            rest = text[start:]
        if rest:
            yield rest

    def open(self) -> None:
        """Read up to the header line, choose the delimiter from it, and parse the header."""
        lines = self._lines()
        blank = 0
        first = ""
        for first in lines:
            if first.strip():
                break
            blank += 1
        if not first.strip():
            raise Invalid(_("The file has no header row."), field="file")
        self.delimiter = sniff_delimiter(first)

        def again() -> Iterator[str]:
            yield first
            yield from lines

        reader = csv.reader(again(), delimiter=self.delimiter)
        self.header_row = blank + 1
        try:
            self.header = [as_text(cell) for cell in next(reader)]
        except csv.Error as exc:
            raise self._csv_error(exc, self.header_row) from None
        self._rows = self._records(reader)

    def _csv_error(self, exc: csv.Error, row: int) -> Invalid:
        message = _("Row %(row)s cannot be read as CSV: %(reason)s.") % {"row": row, "reason": exc}
        return Invalid(message, field="file", details=[{"row": row, "column": "", "message": message}])

    def _records(self, reader: Any) -> Iterator[tuple[int, Sequence[Any]]]:
        number = self.header_row
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise self._csv_error(exc, number + 1) from None
            number += 1
            if cells and any(cells):
                yield number, cells

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        """Yield ``(row number, cells)`` for every non-empty record under the header."""
        return self._rows

    @property
    def position(self) -> int:
        """Return the number of bytes read so far."""
        return self._read

    def sha256(self) -> str:
        """Return the SHA-256 of the whole file, reading the rest of it if the import stopped early."""
        while block := self.source.read(BLOCK):
            self._hash.update(block)
            self._read += len(block)
        return self._hash.hexdigest()


def sniff_delimiter(line: str) -> str:
    """Return the delimiter a header line uses most, outside quotes: comma, semicolon or tab."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class XlsxTable(Table):
    """The first worksheet of an Excel workbook, streamed by openpyxl in read-only mode."""

    format = "xlsx"

    def __init__(self, source: IO[bytes], size: int | None):
        super().__init__(source, size)
        self._workbook: Any = None
        self._read_rows = 0
        self._max_row: int | None = None
        self._digest = ""
        self._rows: Iterator[tuple[int, Sequence[Any]]] = iter(())

    def open(self) -> None:
        """Hash the file, open the workbook and read the header row (the first non-empty one)."""
        from openpyxl import load_workbook

        digest = hashlib.sha256()
        while block := self.source.read(BLOCK):
            digest.update(block)
        self._digest = digest.hexdigest()
        self.source.seek(0)
        try:
            self._workbook = load_workbook(self.source, read_only=True, data_only=True)
            sheet = self._workbook.worksheets[0]
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError) as exc:
            raise Invalid(
                _("The file is not a readable XLSX workbook (%(reason)s).") % {"reason": exc}, field="file"
            ) from None
        self._max_row = sheet.max_row
        values = sheet.iter_rows(values_only=True)
        number = 0
        for cells in values:
            number += 1
            if any(c not in (None, "") for c in cells):
                self.header = [as_text(c) for c in cells]
                break
        else:
            raise Invalid(_("The first sheet of the workbook has no header row."), field="file")
        while self.header and not self.header[-1]:
            self.header.pop()
        self.header_row = number
        self._rows = self._records(values, number)

    def _records(self, values: Iterator[Sequence[Any]], number: int) -> Iterator[tuple[int, Sequence[Any]]]:
        for cells in values:
            number += 1
            self._read_rows = number
            if any(c not in (None, "") for c in cells):
                yield number, cells

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        """Yield ``(row number, cells)`` for every non-empty row under the header."""
        return self._rows

    @property
    def position(self) -> int:
        """Return the number of sheet rows read so far."""
        return self._read_rows

    @property
    def total(self) -> int | None:
        """Return the sheet's row count as its dimension states it (None when the file does not say)."""
        return self._max_row

    def sha256(self) -> str:
        """Return the SHA-256 of the workbook file."""
        return self._digest

    def close(self) -> None:
        """Close the workbook, which keeps the file open in read-only mode."""
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None
