"""Read transactions into an Ibis table with normalised columns, on DuckDB or Spark.

Every source becomes a table with ``customer_id`` (string), ``date`` (date), ``amount`` (float64) and,
when a product column is named, ``product_group`` (string). Sources:

* CSV files: comma (or tab, semicolon, pipe) separated with a header, or whitespace separated (any run
  of spaces/tabs, as in the CDNOW sample). With ``no_header=True`` columns are named by 1-based
  position (``3``) or as ``col3``.
* Parquet files.
* In-memory pyarrow tables and pandas DataFrames (the CRM's orders), and Ibis tables (a SQL query).

Files are read by the engine's own reader (DuckDB's or Spark's), so big files stream and never load
into Python. Dates may be ``YYYY-MM-DD``, ``YYYYMMDD``, ``YYYY/MM/DD`` or timestamps starting with
``YYYY-MM-DD``; the format is detected from the first rows. Bad input raises ``patron.errors.Invalid``
naming the column and, where it can be known, the line and the value.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from patron.analytics.engines import connect, engine_of, register_arrow, register_view
from patron.errors import Invalid

ColumnSpec = str | int

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
# Delimiters recognised in a header line, in order of preference; anything else is whitespace-separated.
DELIMITERS = (",", "\t", ";", "|")
WHITESPACE = "whitespace"
# DuckDB turns empty fields into NULL by default; with an unlikely null string instead, an empty date or
# amount is a conversion error that DuckDB reports with its line number, at no cost to good files.
_NO_NULL_STRING = "\x1e<no-null>\x1e"
# Whole lines are read as one field by splitting on a control character that text files do not contain.
_LINE_DELIMITER = "\x1f"
# Rows of the file sniffed in Python for the delimiter, the header and the date format.
_SNIFF_BYTES = 1 << 16
_SNIFF_ROWS = 50

# Detected date layouts: the regex of the raw text, DuckDB/strptime format, Spark (Java) pattern.
_DATE_LAYOUTS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "%Y-%m-%d", "yyyy-MM-dd"),
    (re.compile(r"^\d{8}$"), "%Y%m%d", "yyyyMMdd"),
    (re.compile(r"^\d{4}/\d{2}/\d{2}$"), "%Y/%m/%d", "yyyy/MM/dd"),
)
_TIMESTAMP_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
# A timestamp is read as text and cut to its first ten characters (the date in ISO form).
TIMESTAMP_FORMAT = "timestamp"


@dataclass(frozen=True)
class Columns:
    """Which source columns hold the customer, date, amount and (optionally) product group."""

    customer: ColumnSpec = "customer_id"
    date: ColumnSpec = "date"
    amount: ColumnSpec | None = "amount"
    product: ColumnSpec | None = None

    def wanted(self) -> dict[str, ColumnSpec]:
        """Return the normalised name -> user's column spec for every column that was named."""
        named: dict[str, ColumnSpec | None] = {
            "customer_id": self.customer,
            "date": self.date,
            "amount": self.amount,
            "product_group": self.product,
        }
        return {key: spec for key, spec in named.items() if spec is not None and spec != ""}


@dataclass
class Transactions:
    """A normalised transactions table plus what is needed to explain a failure in terms of the source."""

    table: ir.Table
    backend: BaseBackend
    origin: str
    has_amount: bool
    has_product: bool
    # Column spec as the user gave it, keyed by normalised name, for messages.
    labels: dict[str, str] = field(default_factory=dict)
    # Finds the first bad row of the source (slow, only called after the engine failed).
    diagnose: Callable[[], Invalid | None] | None = None
    # Engine column name -> normalised name, to translate the engine's own error messages.
    file_columns: dict[str, str] = field(default_factory=dict)
    # True when the reader already rejects missing dates and amounts (so the summary need not count them).
    validated: bool = False
    # The same table with ids as read, not trimmed of spaces: trimming every row costs the summary's query a few
    # percent, and ids padded with spaces are rare, so the summary aggregates this table and falls back to
    # ``table`` only when an id turns out padded (``summary.summary_aggregates``).
    untrimmed: ir.Table | None = None

    @property
    def engine(self) -> str:
        """Return 'duckdb' or 'spark' (or another Ibis backend's name) for this table's backend."""
        return engine_of(self.backend)

    def explain(self, error: BaseException) -> Invalid:
        """Turn an engine error raised while reading this source into an Invalid naming the bad value."""
        if isinstance(error, Invalid):
            return error
        parsed = _explain_duckdb_error(str(error), self.labels, self.file_columns)
        if parsed is not None:
            return parsed
        if self.diagnose is not None:
            found = self.diagnose()
            if found is not None:
                return found
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return Invalid(f"Could not read the transactions from {self.origin}: {first_line[:500]}")


