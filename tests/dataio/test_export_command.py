"""``patron export KIND``: the API's CSV export of each list, for the same user, filters, search and sort."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.management import CommandError, call_command

from patron import cli
from patron.core.api import api
from patron.dataio.management.commands.export import EXPORTS
from patron.engagement.models import Severity, TicketStatus
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    ContactFactory,
    DealFactory,
    InteractionFactory,
    LeadFactory,
    OrderFactory,
    OrderLineFactory,
    SubscriptionFactory,
    SurveyResponseFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(member, outsider, team, other_team, admin_user):
    """Two accounts with a record of every kind: one the member's team looks after, one they may not see."""
    made = {}
    for name, owner, owners_team in (('Müller, "Zwei" GmbH', member, team), ("Hidden Corp", outsider, other_team)):
        account = AccountFactory(name=name, owner=owner, team=owners_team)
        contact = ContactFactory(account=account, first_name="Zoë", last_name=f"of {name}")
        order = OrderFactory(account=account)
        OrderLineFactory(order=order)
        SubscriptionFactory(account=account)
        InteractionFactory(account=account, contact=contact, summary="line one\nline two")
        open_ticket = TicketFactory(
            account=account,
            contact=contact,
            subject=f"Invoice for {name}",
            status=TicketStatus.OPEN,
            category="Billing",
        )
        TicketFactory(account=account, subject="Login loop", status=TicketStatus.PENDING, severity=Severity.LOW)
        DealFactory(account=account, owner=owner)
        SurveyResponseFactory(account=account, contact=contact, comment="=SUM(A1)")
        LeadFactory(owner=owner, name=f"Lead of {name}")
        made[owner.username] = {"account": account, "ticket": open_ticket}
    CampaignFactory()
    return made


def export(*args: str) -> str:
    """Run ``patron export`` with ``args`` and return what it wrote to the standard output."""
    out = io.StringIO()
    call_command("export", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def export_file(tmp_path, *args: str) -> bytes:
    """Run ``patron export`` into a file and return the file's bytes."""
    path = tmp_path / "out.csv"
    err = io.StringIO()
    call_command("export", *args, "--out", str(path), stdout=io.StringIO(), stderr=err)
    assert re.search(r"Exported [\d,]+ ", err.getvalue())
    return path.read_bytes()


def api_export(api_for, user, kind: str, **params) -> bytes:
    response = api_for(user).get(f"/{kind}/export.csv", data=params)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def ids(content: bytes) -> set[int]:
    return {int(row["id"]) for row in csv.DictReader(io.StringIO(content.decode()))}


def test_every_list_the_api_exports_is_a_kind():
    paths = api.get_openapi_schema()["paths"]
    exported = {m.group(1) for path in paths if (m := re.fullmatch(r"/api/v1/([a-z-]+)/export\.csv", path))}
    assert exported == set(EXPORTS)


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_each_kind_is_the_apis_file_for_the_same_user(kind, world, member, admin_user, api_for, tmp_path):
    for user in (member, admin_user):
        written = export_file(tmp_path, kind, "--user", user.username)
        assert written == api_export(api_for, user, kind)
        assert len(written.splitlines()) > 1
    assert export(kind, "--user", member.username).encode() == api_export(api_for, member, kind)


@pytest.mark.parametrize("kind", ["accounts", "tickets", "contacts", "deals", "leads", "interactions"])
def test_a_members_export_leaves_out_what_they_may_not_see(kind, world, member, admin_user, tmp_path):
    mine = ids(export_file(tmp_path, kind, "--user", member.username))
    everything = ids(export_file(tmp_path, kind, "--user", admin_user.username))
    assert mine and mine < everything
    if kind == "accounts":
        assert world["olga"]["account"].pk in everything - mine
    if kind == "tickets":
        assert world["olga"]["ticket"].pk in everything - mine


def test_without_user_it_runs_as_the_first_admin(world, admin_user, api_for):
    assert export("accounts").encode() == api_export(api_for, admin_user, "accounts")


def test_filters_search_and_sort_are_the_apis(world, member, api_for, tmp_path):
    account = world["max"]["account"]
    cases = [
        (["--filter", "status=open"], {"status": "open"}),
        (
            ["--filter", "category=billing", "--filter", "account_name=müller"],
            {"category": "billing", "account_name": "müller"},
        ),
        (
            ["--filter", f"account_id={account.pk}", "--order=-opened_at"],
            {"account_id": account.pk, "order": "-opened_at"},
        ),
        (["--search", "login", "--filter", "severity=low"], {"q": "login", "severity": "low"}),
    ]
    for args, params in cases:
        written = export_file(tmp_path, "tickets", "--user", "max", *args)
        assert written == api_export(api_for, member, "tickets", **params)
    just_open = ids(export_file(tmp_path, "tickets", "--user", "max", "--filter", "status=open"))
    assert just_open == {world["max"]["ticket"].pk}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tickets", "--filter", "colour=red"], "Unknown filter “colour”; this list takes account_id, account_name"),
        (["tickets", "--filter", "status=bogus"], "Filter “status=bogus”: Input should be"),
        (["tickets", "--filter", "account_id=seven"], "Filter “account_id=seven”: Input should be a valid integer"),
        (["tickets", "--filter", "status"], "Write a filter as NAME=VALUE, not “status”"),
        (["tickets", "--filter", "status=open", "--filter", "status=closed"], "The filter “status” is given twice"),
        (["tickets", "--order", "colour"], "choose one of created_at, id, opened_at, updated_at"),
        (["planets"], "Cannot export “planets”; choose one of accounts"),
        (["tickets", "7"], "Only contact-data takes a contact id"),
        (["tickets", "--user", "nobody"], "There is no active user “nobody”"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_no_file(args, message, world, tmp_path):
    path = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("export", *args, "--out", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_a_bad_filter_exits_non_zero(world, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["patron", "export", "tickets", "--filter", "colour=red"])
    assert exited.value.code != 0
    assert "Unknown filter “colour”" in capsys.readouterr().err


def test_a_missing_folder_is_an_error(world, tmp_path):
    with pytest.raises(CommandError, match="There is no folder"):
        call_command("export", "accounts", "--out", str(tmp_path / "nowhere" / "a.csv"), stdout=io.StringIO())


def test_underscores_name_the_same_kind(world, admin_user, api_for):
    assert export("order_lines").encode() == api_export(api_for, admin_user, "order-lines")
