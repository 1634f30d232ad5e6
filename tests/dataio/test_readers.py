"""Opening files: CSV in UTF-8 with any of three delimiters, bad bytes named by offset and line, XLSX streamed."""

from __future__ import annotations

import codecs
import hashlib
import io

import pytest

from patron.dataio.readers import open_table
from patron.errors import Invalid
from tests.dataio.conftest import xlsx_bytes


def rows_of(data: bytes) -> tuple[list[str], list[tuple[int, list]]]:
    table = open_table(io.BytesIO(data), name="f")
    try:
        return table.header, [(n, list(c)) for n, c in table.rows()]
    finally:
        table.close()


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiter_is_taken_from_the_header(delimiter):
    text = delimiter.join(["external_id", "name", "note"]) + "\n" + delimiter.join(["A1", "Acme", '"x,y;z"']) + "\n"
    header, rows = rows_of(text.encode())
    assert header == ["external_id", "name", "note"]
    assert rows == [(2, ["A1", "Acme", "x,y;z"])]


def test_byte_order_mark_and_windows_line_endings_are_fine():
    header, rows = rows_of(codecs.BOM_UTF8 + "external_id;name\r\nA1;Zażółć\r\n".encode())
    assert header == ["external_id", "name"]
    assert rows == [(2, ["A1", "Zażółć"])]


def test_utf16_with_byte_order_mark_as_excel_saves_unicode_text():
    header, rows = rows_of("external_id\tname\nA1\tБългария\n".encode("utf-16"))
    assert header == ["external_id", "name"]
    assert rows == [(2, ["A1", "България"])]


def test_rows_are_numbered_as_a_spreadsheet_shows_them():
    data = b'\n\nexternal_id,note\nA1,"two\nlines"\n\nA2,after a blank row\n'
    header, rows = rows_of(data)
    assert header == ["external_id", "note"]
    # Blank lines before the header are skipped; the header is row 3; blank rows keep their number.
    assert rows == [(4, ["A1", "two\nlines"]), (6, ["A2", "after a blank row"])]


def test_a_byte_that_is_not_utf8_is_named_by_offset_and_line():
    data = "external_id,name\nA1,Café\n".encode() + b"A2,Caf\xe9 Paris\n"
    with pytest.raises(Invalid) as caught:
        list(open_table(io.BytesIO(data), name="f").rows())
    offset = data.index(b"\xe9")
    assert f"offset {offset}" in caught.value.message
    assert "line 3" in caught.value.message
    assert caught.value.details[0]["line"] == 3
    assert caught.value.details[0]["offset"] == offset


def test_a_bad_byte_far_into_a_big_file_is_found_exactly():
    good = "external_id,name\n" + "".join(f"A{i},Name {i} żółw\n" for i in range(20_000))
    data = good.encode() + b"B1,\xff\n"
    table = open_table(io.BytesIO(data), name="f")
    with pytest.raises(Invalid) as caught:
        list(table.rows())
    assert caught.value.details[0] == {
        "line": 20_002,
        "offset": len(good.encode()) + 3,
        "column": "",
        "message": caught.value.message,
    }


def test_csv_hash_covers_the_whole_file_even_when_reading_stops_early():
    data = b"external_id\n" + b"".join(b"A%d\n" % i for i in range(50_000))
    table = open_table(io.BytesIO(data), name="f")
    next(iter(table.rows()))
    assert table.sha256() == hashlib.sha256(data).hexdigest()
    assert table.position == len(data)


def test_xlsx_rows_stream_with_their_sheet_row_numbers():
    data = xlsx_bytes([["external_id", "amount", None], ["A1", 12.5, None], [None, None, None], ["A2", 3, None]])
    table = open_table(io.BytesIO(data), name="f.xlsx")
    try:
        assert table.format == "xlsx"
        assert table.header == ["external_id", "amount"]
        assert [(n, list(c)[:2]) for n, c in table.rows()] == [(2, ["A1", 12.5]), (4, ["A2", 3])]
        assert table.sha256() == hashlib.sha256(data).hexdigest()
    finally:
        table.close()


def test_xlsx_header_may_sit_below_empty_rows():
    table = open_table(io.BytesIO(xlsx_bytes([["external_id"], ["A1"]], title_rows=2)), name="f.xlsx")
    try:
        assert table.header_row == 3
        assert [n for n, _c in table.rows()] == [4]
    finally:
        table.close()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "no header"),
        (b"\xd0\xcf\x11\xe0rest-of-an-old-xls", "Excel 97"),
        (b"PK\x03\x04not really a zip", "not a readable XLSX"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(data, message):
    with pytest.raises(Invalid, match=message):
        open_table(io.BytesIO(data), name="f")