def read_transactions(
    source: Any,
    *,
    customer_col: ColumnSpec = "customer_id",
    date_col: ColumnSpec = "date",
    amount_col: ColumnSpec | None = "amount",
    product_col: ColumnSpec | None = None,
    no_header: bool = False,
    sep: str | None = None,
    date_format: str | None = None,
    engine: str = "duckdb",
    backend: BaseBackend | None = None,
    spark_master: str | None = None,
) -> Transactions:
    """Read a file path, pyarrow/pandas table or Ibis table into normalised transactions."""
    columns = Columns(customer_col, date_col, amount_col, product_col)
    if isinstance(source, Transactions):
        return source
    if isinstance(source, ir.Table):
        return _from_ibis(source, columns, date_format)
    if backend is None:
        backend = connect(engine, spark_master)
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise Invalid(f"File not found: {path}", field="file")
        if path.is_dir():
            raise Invalid(f"{path} is a folder; give a CSV or Parquet file.", field="file")
        if path.suffix.lower() in PARQUET_SUFFIXES:
            return _from_parquet(path, columns, backend, date_format)
        return _from_text(path, columns, backend, no_header=no_header, sep=sep, date_format=date_format)
    if _is_pandas(source):
        source = pa.Table.from_pandas(source, preserve_index=False)
    if isinstance(source, pa.RecordBatchReader):
        source = source.read_all()
    if isinstance(source, pa.Table):
        return _from_arrow(source, columns, backend, date_format)
    raise Invalid(
        f"Cannot read transactions from a {type(source).__name__}: give a CSV or Parquet path, a pyarrow "
        "table, a pandas DataFrame or an Ibis table."
    )


# --- column resolution -----------------------------------------------------------------------------


def _resolve(spec: ColumnSpec, names: list[str], *, positional: bool, role: str, origin: str) -> int:
    """Return the 0-based index of the column ``spec`` among ``names`` or raise Invalid saying why."""
    text = str(spec).strip()
    position: int | None = None
    if isinstance(spec, int) or text.isdigit():
        position = int(text)
    elif re.fullmatch(r"(?i)col(\d+)", text):
        position = int(text[3:])
    if positional:
        if position is None:
            raise Invalid(
                f"The {role} column {text!r}: a file without a header names columns by position "
                f"(1 to {len(names)}) or as col1..col{len(names)}.",
                field=role,
            )
    else:
        if text in names:
            return names.index(text)
        folded = [name.casefold() for name in names]
        if text.casefold() in folded:
            return folded.index(text.casefold())
        if position is None:
            shown = ", ".join(repr(name) for name in names[:30])
            raise Invalid(f"The {role} column {text!r} is not in {origin}; its columns are {shown}.", field=role)
    assert position is not None
    if not 1 <= position <= len(names):
        raise Invalid(
            f"The {role} column is position {position}, but {origin} has {len(names)} columns.", field=role
        )
    return position - 1


def _resolve_all(
    columns: Columns, names: list[str], *, positional: bool, origin: str
) -> tuple[dict[str, int], dict[str, str]]:
    """Resolve every named column to an index; return indexes and human labels by normalised name."""
    indexes: dict[str, int] = {}
    labels: dict[str, str] = {}
    roles = {"customer_id": "customer", "date": "date", "amount": "amount", "product_group": "product"}
    for key, spec in columns.wanted().items():
        index = _resolve(spec, names, positional=positional, role=roles[key], origin=origin)
        indexes[key] = index
        labels[key] = names[index]
    return indexes, labels


# --- date formats ----------------------------------------------------------------------------------


def detect_date_format(
    values: list[str], *, label: str = "date", where: str = "", lines: list[int] | None = None
) -> str:
    """Return the strptime format of date strings (YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD or a timestamp).

    ``lines`` gives the file line of each value, so a bad one can be pointed at.
    """
    line_numbers: list[int | None] = list(lines) if lines else [None] * len(values)
    numbered = list(zip(values, line_numbers, strict=True))
    sample = [(value.strip(), line) for value, line in numbered if value is not None and value.strip()]
    if not sample:
        raise Invalid(f"The date column {label} is empty{where}.", field="date")
    for pattern, fmt, _ in _DATE_LAYOUTS:
        if all(pattern.match(value) for value, _ in sample):
            return fmt
    if all(_TIMESTAMP_TEXT.match(value) for value, _ in sample):
        return TIMESTAMP_FORMAT
    # Name the first value that fits no layout, or else the first that breaks the majority's layout.
    first_layout = next((p for p, _, _ in _DATE_LAYOUTS if p.match(sample[0][0])), None)
    bad, line = next(
        ((value, line) for value, line in sample
         if not (first_layout.match(value) if first_layout else _TIMESTAMP_TEXT.match(value))),
        sample[0],
    )
    place = f" on line {line}" if line is not None else where
    raise Invalid(
        f"The date column {label} has {bad!r}{place}, which is not a date like 2024-03-31 or 20240331.",
        field="date",
        details=[{"line": line, "value": bad}] if line is not None else [{"value": bad}],
    )


