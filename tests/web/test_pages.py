"""The web pages through Django's test client: who may open what, what each page shows, and what forms write."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from patron.core.models import ApiToken, Role
from patron.customers.models import LifecycleStage
from patron.engagement.models import Channel, Interaction, Severity, TicketStatus
from tests.factories import (
    AccountFactory,
    ContactFactory,
    DealFactory,
    InteractionFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def page_urls(account):
    """Every page a signed-in user can open, for an account they may see."""
    contact = account.contacts.order_by("id").first()
    ticket = account.tickets.order_by("id").first()
    return [
        reverse("home"),
        reverse("profile"),
        reverse("customers:account_list"),
        reverse("customers:account_detail", args=[account.pk]),
        reverse("customers:contact_detail", args=[contact.pk]),
        reverse("customers:contact_erase", args=[contact.pk]),
        reverse("engagement:log_interaction", args=[account.pk]),
        reverse("engagement:ticket_list"),
        reverse("engagement:ticket_detail", args=[ticket.pk]),
    ]


# Signing in


def test_anonymous_visitors_are_sent_to_sign_in(client_for, account):
    for url in page_urls(account):
        response = client_for(None).get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{reverse('login')}?next="), url


def test_every_page_opens_for_a_permitted_user(client_for, member, account):
    client = client_for(member)
    for url in page_urls(account):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b'<html lang="en">' in response.content, url


def test_sign_in_and_out(client, member):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content
    wrong = client.post(reverse("login"), {"username": "max", "password": "nope"})
    assert wrong.status_code == 200
    assert b"match. Please try again." in wrong.content
    response = client.post(reverse("login"), {"username": "max", "password": "secret-pass-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


# What a user may not see is a 404


def test_records_of_other_teams_are_not_found(client_for, member, hidden_account):
    client = client_for(member)
    contact = hidden_account.contacts.get()
    ticket = TicketFactory(account=hidden_account)
    for url in [
        reverse("customers:account_detail", args=[hidden_account.pk]),
        reverse("customers:account_timeline", args=[hidden_account.pk]),
        reverse("customers:contact_detail", args=[contact.pk]),
        reverse("customers:contact_data", args=[contact.pk]),
        reverse("customers:contact_erase", args=[contact.pk]),
        reverse("engagement:log_interaction", args=[hidden_account.pk]),
        reverse("engagement:ticket_detail", args=[ticket.pk]),
        reverse("customers:account_detail", args=[999_999]),
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Secret Holdings" not in response.content
        assert b"We could not find that." in response.content


def test_the_accounts_list_shows_only_visible_accounts(client_for, member, account, hidden_account):
    response = client_for(member).get(reverse("customers:account_list"))
    assert response.status_code == 200
    assert b"Acme Robotics" in response.content
    assert b"Secret Holdings" not in response.content


# Accounts list


def test_accounts_list_searches_and_filters(client_for, admin_user, member, team):
    other_team = TeamFactory(name="Retail")
    AccountFactory(name="Nordwind GmbH", industry="Retail", country="DE", owner=member, team=team)
    AccountFactory(
        name="Nordic Foods", industry="Food", country="SE", owner=admin_user, team=other_team, lifecycle_stage="at_risk"
    )
    AccountFactory(name="Baltic Shipping", industry="Logistics", country="PL", owner=admin_user)
    client = client_for(admin_user)
    url = reverse("customers:account_list")

    def names(**params):
        body = client.get(url, params).content.decode()
        return {n for n in ("Nordwind GmbH", "Nordic Foods", "Baltic Shipping") if n in body}

    assert names() == {"Nordwind GmbH", "Nordic Foods", "Baltic Shipping"}
    assert names(q="nord") == {"Nordwind GmbH", "Nordic Foods"}
    assert names(owner_id=member.pk) == {"Nordwind GmbH"}
    assert names(team_id=other_team.pk) == {"Nordic Foods"}
    assert names(industry="Logistics") == {"Baltic Shipping"}
    assert names(country="se") == {"Nordic Foods"}
    assert names(lifecycle_stage=LifecycleStage.AT_RISK) == {"Nordic Foods"}
    assert names(q="nord", country="DE") == {"Nordwind GmbH"}


def test_accounts_list_filter_menus_offer_the_values_in_use(client_for, admin_user):
    AccountFactory(name="A", industry="Logistics", country="PL")
    body = client_for(admin_user).get(reverse("customers:account_list")).content.decode()
    assert '<option value="Logistics">Logistics</option>' in body
    assert '<option value="PL">PL</option>' in body


def test_accounts_list_sorts_by_name_and_by_update(client_for, admin_user):
    for name in ("Charlie", "Alpha", "Bravo"):
        AccountFactory(name=name, owner=admin_user)
    client = client_for(admin_user)
    body = client.get(reverse("customers:account_list")).content.decode()
    assert body.index("Alpha") < body.index("Bravo") < body.index("Charlie")
    body = client.get(reverse("customers:account_list"), {"order": "-name"}).content.decode()
    assert body.index("Charlie") < body.index("Bravo") < body.index("Alpha")
    body = client.get(reverse("customers:account_list"), {"order": "-updated_at"}).content.decode()
    assert body.index("Bravo") < body.index("Alpha") < body.index("Charlie")


def test_accounts_list_pages_with_a_cursor_and_keeps_filters(client_for, admin_user):
    for i in range(55):
        AccountFactory(name=f"Firm {i:03d}", industry="Software", owner=admin_user)
    AccountFactory(name="Other Firm", industry="Retail", owner=admin_user)
    client = client_for(admin_user)
    first = client.get(reverse("customers:account_list"), {"industry": "Software"})
    body = first.content.decode()
    assert "Firm 000" in body and "Firm 049" in body and "Firm 050" not in body
    next_url = first.context["next_url"]
    assert next_url
    params = parse_qs(urlsplit(next_url).query)
    assert params["industry"] == ["Software"] and params["cursor"]
    second = client.get(reverse("customers:account_list") + next_url)
    body = second.content.decode()
    assert "Firm 050" in body and "Firm 054" in body and "Firm 049" not in body and "Other Firm" not in body
    assert second.context["next_url"] == ""
    assert "First page" in body


def test_accounts_list_links_to_the_csv_export_of_what_it_shows(client_for, admin_user, member):
    response = client_for(admin_user).get(
        reverse("customers:account_list"), {"q": "acme", "owner_id": member.pk, "country": "de"}
    )
    export = urlsplit(response.context["export_url"])
    assert export.path == reverse("customers:account_export")
    assert parse_qs(export.query) == {"q": ["acme"], "owner_id": [str(member.pk)], "country": ["DE"], "order": ["name"]}
    assert response.context["export_url"].replace("&", "&amp;") in response.content.decode()


def test_accounts_list_ignores_a_filter_it_cannot_read(client_for, admin_user):
    AccountFactory(name="Still listed")
    response = client_for(admin_user).get(reverse("customers:account_list"), {"owner_id": "not-a-number"})
    assert response.status_code == 200
    assert b"Still listed" in response.content
    assert b"Some filters were not understood" in response.content


def test_accounts_list_refuses_a_forged_cursor(client_for, admin_user):
    response = client_for(admin_user).get(reverse("customers:account_list"), {"cursor": "bm90LWEtY3Vyc29y"})
    assert response.status_code == 422
    assert b"cursor" in response.content


# Account 360


def test_account_page_lists_open_deals_first_then_the_latest_closed_on_every_database(client_for, admin_user):
    holder = AccountFactory(owner=admin_user)
    day = dt.date(2025, 1, 1)
    for i in range(55):
        DealFactory(account=holder, name=f"Closed {i:02d}", stage="won", closed_on=day + dt.timedelta(days=i))
    DealFactory(account=holder, name="Open, no date")
    DealFactory(account=holder, name="Open, soon", expected_close=day)
    DealFactory(account=holder, name="Open, later", expected_close=day + dt.timedelta(days=30))
    response = client_for(admin_user).get(reverse("customers:account_detail", args=[holder.pk]))
    names = [d.name for d in response.context["deals"]]
    assert names[:4] == ["Open, soon", "Open, later", "Open, no date", "Closed 54"]
    assert len(names) == 50 and names[-1] == "Closed 08"
    body = response.content.decode()
    assert "Showing 50 deals" in body and f"{reverse('api:deal-export')}?account_id={holder.pk}" in body


def test_account_page_shows_facts_contacts_deals_subscriptions_and_timeline(client_for, member, account):
    response = client_for(member).get(reverse("customers:account_detail", args=[account.pk]))
    body = response.content.decode()
    facts = response.context["facts"]
    assert [(r["currency"], r["total"]) for r in facts["revenue"]] == [("EUR", 1200)]
    assert facts["open_tickets"] == 1 and facts["critical_tickets"] == 1
    assert facts["latest_nps"].nps == 9
    for text in (
        "Acme Robotics",
        "Manufacturing",
        "50–249 employees",
        "Anna Nowak",
        "Piotr Zielinski",
        "No email",
        "Expansion 2026",
        "Proposal",
        "450.00 EUR",
        "Quarterly check-in",
        "Export button fails",
        "Great support",
        "1,200.00 EUR",
    ):
        assert text in body, text
    kinds = [item.kind for item in response.context["items"]]
    assert kinds == ["survey", "interaction", "ticket", "interaction", "order", "ticket", "order"]


def test_timeline_filters_by_kind_and_channel(client_for, member, account):
    client = client_for(member)
    url = reverse("customers:account_timeline", args=[account.pk])
    tickets_only = client.get(url, {"kind": "ticket"}, headers=HX)
    assert tickets_only.status_code == 200
    assert [i.kind for i in tickets_only.context["items"]] == ["ticket", "ticket"]
    assert b"<html" not in tickets_only.content
    phone = client.get(url, {"channel": Channel.PHONE}, headers=HX)
    assert [i.title for i in phone.context["items"]] == ["Quarterly check-in"]
    nothing = client.get(url, {"channel": Channel.FAX}, headers=HX)
    assert b"Nothing on the timeline matches these filters." in nothing.content


def test_timeline_pages_back_with_before(client_for, member, account):
    now = timezone.now()
    for i in range(120):
        InteractionFactory(account=account, subject=f"Call {i:03d}", occurred_at=now - dt.timedelta(hours=i + 1))
    newest_first = list(
        Interaction.objects.filter(account=account).order_by("-occurred_at").values_list("subject", flat=True)
    )
    client = client_for(member)
    first = client.get(reverse("customers:account_detail", args=[account.pk]), {"kind": "interaction"})
    assert [i.title for i in first.context["items"]] == newest_first[:50]
    older = first.context["older_query"]
    assert "cursor=" in older and "kind=interaction" in older
    second = client.get(reverse("customers:account_timeline", args=[account.pk]) + "?" + older, headers=HX)
    assert second.status_code == 200
    assert [i.title for i in second.context["items"]] == newest_first[50:100]
    assert b'class="more"' in second.content
    assert b'id="timeline-items"' not in second.content
    third = client.get(
        reverse("customers:account_timeline", args=[account.pk]) + "?" + second.context["older_query"], headers=HX
    )
    assert [i.title for i in third.context["items"]] == newest_first[100:]
    assert b"This is the beginning of the timeline." in third.content


def test_timeline_refuses_a_malformed_position(client_for, member, account):
    response = client_for(member).get(
        reverse("customers:account_timeline", args=[account.pk]), {"cursor": "yesterday"}, headers=HX
    )
    assert response.status_code == 422


def test_timeline_without_htmx_goes_to_the_account_page(client_for, member, account):
    response = client_for(member).get(reverse("customers:account_timeline", args=[account.pk]), {"kind": "order"})
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:account_detail", args=[account.pk]) + "?kind=order"


def test_account_page_work_does_not_grow_with_the_length_of_the_history(client_for, member, account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(member)
    url = reverse("customers:account_detail", args=[account.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as short_history:
        client.get(url)
    now = timezone.now()
    Interaction.objects.bulk_create(
        Interaction(
            account=account, channel=Channel.EMAIL, subject=f"Mail {i}", occurred_at=now - dt.timedelta(minutes=i)
        )
        for i in range(2000)
    )
    with CaptureQueriesContext(connection) as long_history:
        response = client.get(url)
    assert len(long_history.captured_queries) == len(short_history.captured_queries)
    assert len(response.context["items"]) == 50
    assert response.context["older_query"]


# Logging an interaction


def valid_call(**overrides):
    data = {
        "channel": Channel.PHONE,
        "direction": "outbound",
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "subject": "Called about the renewal",
        "summary": "Budget confirmed for next year.",
        "outcome": "completed",
        "contact": "",
    }
    return {**data, **overrides}


def test_logging_an_interaction_with_htmx_returns_the_new_timeline_item(client_for, member, account):
    anna = account.contacts.get(first_name="Anna")
    url = reverse("engagement:log_interaction", args=[account.pk])
    response = client_for(member).post(url, valid_call(contact=anna.pk), headers=HX)
    assert response.status_code == 201
    interaction = Interaction.objects.get(subject="Called about the renewal")
    assert (interaction.account, interaction.contact, interaction.channel) == (account, anna, Channel.PHONE)
    assert interaction.logged_by == member
    assert interaction.summary == "Budget confirmed for next year."
    body = response.content.decode()
    assert f'id="tl-interaction-{interaction.pk}"' in body
    assert 'hx-swap-oob="afterbegin:#timeline-items"' in body
    assert "Called about the renewal" in body
    # A fresh, empty form comes back for the next call.
    assert 'id="log-interaction"' in body and 'value="Called about the renewal"' not in body


def test_logging_an_interaction_without_htmx_redirects_to_the_account(client_for, member, account):
    url = reverse("engagement:log_interaction", args=[account.pk])
    response = client_for(member).post(url, valid_call(channel=Channel.VIDEO))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:account_detail", args=[account.pk])
    assert Interaction.objects.filter(account=account, channel=Channel.VIDEO).count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"subject": ""}, "subject", "This field is required."),
        ({"channel": "pigeon"}, "channel", "Select a valid choice."),
        ({"occurred_at": "not a date"}, "occurred_at", "Enter a valid date/time."),
        ({"occurred_at": "2999-01-01T10:00"}, "occurred_at", "cannot be logged in the future"),
    ],
)
def test_a_bad_interaction_shows_errors_inline_and_writes_nothing(
    client_for, member, account, overrides, field, message
):
    before = Interaction.objects.count()
    url = reverse("engagement:log_interaction", args=[account.pk])
    response = client_for(member).post(url, valid_call(**overrides), headers=HX)
    assert response.status_code == 422
    assert Interaction.objects.count() == before
    body = response.content.decode()
    assert message in body
    assert f'id="log-{field}_error"' in body
    assert 'aria-invalid="true"' in body
    assert "<html" not in body  # only the form is swapped


def test_a_contact_of_another_account_is_refused(client_for, member, account, team):
    elsewhere = ContactFactory(account=AccountFactory(owner=member, team=team))
    url = reverse("engagement:log_interaction", args=[account.pk])
    response = client_for(member).post(url, valid_call(contact=elsewhere.pk), headers=HX)
    assert response.status_code == 422
    assert not Interaction.objects.filter(subject="Called about the renewal").exists()


def test_nobody_logs_on_an_account_they_may_not_see(client_for, member, hidden_account):
    url = reverse("engagement:log_interaction", args=[hidden_account.pk])
    response = client_for(member).post(url, valid_call(), headers=HX)
    assert response.status_code == 404
    assert not Interaction.objects.filter(account=hidden_account).exists()


# Contacts


def test_contact_page_shows_details_consent_and_history(client_for, member, account):
    anna = account.contacts.get(first_name="Anna")
    body = client_for(member).get(reverse("customers:contact_detail", args=[anna.pk])).content.decode()
    for text in (
        "Anna Nowak",
        "CFO",
        "Decision maker",
        anna.email,
        "Marketing email",
        "Quarterly check-in",
        "Great support",
    ):
        assert text in body, text
    assert "Download data (JSON)" in body
    assert "Erase contact" not in body  # members may not erase


def test_managers_see_the_erase_button(client_for, manager, account):
    anna = account.contacts.get(first_name="Anna")
    body = client_for(manager).get(reverse("customers:contact_detail", args=[anna.pk])).content.decode()
    assert reverse("customers:contact_erase", args=[anna.pk]) in body


def test_contact_data_downloads_as_json(client_for, member, account):
    anna = account.contacts.get(first_name="Anna")
    response = client_for(member).get(reverse("customers:contact_data", args=[anna.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == f'attachment; filename="contact-{anna.pk}.json"'
    assert anna.email in response.content.decode()


def test_erasing_needs_the_confirmation_box(client_for, manager, account):
    anna = account.contacts.get(first_name="Anna")
    response = client_for(manager).post(reverse("customers:contact_erase", args=[anna.pk]), {})
    assert response.status_code == 422
    assert b"Tick the box" in response.content
    anna.refresh_from_db()
    assert anna.erased_at is None


def test_a_manager_erases_a_contact(client_for, manager, account):
    anna = account.contacts.get(first_name="Anna")
    response = client_for(manager).post(reverse("customers:contact_erase", args=[anna.pk]), {"confirm": "on"})
    assert response.status_code == 302
    anna.refresh_from_db()
    assert anna.erased_at is not None
    assert anna.email is None and anna.first_name == "" and "Nowak" not in anna.last_name
    assert response["Location"] == reverse("customers:contact_detail", args=[anna.pk])
    page = client_for(manager).get(response["Location"]).content.decode()
    assert "Erased contact" in page and "Nowak" not in page


def test_a_member_may_not_erase_a_contact(client_for, member, account):
    anna = account.contacts.get(first_name="Anna")
    response = client_for(member).post(reverse("customers:contact_erase", args=[anna.pk]), {"confirm": "on"})
    assert response.status_code == 403
    anna.refresh_from_db()
    assert anna.erased_at is None and anna.last_name == "Nowak"


# Tickets


def test_tickets_list_filters(client_for, admin_user, member, account):
    other = AccountFactory(name="Zeta Corp")
    TicketFactory(
        account=other, subject="Login loop", severity=Severity.LOW, status=TicketStatus.PENDING, category="Access"
    )
    client = client_for(admin_user)
    url = reverse("engagement:ticket_list")

    def subjects(**params):
        body = client.get(url, params).content.decode()
        return {s for s in ("Export button fails", "Invoice address", "Login loop") if s in body}

    assert subjects() == {"Export button fails", "Invoice address", "Login loop"}
    assert subjects(status="open") == {"Export button fails"}
    assert subjects(severity="low") == {"Login loop"}
    assert subjects(category="access") == {"Login loop"}
    assert subjects(account_id=account.pk) == {"Export button fails", "Invoice address"}
    assert subjects(account_name="zeta") == {"Login loop"}
    assert subjects(handled_by_id=member.pk) == {"Export button fails"}
    assert subjects(q="invoice") == {"Invoice address"}


def test_tickets_list_pages_newest_first(client_for, admin_user):
    account = AccountFactory()
    now = timezone.now()
    for i in range(53):
        TicketFactory(account=account, subject=f"Ticket {i:03d}", opened_at=now - dt.timedelta(hours=i))
    client = client_for(admin_user)
    first = client.get(reverse("engagement:ticket_list"))
    assert [t.subject for t in first.context["page"].items][:2] == ["Ticket 000", "Ticket 001"]
    second = client.get(reverse("engagement:ticket_list") + first.context["next_url"])
    assert [t.subject for t in second.context["page"].items] == ["Ticket 050", "Ticket 051", "Ticket 052"]


def test_tickets_list_hides_other_teams_tickets(client_for, member, account, hidden_account):
    TicketFactory(account=hidden_account, subject="Hush hush")
    body = client_for(member).get(reverse("engagement:ticket_list")).content.decode()
    assert "Export button fails" in body and "Hush hush" not in body


def test_tickets_list_filtered_by_a_hidden_account_is_not_found(client_for, member, hidden_account):
    response = client_for(member).get(reverse("engagement:ticket_list"), {"account_id": hidden_account.pk})
    assert response.status_code == 404


# Overview


def test_home_shows_my_renewals_and_open_tickets(client_for, member, account):
    body = client_for(member).get(reverse("home")).content.decode()
    assert "Renewals in the next 90 days" in body
    assert "450.00 EUR" in body
    assert "Export button fails" in body
    assert "Invoice address" not in body  # closed


# Profile and API tokens


def test_a_new_token_is_shown_once_and_works(client_for, member):
    client = client_for(member)
    response = client.post(reverse("token_create"), {"name": "Reporting script"}, follow=True)
    body = response.content.decode()
    token = ApiToken.objects.get(user=member)
    raw = response.context["raw_token"]["secret"]
    assert raw.startswith("ptn_") and raw[:8] == token.prefix
    assert raw in body and "Reporting script" in body
    assert raw not in client.get(reverse("profile")).content.decode()
    api = client_for(None).get("/api/v1/accounts", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 200


def test_a_token_needs_a_name(client_for, member):
    response = client_for(member).post(reverse("token_create"), {"name": "  "})
    assert response.status_code == 422
    assert b"Give the token a name" in response.content
    assert not ApiToken.objects.exists()


def test_revoking_a_token(client_for, member):
    client = client_for(member)
    client.post(reverse("token_create"), {"name": "Old script"})
    token = ApiToken.objects.get(user=member)
    response = client.post(reverse("token_revoke", args=[token.pk]), follow=True)
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in response.content.decode()


def test_nobody_revokes_someone_elses_token(client_for, member, outsider):
    client_for(outsider).post(reverse("token_create"), {"name": "Mine"})
    token = ApiToken.objects.get(user=outsider)
    assert client_for(member).post(reverse("token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_profile_links_to_the_api_docs(client_for, member):
    assert b'href="/api/v1/docs"' in client_for(member).get(reverse("profile")).content


# Language


def test_switching_language_is_remembered_in_a_cookie_and_on_the_profile(client_for, member):
    client = client_for(member)
    response = client.post(reverse("language"), {"language": "pl", "next": reverse("customers:account_list")})
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:account_list")
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "pl" and int(cookie["max-age"]) >= 30 * 24 * 3600
    assert b'<html lang="pl">' in client.get(reverse("customers:account_list")).content
    member.refresh_from_db()
    assert member.language == "pl"


def test_an_unknown_language_changes_nothing(client_for, member):
    response = client_for(member).post(reverse("language"), {"language": "xx"})
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    member.refresh_from_db()
    assert member.language == ""


def test_signing_in_restores_the_users_language(client):
    UserFactory(username="bogdan", role=Role.MEMBER, language="bg")
    response = client.post(reverse("login"), {"username": "bogdan", "password": "secret-pass-123"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "bg"
    assert b'<html lang="bg">' in client.get(reverse("home")).content
