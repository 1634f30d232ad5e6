"""GDPR: everything held about a contact on request, and erasure that also reaches the audit history."""

from __future__ import annotations

import json

import pytest

from patron.customers import services
from patron.customers.models import Contact
from patron.engagement.models import Interaction, Ticket
from patron.errors import Forbidden, NotFound
from patron.feedback.models import SurveyResponse
from tests.factories import AccountFactory, ContactFactory, InteractionFactory, SurveyResponseFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(member, team, api_for):
    account = AccountFactory(owner=member, team=team, name="Acme")
    contact = ContactFactory(account=account, first_name="Anna", last_name="Lis", email="anna@acme.example")
    api_for(member).patch(f"/contacts/{contact.pk}", {"phone": "+48 600 100 200", "title": "CFO"})
    InteractionFactory(account=account, contact=contact, subject="Call", summary="Anna mentioned her divorce")
    TicketFactory(account=account, contact=contact, subject="Invoice", description="Anna's card ends 4242")
    SurveyResponseFactory(account=account, contact=contact, comment="Anna: great service")
    InteractionFactory(account=account, summary="Not about Anna's contact record")
    return Contact.objects.get(pk=contact.pk)


@pytest.mark.parametrize(("method", "suffix"), [("get", "export"), ("post", "erase")])
def test_anonymous_gets_401(method, suffix, api_for, anna):
    assert getattr(api_for(None), method)(f"/contacts/{anna.pk}/{suffix}").status_code == 401


@pytest.mark.parametrize(("method", "suffix"), [("get", "export"), ("post", "erase")])
def test_a_contact_the_user_cannot_see_is_a_404(method, suffix, api_for, anna, outsider):
    assert getattr(api_for(outsider), method)(f"/contacts/{anna.pk}/{suffix}").status_code == 404


def test_export_holds_the_contact_their_records_and_history(api_for, member, anna):
    response = api_for(member).get(f"/contacts/{anna.pk}/export")
    assert response.status_code == 200
    data = response.json()
    assert data["contact"]["email"] == "anna@acme.example"
    assert data["contact"]["phone"] == "+48 600 100 200"
    assert data["account"] == {"id": anna.account_id, "name": "Acme"}
    assert [i["summary"] for i in data["interactions"]] == ["Anna mentioned her divorce"]
    assert [t["description"] for t in data["tickets"]] == ["Anna's card ends 4242"]
    assert [s["comment"] for s in data["survey_responses"]] == ["Anna: great service"]
    assert [(h["type"], h["by"]) for h in data["history"]] == [("created", None), ("changed", "max")]
    assert data["history"][0]["values"]["phone"] == ""


def test_service_export_is_json_ready(member, anna):
    assert json.loads(json.dumps(services.contact_data(member, anna.pk)))["contact"]["id"] == anna.pk


def test_erasure_anonymises_the_contact_and_the_free_text_about_them(api_for, manager, anna):
    response = api_for(manager).post(f"/contacts/{anna.pk}/erase")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == f"Erased contact #{anna.pk}"
    assert (body["email"], body["phone"], body["title"]) == (None, "", "")
    assert body["do_not_contact"] and body["email_opt_out"] and body["erased_at"]
    assert Interaction.objects.get(contact=anna).summary == ""
    assert Interaction.objects.exclude(contact=anna).get().summary == "Not about Anna's contact record"
    assert Ticket.objects.get(contact=anna).description == ""
    assert SurveyResponse.objects.get(contact=anna).comment == ""


def test_erasure_purges_the_history_but_keeps_the_erasure_event(api_for, manager, anna):
    api_for(manager).post(f"/contacts/{anna.pk}/erase")
    history = list(anna.history.order_by("history_date", "history_id"))
    held = " ".join(str(vars(h)) for h in history)
    for personal in ("Anna", "Lis", "anna@acme.example", "600 100 200", "CFO"):
        assert personal not in held
    erasure = history[-1]
    assert (erasure.history_user, erasure.history_change_reason) == (manager, "GDPR erasure")
    assert erasure.erased_at is not None
    related = [*Interaction.history.all(), *Ticket.history.all(), *SurveyResponse.history.all()]
    # Only the text the history holds: a timestamp's microseconds may well read 542427.
    texts = " ".join(value for h in related for value in vars(h).values() if isinstance(value, str))
    assert "divorce" not in texts
    assert "4242" not in texts


def test_an_erased_contact_takes_no_personal_data_again(api_for, manager, anna):
    api_for(manager).post(f"/contacts/{anna.pk}/erase")
    response = api_for(manager).patch(f"/contacts/{anna.pk}", {"email": "anna@acme.example"})
    assert response.status_code == 409
    assert api_for(manager).patch(f"/contacts/{anna.pk}", {"role": "champion"}).status_code == 200


def test_erasing_twice_changes_nothing(api_for, manager, anna):
    api_for(manager).post(f"/contacts/{anna.pk}/erase")
    events = anna.history.count()
    assert api_for(manager).post(f"/contacts/{anna.pk}/erase").status_code == 200
    assert anna.history.count() == events


def test_members_may_not_erase(api_for, member, anna):
    response = api_for(member).post(f"/contacts/{anna.pk}/erase")
    assert response.status_code == 403
    assert Contact.objects.get(pk=anna.pk).first_name == "Anna"


def test_services_check_visibility_and_role(member, outsider, anna):
    with pytest.raises(NotFound):
        services.contact_data(outsider, anna.pk)
    with pytest.raises(Forbidden):
        services.erase_contact(member, anna.pk)