def _spark_pattern(fmt: str) -> str:
    """Return the Java date pattern for one of the detected strptime formats."""
    for _, strptime_format, java in _DATE_LAYOUTS:
        if strptime_format == fmt:
            return java
    if fmt == TIMESTAMP_FORMAT:
        return "yyyy-MM-dd"
    raise Invalid(f"Unsupported date format {fmt!r}: use YYYY-MM-DD or YYYYMMDD.", field="date_format")


def _check_date_format(fmt: str) -> str:
    """Accept only the formats both engines parse identically."""
    if fmt == TIMESTAMP_FORMAT or any(fmt == known for _, known, _ in _DATE_LAYOUTS):
        return fmt
    aliases = {"YYYY-MM-DD": "%Y-%m-%d", "YYYYMMDD": "%Y%m%d", "YYYY/MM/DD": "%Y/%m/%d"}
    if fmt.upper() in aliases:
        return aliases[fmt.upper()]
    raise Invalid(
        f"Unsupported date format {fmt!r}: use %Y-%m-%d (YYYY-MM-DD), %Y%m%d (YYYYMMDD) or %Y/%m/%d.",
        field="date_format",
    )


def _parse_date_text(value: str, fmt: str) -> dt.date:
    """Parse one date string the way the engines do (used by the slow diagnostic scan only)."""
    text = value.strip()
    if fmt == TIMESTAMP_FORMAT:
        text, fmt = text[:10], "%Y-%m-%d"
    if not text:
        raise ValueError("empty")
    return dt.datetime.strptime(text, fmt).date()


# --- text files ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextLayout:
    """What sniffing the start of a text file found: delimiter, column names and sample rows."""

    delimiter: str
    names: list[str]
    header: bool
    sample: list[list[str]]
    header_line: str
    sample_lines: list[int]


def _split_line(line: str, delimiter: str) -> list[str]:
    """Split one line as the engine will: by the delimiter (with CSV quoting) or runs of whitespace."""
    if delimiter == WHITESPACE:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter))


