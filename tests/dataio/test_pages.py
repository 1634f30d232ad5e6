"""The import page through Django's test client: the form, an upload with and without htmx, errors, runs."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from patron.customers.models import Account, Contact
from patron.dataio.models import ImportRun
from tests.dataio.conftest import FILES

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture
def client_as():
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def post_file(client, name, content, headers=None, **fields):
    data = {"kind": "accounts", "preset": "", "date_order": "", "mapping": "", **fields}
    data["file"] = SimpleUploadedFile(name, content)
    return client.post(reverse("dataio:import"), data, headers=headers or {})


def test_anonymous_visitors_sign_in_first(client):
    response = client.get(reverse("dataio:import"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_page_shows_the_form_the_columns_and_past_runs(client_as, member):
    ImportRun.objects.create(user=member, kind="contacts", file_name="earlier.csv", status="succeeded", rows=7)
    response = client_as(member).get(reverse("dataio:import") + "?kind=deals&preset=salesforce")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html and 'hx-post="/import/"' in html
    assert "Columns of deals" in html and "Opportunity Name" in html
    assert "earlier.csv" in html


def test_upload_shows_the_summary(client_as, member):
    client = client_as(member)
    response = post_file(client, "accounts.csv", b"external_id,name\nM-1,Mine\nM-2,Also mine\n")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Imported" in html and "2 created" in html
    assert Account.objects.filter(owner=member).count() == 2


def test_htmx_upload_returns_the_result_and_refreshes_the_runs(client_as, member):
    response = post_file(client_as(member), "accounts.csv", b"external_id,name\nM-1,Mine\n", headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="import-summary"' in html and 'hx-swap-oob="true"' in html and "accounts.csv" in html


def test_a_bad_file_lists_row_and_column_and_writes_nothing(client_as, admin_user):
    client = client_as(admin_user)
    post_file(client, "accounts.csv", (FILES / "accounts.csv").read_bytes())
    content = b"external_id,account,email\nC-1,ACC-001,ok@example.com\nC-2,ACC-001,not-an-email\n"
    response = post_file(client, "contacts.csv", content, headers=HX, kind="contacts")
    assert response.status_code == 422
    html = response.content.decode()
    assert "Nothing was imported" in html
    assert '<td class="num nowrap">3</td>' in html and "<td>email</td>" in html and "not a valid e-mail" in html
    assert not Contact.objects.exists()
    run = ImportRun.objects.latest("id")
    assert run.status == "failed"


def test_a_form_without_a_file_says_so(client_as, member):
    response = client_as(member).post(reverse("dataio:import"), {"kind": "accounts"}, headers=HX)
    assert response.status_code == 422
    assert "File" in response.content.decode() and "Nothing was imported" in response.content.decode()


def test_dry_run_from_the_page(client_as, member):
    response = post_file(client_as(member), "accounts.csv", b"external_id,name\nM-1,Mine\n", dry_run="on")
    assert response.status_code == 200
    assert "nothing was written" in response.content.decode()
    assert not Account.objects.exists()


def test_column_reference_swaps_in_for_a_kind_and_preset(client_as, member):
    response = client_as(member).get(
        reverse("dataio:import_fields"), {"kind": "contacts", "preset": "hubspot"}, headers=HX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Columns of contacts" in html and "Associated Company IDs" in html


def test_run_detail_is_for_its_user(client_as, member, outsider):
    run = ImportRun.objects.create(
        user=member,
        kind="accounts",
        file_name="x.csv",
        status="failed",
        message="Nothing was imported",
        errors=[{"row": 4, "column": "country", "field": "country", "message": "“Atlantis” is not a country"}],
        mapping={"Land": "country", "Notiz": ""},
    )
    response = client_as(member).get(reverse("dataio:run_detail", args=[run.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Atlantis" in html and "Land" in html and "left out" in html
    assert client_as(outsider).get(reverse("dataio:run_detail", args=[run.pk])).status_code == 404
