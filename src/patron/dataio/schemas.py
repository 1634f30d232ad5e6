"""API shapes of imports: a run with its counts, its row errors and warnings, and what each kind's file may hold."""

from datetime import datetime

from ninja import Schema


class RowProblem(Schema):
    row: int | None = None
    column: str = ""
    field: str = ""
    message: str
    line: int | None = None
    offset: int | None = None


class ImportRunOut(Schema):
    id: int
    user_id: int | None
    kind: str
    preset: str
    file_name: str
    file_format: str
    file_size: int | None
    sha256: str
    dry_run: bool
    status: str
    rows: int
    created: int
    updated: int
    unchanged: int
    warning_count: int
    message: str
    started_at: datetime
    finished_at: datetime | None


class ImportRunDetail(ImportRunOut):
    mapping: dict[str, str]
    errors: list[RowProblem]
    warnings: list[RowProblem]


class ImportRunPage(Schema):
    items: list[ImportRunOut]
    next_cursor: str | None = None


class FieldOut(Schema):
    name: str
    label: str
    required: bool
    key: bool
    reads: str
    choices: list[str]
    preset_columns: list[str]


class KindOut(Schema):
    kind: str
    label: str
    keys: list[str]
    preset: str
    fields: list[FieldOut]