def sniff_text(path: Path, *, no_header: bool, sep: str | None) -> TextLayout:
    """Read the first lines of a text file to find its delimiter, header and a sample of rows."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise Invalid(f"{path.name} is empty.", field="file")
    if b"\x00" in head:
        raise Invalid(f"{path.name} is not a text file (CSV or whitespace separated).", field="file")
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    numbered = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if len(head) == _SNIFF_BYTES and len(numbered) > 1:
        numbered = numbered[:-1]  # the last line may be cut in the middle
    first = numbered[0][1]
    if sep is not None:
        delimiter = WHITESPACE if sep.lower() in {"whitespace", "space", " ", "\\s+"} else sep
        if delimiter != WHITESPACE and len(delimiter) != 1:
            raise Invalid(f"The separator must be one character or 'whitespace', not {sep!r}.", field="sep")
    else:
        delimiter = next((candidate for candidate in DELIMITERS if candidate in first), WHITESPACE)
    rows = [_split_line(line, delimiter) for _, line in numbered[: _SNIFF_ROWS + 1]]
    line_numbers = [number for number, _ in numbered[: _SNIFF_ROWS + 1]]
    skip = 0 if no_header else 1
    names = (
        [f"col{position}" for position in range(1, len(rows[0]) + 1)]
        if no_header
        else [name.strip() for name in rows[0]]
    )
    return TextLayout(
        delimiter, names, not no_header, rows[skip : skip + _SNIFF_ROWS], first,
        line_numbers[skip : skip + _SNIFF_ROWS],
    )


def _from_text(
    path: Path,
    columns: Columns,
    backend: BaseBackend,
    *,
    no_header: bool,
    sep: str | None,
    date_format: str | None,
) -> Transactions:
    layout = sniff_text(path, no_header=no_header, sep=sep)
    origin = path.name
    indexes, labels = _resolve_all(columns, layout.names, positional=no_header, origin=origin)
    if date_format:
        fmt = _check_date_format(date_format)
    else:
        numbered = [
            (row[indexes["date"]], line)
            for line, row in zip(layout.sample_lines, layout.sample, strict=True)
            if len(row) > indexes["date"]
        ]
        if not numbered:
            raise Invalid(f"{origin} has no data rows.", field="file")
        fmt = detect_date_format(
            [value for value, _ in numbered], label=repr(labels["date"]), lines=[line for _, line in numbered]
        )
    engine = engine_of(backend)
    if engine == "spark":
        table = _spark_text(backend, path, layout, indexes, fmt)
    else:
        table = _duckdb_text(backend, path, layout, indexes, fmt)
    untrimmed = _normalise(
        table, has_amount="amount" in indexes, has_product="product_group" in indexes, trim_ids=False
    )
    table = _normalise(table, has_amount="amount" in indexes, has_product="product_group" in indexes)

    def diagnose() -> Invalid | None:
        """Scan the file in Python for the first bad line."""
        return _scan_text_file(path, layout, indexes, labels, fmt)

    file_columns = {f"c{index}": key for key, index in indexes.items()}
    # DuckDB's CSV reader itself rejects empty or malformed dates and amounts (see _NO_NULL_STRING).
    validated = engine == "duckdb" and layout.delimiter != WHITESPACE
    return Transactions(
        table,
        backend,
        origin,
        "amount" in indexes,
        "product_group" in indexes,
        labels,
        diagnose,
        file_columns,
        validated,
        untrimmed,
    )


def _sql_string(value: str) -> str:
    """Quote a value as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _duckdb_text(
    backend: BaseBackend, path: Path, layout: TextLayout, indexes: dict[str, int], fmt: str
) -> ir.Table:
    """Build a DuckDB read of the text file that parses the needed columns in its CSV reader."""
    location = _sql_string(str(path))
    if layout.delimiter == WHITESPACE:
        # DuckDB's CSV reader has no "runs of whitespace" delimiter: read whole lines and split them.
        reader = (
            f"read_csv({location}, columns={{'line': 'VARCHAR'}}, delim={_sql_string(_LINE_DELIMITER)}, quote='', escape='', "
            f"header={'true' if layout.header else 'false'}, auto_detect=false, "
            f"nullstr={_sql_string(_NO_NULL_STRING)})"
        )
        fields = "string_split_regex(trim(line), '\\s+')"
        parts = []
        for key, index in indexes.items():
            raw = f"{fields}[{index + 1}]"
            parts.append(f"{_duckdb_parse(key, raw, fmt)} AS {key}")
        return register_view(backend, f"SELECT {', '.join(parts)} FROM {reader} WHERE trim(line) <> ''")
    # Name file columns by position so duplicate or empty header names cannot clash.
    types = {}
    for position in range(len(layout.names)):
        types[f"c{position}"] = "VARCHAR"
    wanted = {index: key for key, index in indexes.items()}
    date_index = indexes["date"]
    if fmt != TIMESTAMP_FORMAT:
        types[f"c{date_index}"] = "DATE"
    if "amount" in indexes:
        types[f"c{indexes['amount']}"] = "DOUBLE"
    column_sql = ", ".join(f"{_sql_string(name)}: {_sql_string(kind)}" for name, kind in types.items())
    options = [
        f"delim={_sql_string(layout.delimiter)}",
        f"header={'true' if layout.header else 'false'}",
        f"columns={{{column_sql}}}",
        "quote='\"'",
        "escape='\"'",
        "auto_detect=false",
        f"nullstr={_sql_string(_NO_NULL_STRING)}",
    ]
    if fmt != TIMESTAMP_FORMAT:
        options.append(f"dateformat={_sql_string(fmt)}")
    reader = f"read_csv({location}, {', '.join(options)})"
    parts = []
    for index, key in sorted(wanted.items()):
        raw = f"c{index}"
        if key == "date" and fmt == TIMESTAMP_FORMAT:
            parts.append(f"CAST(strptime(left(trim({raw}), 10), '%Y-%m-%d') AS DATE) AS date")
        elif key in {"date", "amount"}:
            parts.append(f"{raw} AS {key}")
        else:
            parts.append(f"{raw} AS {key}")
    return register_view(backend, f"SELECT {', '.join(parts)} FROM {reader}")


def _duckdb_parse(key: str, raw: str, fmt: str) -> str:
    """Return the DuckDB SQL that turns a text field into the normalised column ``key``."""
    if key == "date":
        if fmt == TIMESTAMP_FORMAT:
            return f"CAST(strptime(left({raw}, 10), '%Y-%m-%d') AS DATE)"
        return f"CAST(strptime({raw}, {_sql_string(fmt)}) AS DATE)"
    if key == "amount":
        return f"CAST({raw} AS DOUBLE)"
    return raw


