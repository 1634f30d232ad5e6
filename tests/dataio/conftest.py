"""Fixtures for imports: the sample files, files made on the fly (CSV text or XLSX rows), and a way to run an import."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import translation
from openpyxl import Workbook

from patron.core.models import Role
from patron.dataio import services
from patron.errors import PatronError
from tests.factories import UserFactory

FILES = Path(__file__).parent / "files"


def xlsx_bytes(rows: list[list[object]], *, title_rows: int = 0) -> bytes:
    """Return an XLSX workbook whose first sheet holds ``rows`` (after ``title_rows`` empty rows)."""
    book = Workbook()
    sheet = book.active
    for _ in range(title_rows):
        sheet.append([])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run_import(user, kind: str, content: bytes | str, *, name: str = "file.csv", **options):
    """Import ``content`` as one request or command would: in one transaction; return the run or the error."""
    data = content.encode() if isinstance(content, str) else content
    with transaction.atomic():
        try:
            return services.import_file(user, kind, io.BytesIO(data), file_name=name, **options)
        except PatronError as exc:
            return exc


def import_sample(user, kind: str, name: str, **options):
    """Import one of the sample files under tests/dataio/files/."""
    return run_import(user, kind, (FILES / name).read_bytes(), name=name, **options)


@pytest.fixture(autouse=True)
def in_english():
    """Read messages in English whatever language an earlier test left active in this thread."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """Hash the factories' passwords cheaply: these tests are about files, not sign-in."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def max_mustermann(db):
    """The account executive the sample files name as owner (by e-mail or by full name)."""
    return UserFactory(
        username="max.mustermann",
        email="max.mustermann@example.com",
        first_name="Max",
        last_name="Mustermann",
        role=Role.MEMBER,
    )
