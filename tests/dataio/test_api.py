"""Imports through the API: a multipart upload gives the summary or a 422 with every row error; runs are listed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from patron.customers.models import Account
from tests.dataio.conftest import FILES, xlsx_bytes

pytestmark = pytest.mark.django_db


def upload(api, query: str, name: str, content: bytes):
    return api.client.post(f"/api/v1/imports?{query}", {"file": SimpleUploadedFile(name, content)}, headers=api.headers)


def test_upload_gives_the_summary_and_reupload_changes_nothing(api_for, admin_user, max_mustermann):
    api = api_for(admin_user)
    content = (FILES / "accounts.csv").read_bytes()
    response = upload(api, "kind=accounts", "accounts.csv", content)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["created"], body["updated"], body["unchanged"]) == ("succeeded", 3, 0, 0)
    assert body["file_name"] == "accounts.csv" and len(body["sha256"]) == 64
    again = upload(api, "kind=accounts", "accounts.csv", content).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)


def test_preset_mapping_and_xlsx(api_for, admin_user, max_mustermann):
    api = api_for(admin_user)
    response = upload(
        api, "kind=companies&preset=hubspot", "companies.csv", (FILES / "hubspot_companies.csv").read_bytes()
    )
    assert response.status_code == 201 and response.json()["warning_count"] == 1
    data = xlsx_bytes([["Kennung", "Firma"], ["K-1", "Müller KG"]])
    response = upload(api, "kind=accounts&map=Kennung%3Dexternal_id&map=Firma%3Dname", "firmen.xlsx", data)
    assert response.status_code == 201, response.json()
    assert response.json()["file_format"] == "xlsx"
    assert Account.objects.get(external_id="K-1").name == "Müller KG"


def test_a_bad_file_is_a_422_with_row_errors_and_nothing_written(api_for, admin_user):
    api = api_for(admin_user)
    content = b"external_id,name,country\nA-1,Good,DE\nA-2,Bad,Atlantis\nA-1,Again,PL\n"
    response = upload(api, "kind=accounts", "bad.csv", content)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid"
    assert [(d["row"], d["column"]) for d in body["details"]] == [(3, "country"), (4, "external_id")]
    assert not Account.objects.exists()
    # An API error rolls the whole request back, the run record with it: the 422 body is the record.
    assert api.get("/imports").json()["items"] == []


def test_runs_are_listed_for_their_user_only(api_for, admin_user, member, outsider):
    upload(api_for(member), "kind=accounts", "mine.csv", b"external_id,name\nM-1,Mine\n")
    upload(api_for(outsider), "kind=accounts", "theirs.csv", b"external_id,name\nT-1,Theirs\n")
    mine = api_for(member).get("/imports").json()["items"]
    assert [r["file_name"] for r in mine] == ["mine.csv"]
    theirs = api_for(outsider).get("/imports").json()["items"][0]
    assert api_for(member).get(f"/imports/{theirs['id']}").status_code == 404
    assert api_for(admin_user).get(f"/imports/{theirs['id']}").status_code == 200


def test_forbidden_kind_unknown_kind_and_missing_file(api_for, member):
    api = api_for(member)
    assert upload(api, "kind=campaigns", "c.csv", b"external_id,name\nC,X\n").status_code == 403
    response = upload(api, "kind=planets", "p.csv", b"x\n1\n")
    assert response.status_code == 422 and response.json()["field"] == "kind"
    assert api.client.post("/api/v1/imports?kind=accounts", headers=api.headers).status_code == 422
    assert api_for(None).get("/imports").status_code == 401


def test_kinds_describe_the_columns(api_for, member):
    kinds = api_for(member).get("/imports/kinds").json()
    contacts = next(k for k in kinds if k["kind"] == "contacts")
    fields = {f["name"]: f for f in contacts["fields"]}
    assert contacts["keys"] == ["external_id", "email"]
    assert fields["account"]["required"] and not fields["email"]["required"] and fields["email"]["key"]
    hubspot = api_for(member).get("/imports/kinds?preset=hubspot").json()
    assert [k["kind"] for k in hubspot] == ["accounts", "contacts", "deals"]
    deals = {f["name"]: f for f in hubspot[2]["fields"]}
    assert deals["stage"]["preset_columns"] == ["Deal Stage"]