def _spark_text(
    backend: BaseBackend, path: Path, layout: TextLayout, indexes: dict[str, int], fmt: str
) -> ir.Table:
    """Build a Spark read of the text file (CSV reader, or text lines split on whitespace)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    session = backend._session  # type: ignore[attr-defined]
    if layout.delimiter == WHITESPACE:
        lines = session.read.text(str(path))
        lines = lines.filter(F.trim(F.col("value")) != "")
        if layout.header:
            # Spark's text reader has no header option; the header line is the one line equal to it.
            lines = lines.filter(F.col("value") != layout.header_line)
        fields = F.split(F.trim(F.col("value")), r"\s+")
        raw = {key: F.get(fields, index) for key, index in indexes.items()}
    else:
        schema = StructType([StructField(f"c{i}", StringType(), True) for i in range(len(layout.names))])
        frame = session.read.csv(
            str(path),
            schema=schema,
            sep=layout.delimiter,
            header=layout.header,
            quote='"',
            escape='"',
            mode="FAILFAST",
            # Values are taken verbatim, as DuckDB's reader does; ids are trimmed of spaces later.
            ignoreLeadingWhiteSpace=False,
            ignoreTrailingWhiteSpace=False,
        )
        raw = {key: F.col(f"c{index}") for key, index in indexes.items()}
        lines = frame
    selected = []
    for key, column in raw.items():
        if key == "date":
            text = F.trim(column)
            if fmt == TIMESTAMP_FORMAT:
                text = F.substring(text, 1, 10)
            selected.append(F.to_date(text, _spark_pattern(fmt)).alias("date"))
        elif key == "amount":
            selected.append(F.trim(column).cast("double").alias("amount"))
        else:
            selected.append(column.alias(key))
    frame = lines.select(*selected)
    name = ibis.util.gen_name("patron_transactions")
    frame.createOrReplaceTempView(name)
    return backend.table(name)


def _scan_text_file(
    path: Path, layout: TextLayout, indexes: dict[str, int], labels: dict[str, str], fmt: str
) -> Invalid | None:
    """Find the first bad line of a text file in Python (slow; only after the engine has failed)."""
    needed = max(indexes.values()) + 1
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        if layout.delimiter == WHITESPACE:
            rows: Iterator[list[str]] = (line.split() for line in handle)
        else:
            rows = csv.reader(handle, delimiter=layout.delimiter)
        for line_number, row in enumerate(rows, start=1):
            if line_number == 1 and layout.header:
                continue
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) < needed:
                return Invalid(
                    f"Line {line_number} of {path.name} has {len(row)} fields, fewer than the {needed} needed.",
                    details=[{"line": line_number}],
                )
            problem = check_values(
                {key: row[index] for key, index in indexes.items()}, fmt, labels, where=f"line {line_number}"
            )
            if problem is not None:
                problem.details = [{"line": line_number, **(problem.details[0] if problem.details else {})}]
                return problem
    return None


def check_values(values: dict[str, Any], fmt: str | None, labels: dict[str, str], *, where: str) -> Invalid | None:
    """Return an Invalid describing the first bad value of one row, or None when the row is fine."""
    customer = values.get("customer_id")
    if customer is None or (isinstance(customer, str) and not customer.strip()):
        return Invalid(
            f"The customer column {labels.get('customer_id', 'customer_id')!r} is empty on {where}.",
            field="customer_id",
            details=[{"column": labels.get("customer_id")}],
        )
    date_value = values.get("date")
    if date_value is None or (isinstance(date_value, str) and not date_value.strip()):
        return Invalid(
            f"The date column {labels.get('date', 'date')!r} is empty on {where}.",
            field="date",
            details=[{"column": labels.get("date")}],
        )
    if isinstance(date_value, str) and fmt is not None:
        try:
            _parse_date_text(date_value, fmt)
        except ValueError:
            shown = "YYYY-MM-DD" if fmt in {"%Y-%m-%d", TIMESTAMP_FORMAT} else fmt.replace("%", "")
            return Invalid(
                f"The date column {labels.get('date', 'date')!r} has {date_value.strip()!r} on {where}, "
                f"which is not a valid date ({shown}).",
                field="date",
                details=[{"column": labels.get("date"), "value": date_value}],
            )
    if "amount" in values:
        amount = values["amount"]
        bad = amount is None or (isinstance(amount, str) and not amount.strip())
        if not bad and isinstance(amount, str):
            try:
                bad = not math.isfinite(float(amount.strip()))
            except ValueError:
                bad = True
        if bad:
            return Invalid(
                f"The amount column {labels.get('amount', 'amount')!r} has {amount!r} on {where}, "
                "which is not a number.",
                field="amount",
                details=[{"column": labels.get("amount"), "value": amount}],
            )
    return None


_DUCKDB_LINE = re.compile(r"CSV Error on Line: (\d+)")
_DUCKDB_CONVERT = re.compile(r'Error when converting column "([^"]*)"\. Could not convert string "(.*?)" to')
_DUCKDB_COUNT = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def _explain_duckdb_error(message: str, labels: dict[str, str], file_columns: dict[str, str]) -> Invalid | None:
    """Parse DuckDB's CSV reader error (which names the line, column and value) into an Invalid."""
    line_match = _DUCKDB_LINE.search(message)
    if not line_match:
        return None
    line = int(line_match.group(1))
    convert = _DUCKDB_CONVERT.search(message)
    if convert:
        column, value = convert.group(1), convert.group(2)
        # File columns are named c<index>; map back to the role the user gave that column.
        key = file_columns.get(column, column)
        label = labels.get(key, column)
        if key == "date":
            text = "is empty" if value == "" else f"has {value!r}, which is not a valid date,"
            return Invalid(
                f"The date column {label!r} {text} on line {line}.",
                field="date",
                details=[{"line": line, "column": label, "value": value}],
            )
        if key == "amount":
            text = "is empty" if value == "" else f"has {value!r}, which is not a number,"
            return Invalid(
                f"The amount column {label!r} {text} on line {line}.",
                field="amount",
                details=[{"line": line, "column": label, "value": value}],
            )
        return Invalid(f"Could not read {value!r} in column {label!r} on line {line}.", details=[{"line": line}])
    count = _DUCKDB_COUNT.search(message)
    if count:
        return Invalid(
            f"Line {line} has {count.group(2)} fields where the header has {count.group(1)}.",
            details=[{"line": line}],
        )
    return Invalid(f"The file cannot be read at line {line}.", details=[{"line": line}])


