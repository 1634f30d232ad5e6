"""A contact's data and erasure from the command line: ``patron export contact-data ID`` and ``patron erase_contact ID``."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from patron.customers.models import Contact
from patron.engagement.models import Ticket
from tests.factories import AccountFactory, ContactFactory, TicketFactory

pytestmark = pytest.mark.django_db


class Terminal(io.StringIO):
    """Typed answers, read as from a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def anna(member, team, api_for):
    account = AccountFactory(owner=member, team=team, name="Acme")
    contact = ContactFactory(account=account, first_name="Anna", last_name="Łis", email="anna@acme.example")
    api_for(member).patch(f"/contacts/{contact.pk}", {"title": "CFO"})
    TicketFactory(account=account, contact=contact, subject="Invoice", description="Anna's card ends 4242")
    return Contact.objects.get(pk=contact.pk)


def without_time(text: str | bytes) -> dict:
    data = json.loads(text)
    data.pop("exported_at")
    return data


def erase(*args: str, stdin=None) -> str:
    out = io.StringIO()
    call_command("erase_contact", *args, stdout=out, **({"stdin": stdin} if stdin is not None else {}))
    return out.getvalue()


def test_contact_data_is_the_pages_download(member, anna, tmp_path):
    path = tmp_path / "anna.json"
    call_command("export", "contact-data", str(anna.pk), "--user", "max", "--out", str(path), stderr=io.StringIO())
    client = Client()
    client.force_login(member)
    page = client.get(reverse("customers:contact_data", args=[anna.pk]))
    written = path.read_text(encoding="utf-8")
    assert without_time(written) == without_time(page.content)
    assert written.replace(json.loads(written)["exported_at"], "") == page.content.decode().replace(
        json.loads(page.content)["exported_at"], ""
    )
    data = json.loads(written)
    assert data["contact"]["last_name"] == "Łis"
    assert [t["description"] for t in data["tickets"]] == ["Anna's card ends 4242"]
    assert [h["by"] for h in data["history"]] == [None, "max"]


def test_contact_data_to_the_standard_output_is_the_apis(member, anna, api_for):
    out = io.StringIO()
    call_command("export", "contact-data", str(anna.pk), "--user", "max", stdout=out)
    assert without_time(out.getvalue()) == without_time(api_for(member).get(f"/contacts/{anna.pk}/export").content)


def test_contact_data_of_a_contact_the_user_cannot_see_is_not_found(anna, outsider):
    with pytest.raises(CommandError, match=f"{anna.pk} not found"):
        call_command("export", "contact-data", str(anna.pk), "--user", "olga", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "Name the contact"), (["1", "--filter", "a=b"], "contact-data takes no --filter")],
)
def test_contact_data_needs_an_id_and_no_list_options(args, message, admin_user):
    with pytest.raises(CommandError, match=message):
        call_command("export", "contact-data", *args, stdout=io.StringIO())


def test_erasure_with_yes_leaves_the_services_audit_record(manager, anna):
    out = erase(str(anna.pk), "--user", "mona", "--yes")
    assert f"Erased the personal data of contact {anna.pk} (by mona" in out
    anna.refresh_from_db()
    assert anna.erased_at is not None and anna.email is None and anna.first_name == ""
    assert Ticket.objects.get(contact=anna).description == ""
    erasure = anna.history.latest()
    assert (erasure.history_user, erasure.history_change_reason) == (manager, "GDPR erasure")
    assert "Anna" not in " ".join(str(vars(h)) for h in anna.history.all())
    assert "already erased" in erase(str(anna.pk), "--user", "mona", "--yes")


def test_erasure_runs_as_the_first_admin_by_default(admin_user, anna):
    erase(str(anna.pk), "--yes")
    assert anna.history.latest().history_user == admin_user


def test_members_may_not_erase(member, anna):
    with pytest.raises(CommandError, match="Only managers and admins may erase a contact"):
        erase(str(anna.pk), "--user", "max", "--yes", stdin=Terminal("yes\n"))
    assert Contact.objects.get(pk=anna.pk).erased_at is None


def test_a_contact_the_user_cannot_see_is_not_found(anna, outsider, other_team):
    outsider.role = "manager"
    outsider.save()
    with pytest.raises(CommandError, match=f"{anna.pk} not found"):
        erase(str(anna.pk), "--user", "olga", "--yes")
    assert Contact.objects.get(pk=anna.pk).erased_at is None


def test_without_yes_it_asks_and_erases_only_on_yes(manager, anna):
    with pytest.raises(CommandError, match="Nothing was erased"):
        erase(str(anna.pk), "--user", "mona", stdin=Terminal("no\n"))
    assert Contact.objects.get(pk=anna.pk).erased_at is None
    out = erase(str(anna.pk), "--user", "mona", stdin=Terminal("yes\n"))
    assert f"Erase Anna Łis (contact {anna.pk} of Acme)? This cannot be undone." in out
    assert Contact.objects.get(pk=anna.pk).erased_at is not None


def test_without_yes_and_without_a_terminal_it_refuses(manager, anna):
    with pytest.raises(CommandError, match="pass --yes"):
        erase(str(anna.pk), "--user", "mona", stdin=io.StringIO("yes\n"))
    assert Contact.objects.get(pk=anna.pk).erased_at is None
