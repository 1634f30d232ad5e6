"""CSV exports of lists: the list's filters, search and sort, visible rows only, streamed with a header."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.http import StreamingHttpResponse

from patron.core.services import csv_cell, export_rows
from patron.customers.models import Account
from tests.factories import AccountFactory, ContactFactory, OrderFactory

pytestmark = pytest.mark.django_db


def read_csv(response):
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")
    assert not text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_export_honours_filters_search_sort_and_visibility(api_for, member, outsider):
    mine = AccountFactory(owner=member, external_id="A")
    other_mine = AccountFactory(owner=member)
    hidden = AccountFactory(owner=outsider)
    OrderFactory(account=mine, ordered_at=dt.date(2025, 1, 5), amount=10, channel="online")
    late = OrderFactory(account=mine, ordered_at=dt.date(2025, 2, 5), amount=20, channel="online")
    early = OrderFactory(account=mine, ordered_at=dt.date(2024, 12, 5), amount=30, channel="online")
    OrderFactory(account=mine, ordered_at=dt.date(2025, 1, 9), channel="store")
    OrderFactory(account=other_mine, ordered_at=dt.date(2025, 1, 9), channel="online")
    OrderFactory(account=hidden, ordered_at=dt.date(2025, 1, 9), channel="online")

    response = api_for(member).get(
        f"/orders/export.csv?account_id={mine.pk}&channel=online&ordered_from=2024-12-01&ordered_to=2025-02-28"
        "&order=-ordered_at"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    rows = read_csv(response)
    assert [r["ordered_at"] for r in rows] == ["2025-02-05", "2025-01-05", "2024-12-05"]
    assert {r["id"] for r in rows} >= {str(late.pk), str(early.pk)}
    assert rows[0]["account_name"] == mine.name
    assert "lines" not in rows[0]

    everything = read_csv(api_for(member).get("/orders/export.csv"))
    assert hidden.pk not in {int(r["account_id"]) for r in everything}
    assert len(everything) == 5


def test_export_searches_like_the_list(api_for, member):
    account = AccountFactory(owner=member)
    ContactFactory(account=account, first_name="Zofia", last_name="Nowak", email="zofia@nowak.example")
    ContactFactory(account=account, first_name="Jan", last_name="Kowalski")
    rows = read_csv(api_for(member).get("/contacts/export.csv?q=zofia nowak"))
    assert [r["email"] for r in rows] == ["zofia@nowak.example"]
    listed = api_for(member).get("/contacts?q=zofia nowak").json()["items"]
    assert [c["email"] for c in listed] == ["zofia@nowak.example"]


def test_an_empty_export_still_has_its_header(api_for, member):
    response = api_for(member).get("/accounts/export.csv?country=ZZ")
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].startswith("id,external_id,name,kind")
    assert len(text.splitlines()) == 1


def test_export_rows_reads_paths_and_formats_cells(member):
    account = AccountFactory(owner=member, name="=HYPERLINK(evil)", industry="+48 600 100 200")
    lines = list(
        export_rows(
            Account.objects.filter(pk=account.pk),
            {"Name": "name", "Owner": "owner.username", "Phone-like": "industry", "Created": "created_at"},
        )
    )
    parsed = list(csv.reader(io.StringIO("".join(lines))))
    assert parsed[0] == ["Name", "Owner", "Phone-like", "Created"]
    assert parsed[1][:3] == ["'=HYPERLINK(evil)", "max", "+48 600 100 200"]
    assert parsed[1][3] == account.created_at.isoformat()


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "true"),
        (dt.date(2025, 1, 2), "2025-01-02"),
        ("-5", "-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-x", "'-x"),
    ],
)
def test_csv_cells(value, cell):
    assert csv_cell(value) == cell