# --- Parquet, Arrow, Ibis --------------------------------------------------------------------------


def _from_parquet(path: Path, columns: Columns, backend: BaseBackend, date_format: str | None) -> Transactions:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise Invalid(f"{path.name} is not a readable Parquet file: {error}", field="file") from error
    names = list(schema.names)
    indexes, labels = _resolve_all(columns, names, positional=False, origin=path.name)
    picked = {key: names[index] for key, index in indexes.items()}
    fmt = date_format and _check_date_format(date_format)
    date_type = schema.field(picked["date"]).type
    if fmt is None and (pa.types.is_string(date_type) or pa.types.is_large_string(date_type)
                        or pa.types.is_integer(date_type)):
        first = pq.ParquetFile(path).iter_batches(batch_size=_SNIFF_ROWS, columns=[picked["date"]])
        sample = next(first, None)
        values = [] if sample is None else [str(v) for v in sample.column(0).to_pylist() if v is not None]
        fmt = detect_date_format(values, label=repr(picked["date"]), where=f" in {path.name}")
    if engine_of(backend) == "spark":
        frame = backend._session.read.parquet(str(path))  # type: ignore[attr-defined]
        name = ibis.util.gen_name("patron_parquet")
        frame.createOrReplaceTempView(name)
        raw = backend.table(name)
    else:
        raw = backend.read_parquet(str(path))
    table = _normalise_typed(raw, picked, fmt)

    def diagnose() -> Invalid | None:
        """Check the Parquet file batch by batch for the first bad row."""
        return _scan_arrow_batches(
            pq.ParquetFile(path).iter_batches(batch_size=1 << 16, columns=list(dict.fromkeys(picked.values()))),
            picked,
            labels,
            fmt,
            where="row",
        )

    return Transactions(
        table, backend, path.name, "amount" in picked, "product_group" in picked, labels, diagnose
    )


def _from_arrow(table: pa.Table, columns: Columns, backend: BaseBackend, date_format: str | None) -> Transactions:
    names = list(table.column_names)
    indexes, labels = _resolve_all(columns, names, positional=False, origin="the table")
    picked = {key: names[index] for key, index in indexes.items()}
    # Validate and convert in Arrow first: vectorised, exact row numbers, and the engine gets clean types.
    normalised = normalise_arrow(table, picked, labels, date_format)
    ibis_table = register_arrow(backend, normalised, prefix="patron_orders")
    has_amount, has_product = "amount" in picked, "product_group" in picked
    return Transactions(
        # normalise_arrow has trimmed the ids already.
        _normalise(ibis_table, has_amount=has_amount, has_product=has_product, trim_ids=False),
        backend,
        "the table",
        has_amount,
        has_product,
        labels,
        None,
        validated=True,
    )


