"""``patron import KIND FILE``: the summary, the row errors and exit status, the user it runs as, mapping and dry runs."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from patron.core.models import Role
from patron.customers.models import Account, Contact
from patron.dataio.models import ImportRun
from tests.dataio.conftest import FILES
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def patron_import(*args: str) -> str:
    out = io.StringIO()
    call_command("import", *args, stdout=out)
    return out.getvalue()


def test_imports_as_the_first_admin_and_prints_the_summary(admin_user, max_mustermann):
    out = patron_import("accounts", str(FILES / "accounts.csv"))
    assert "Imported accounts.csv as accounts: 3 rows, 3 created, 0 updated, 0 unchanged" in out
    assert ImportRun.objects.get().user == admin_user
    out = patron_import("accounts", str(FILES / "accounts.csv"))
    assert "0 created, 0 updated, 3 unchanged" in out


def test_user_option_and_preset(admin_user, max_mustermann):
    out = patron_import(
        "companies", str(FILES / "hubspot_companies.csv"), "--preset", "hubspot", "--user", "max.mustermann"
    )
    assert "3 created" in out
    assert "1 warning" in out and "Zed Nobody" in out
    assert "Columns left out: City, Create Date." in out
    assert ImportRun.objects.get().user == max_mustermann


def test_mapping_and_dry_run(admin_user, tmp_path):
    path = tmp_path / "firmen.csv"
    path.write_text("Kennung;Firma;Notiz\nK-1;Müller KG;intern\n", encoding="utf-8-sig")
    out = patron_import("accounts", str(path), "--map", "Kennung=external_id", "Firma=name", "Notiz=", "--dry-run")
    assert "Checked (dry run, nothing written) firmen.csv as accounts: 1 rows, 1 created" in out
    assert not Account.objects.exists()
    patron_import("accounts", str(path), "--map", "Kennung=external_id", "--map", "Firma=name")
    assert Account.objects.get().name == "Müller KG"


def test_a_bad_file_prints_its_row_errors_and_fails_without_writing(admin_user, max_mustermann, tmp_path):
    patron_import("accounts", str(FILES / "accounts.csv"))
    path = tmp_path / "contacts.csv"
    path.write_text("external_id,account,email\nC-1,ACC-001,ok@example.com\nC-2,ACC-404,bad@example.com\n")
    out = io.StringIO()
    with pytest.raises(CommandError, match="Row 3, column “account”"):
        call_command("import", "contacts", str(path), stdout=out)
    assert "ACC-404" in out.getvalue()
    assert f"import run {ImportRun.objects.latest('id').pk}" in out.getvalue()
    assert not Contact.objects.exists()
    assert ImportRun.objects.latest("id").status == "failed"  # the failed run itself is kept


def test_no_admin_and_no_user_is_an_error(db, tmp_path):
    UserFactory(username="someone", role=Role.MEMBER)
    with pytest.raises(CommandError, match="no admin"):
        patron_import("accounts", str(FILES / "accounts.csv"))


def test_missing_file_and_unknown_kind(admin_user):
    with pytest.raises(CommandError, match="There is no file"):
        patron_import("accounts", "/nonexistent/file.csv")
    with pytest.raises(CommandError, match="Cannot import “planets”"):
        patron_import("planets", str(FILES / "accounts.csv"))