def normalise_arrow(
    table: pa.Table, picked: dict[str, str], labels: dict[str, str], date_format: str | None = None
) -> pa.Table:
    """Return the normalised Arrow table (customer_id, date, amount[, product_group]) or raise Invalid."""
    arrays: dict[str, pa.Array] = {}
    length = table.num_rows
    customer = table.column(picked["customer_id"]).combine_chunks()
    if not pa.types.is_string(customer.type):
        customer = pc.cast(customer, pa.string())
    # Spaces only, as the engines' trim(x) does for ids read from files.
    customer = pc.utf8_trim(customer, characters=" ")
    empty = pc.or_kleene(pc.is_null(customer), pc.equal(customer, ""))
    _raise_at_first(empty, lambda row: check_values({"customer_id": None}, None, labels, where=f"row {row + 1}"))
    arrays["customer_id"] = customer
    arrays["date"] = _arrow_dates(table.column(picked["date"]).combine_chunks(), labels, date_format)
    if "amount" in picked:
        amount = table.column(picked["amount"]).combine_chunks()
        arrays["amount"] = _arrow_amounts(amount, labels)
    else:
        arrays["amount"] = pa.array([0.0] * length, pa.float64()) if length else pa.array([], pa.float64())
    if "product_group" in picked:
        product = table.column(picked["product_group"]).combine_chunks()
        arrays["product_group"] = product if pa.types.is_string(product.type) else pc.cast(product, pa.string())
    return pa.table(arrays)


def _raise_at_first(bad: pa.Array, describe: Callable[[int], Invalid | None]) -> None:
    """Raise the Invalid for the first True position of ``bad`` (nulls count as False)."""
    bad = pc.fill_null(bad, False)
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        problem = describe(row)
        if problem is not None:
            problem.details = [{"row": row + 1, **(problem.details[0] if problem.details else {})}]
            raise problem


def _arrow_dates(values: pa.Array, labels: dict[str, str], date_format: str | None) -> pa.Array:
    """Convert an Arrow column of dates, timestamps, YYYYMMDD integers or date strings to date32."""
    label = labels.get("date", "date")
    missing = pc.is_null(values)
    _raise_at_first(missing, lambda row: check_values({"customer_id": "x", "date": None}, None, labels,
                                                       where=f"row {row + 1}"))
    kind = values.type
    if pa.types.is_date(kind):
        return pc.cast(values, pa.date32())
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            values = pc.cast(values, pa.timestamp(kind.unit, "UTC"))
        return pc.cast(pc.cast(values, pa.timestamp(kind.unit)), pa.date32())
    if pa.types.is_integer(kind):
        values = pc.cast(values, pa.string())
        kind = pa.string()
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise Invalid(f"The date column {label!r} holds {kind}, not dates.", field="date")
    text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    sample = text.slice(0, _SNIFF_ROWS).to_pylist()
    fmt = _check_date_format(date_format) if date_format else detect_date_format(sample, label=repr(label))
    if fmt == TIMESTAMP_FORMAT:
        text, fmt = pc.utf8_slice_codeunits(text, 0, 10), "%Y-%m-%d"
    parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    _raise_at_first(
        pc.is_null(parsed),
        lambda row: check_values({"customer_id": "x", "date": values[row].as_py() or ""}, fmt, labels,
                                 where=f"row {row + 1}"),
    )
    return pc.cast(parsed, pa.date32())


def _arrow_amounts(values: pa.Array, labels: dict[str, str]) -> pa.Array:
    """Convert an Arrow column of numbers or numeric strings to float64, rejecting blanks and text."""
    label = labels.get("amount", "amount")
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
        numeric = pc.match_substring_regex(text, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
        _raise_at_first(
            pc.invert(pc.fill_null(numeric, False)),
            lambda row: check_values({"customer_id": "x", "date": dt.date.min, "amount": values[row].as_py()},
                                     None, labels, where=f"row {row + 1}"),
        )
        return pc.cast(text, pa.float64())
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise Invalid(f"The amount column {label!r} holds {kind}, not numbers.", field="amount")
    amounts = pc.cast(values, pa.float64())
    bad = pc.or_kleene(pc.is_null(amounts), pc.invert(pc.is_finite(amounts)))
    _raise_at_first(
        bad,
        lambda row: check_values({"customer_id": "x", "date": dt.date.min, "amount": None}, None, labels,
                                 where=f"row {row + 1}"),
    )
    return amounts


def _scan_arrow_batches(
    batches: Iterator[pa.RecordBatch], picked: dict[str, str], labels: dict[str, str], fmt: str | None, *, where: str
) -> Invalid | None:
    """Run the Arrow checks batch by batch to find the first bad row of a Parquet file."""
    offset = 0
    for batch in batches:
        table = pa.Table.from_batches([batch])
        try:
            normalise_arrow(table, picked, labels, fmt)
        except Invalid as problem:
            if problem.details and "row" in problem.details[0]:
                row = problem.details[0]["row"] + offset
                problem.details[0]["row"] = row
                problem.message = re.sub(r"row \d+", f"{where} {row}", problem.message)
                problem.args = (problem.message,)
            return problem
        offset += batch.num_rows
    return None


def _from_ibis(table: ir.Table, columns: Columns, date_format: str | None) -> Transactions:
    names = list(table.columns)
    indexes, labels = _resolve_all(columns, names, positional=False, origin="the table")
    picked = {key: names[index] for key, index in indexes.items()}
    fmt = _check_date_format(date_format) if date_format else None
    date_type = table[picked["date"]].type()
    if fmt is None and (date_type.is_string() or date_type.is_integer()):
        sample = table.select(value=table[picked["date"]].cast(idt.string)).limit(_SNIFF_ROWS).to_pyarrow()
        fmt = detect_date_format(
            [v for v in sample.column(0).to_pylist() if v is not None], label=repr(picked["date"])
        )
    backend = table._find_backend(use_default=True)
    normalised = _normalise_typed(table, picked, fmt)
    return Transactions(
        normalised, backend, "the table", "amount" in picked, "product_group" in picked, labels, None
    )


def _normalise_typed(raw: ir.Table, picked: dict[str, str], fmt: str | None) -> ir.Table:
    """Convert typed source columns (Parquet, SQL) to the normalised schema with Ibis expressions."""
    values: dict[str, ir.Value] = {}
    customer = raw[picked["customer_id"]]
    values["customer_id"] = customer if customer.type().is_string() else customer.cast(idt.string)
    date = raw[picked["date"]]
    kind = date.type()
    if kind.is_date():
        values["date"] = date
    elif kind.is_timestamp():
        values["date"] = date.date()
    elif kind.is_string() or kind.is_integer():
        text = date.cast(idt.string).strip()
        if fmt == TIMESTAMP_FORMAT:
            text, fmt = text.substr(0, 10), "%Y-%m-%d"
        values["date"] = text.as_date(fmt or "%Y-%m-%d")
    else:
        raise Invalid(f"The date column {picked['date']!r} holds {kind}, not dates.", field="date")
    if "amount" in picked:
        amount = raw[picked["amount"]]
        if not (amount.type().is_numeric() or amount.type().is_string()):
            raise Invalid(f"The amount column {picked['amount']!r} holds {amount.type()}, not numbers.",
                          field="amount")
        values["amount"] = (amount.strip() if amount.type().is_string() else amount).cast(idt.float64)
    if "product_group" in picked:
        values["product_group"] = raw[picked["product_group"]].cast(idt.string)
    return _normalise(raw.select(**values), has_amount="amount" in picked, has_product="product_group" in picked)


@ibis.udf.scalar.builtin(name="trim")
def _trim_spaces(value: str) -> str:  # type: ignore[empty-body]
    """Remove leading and trailing spaces (DuckDB and Spark trim(x) alike).

    Ibis's strip() removes tabs and newlines too and compiles to DuckDB's TRIM(x, chars), which made
    the whole summary about 30% slower on a million customers.
    """


def _normalise(table: ir.Table, *, has_amount: bool, has_product: bool, trim_ids: bool = True) -> ir.Table:
    """Give every source the same schema: trimmed string ids, dates, float amounts (0 when absent).

    ``trim_ids=False`` leaves the ids as read (see ``Transactions.untrimmed``).
    """
    ids = table.customer_id.cast(idt.string)
    values: dict[str, ir.Value] = {
        "customer_id": _trim_spaces(ids) if trim_ids else ids,
        "date": table.date.cast(idt.date),
        "amount": table.amount.cast(idt.float64) if has_amount else ibis.literal(0.0, idt.float64),
    }
    if has_product:
        values["product_group"] = table.product_group.cast(idt.string)
    return table.select(**values)


def _is_pandas(value: Any) -> bool:
    """Return True for a pandas DataFrame without importing pandas when it is not in use."""
    module = type(value).__module__
    return module.startswith("pandas") and type(value).__name__ == "DataFrame"
