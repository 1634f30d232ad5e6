"""The pages in real headless Chromium: sign in, find an account, log a call from its 360 page, switch language."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from patron.engagement.models import Channel, Interaction
from tests.factories import InteractionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("browser")]


def sign_in(page, username="max", password="secret-pass-123"):
    """Sign in through the login form and land on the overview."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome back")


def test_sign_in_find_an_account_and_log_a_phone_call(page, member, account, hidden_account):
    sign_in(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    expect(page.locator("#account-table tbody tr")).to_have_count(1)  # the other team's account is not listed

    page.get_by_label("Search").fill("acme")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"q=acme"))
    page.get_by_role("link", name="Acme Robotics").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Robotics")
    expect(page.locator(".stats")).to_contain_text("1,200.00 EUR")
    expect(page.locator("#timeline-items > li.tl-item").first).to_contain_text("Great support")

    page.evaluate("window.stillTheSamePage = true")
    form = page.locator("#log-interaction")
    expect(form.get_by_label("Channel")).to_have_value(Channel.PHONE)
    form.get_by_label("Subject").fill("Called about the renewal")
    form.get_by_label("Summary").fill("Budget is confirmed; they want a quote by Friday.")
    form.get_by_label("Contact").select_option(label="Anna Nowak · CFO")
    form.get_by_label("Outcome").select_option(label="Follow-up needed")
    form.get_by_role("button", name="Log interaction").click()

    newest = page.locator("#timeline-items > li.tl-item").first
    expect(newest).to_contain_text("Called about the renewal")
    expect(newest).to_contain_text("Phone")
    expect(newest).to_contain_text("Anna Nowak")
    expect(page.locator("#log-interaction").get_by_label("Subject")).to_have_value("")
    assert page.evaluate("window.stillTheSamePage") is True  # no reload

    call = Interaction.objects.get(subject="Called about the renewal")
    assert (call.channel, call.contact.first_name, call.logged_by_id, call.outcome) == (
        Channel.PHONE,
        "Anna",
        member.pk,
        "follow_up",
    )


def test_server_errors_show_next_to_the_field_and_nothing_is_logged(page, account):
    sign_in(page)
    page.goto(f"/accounts/{account.pk}/")
    form = page.locator("#log-interaction")
    form.get_by_label("Subject").fill("From the future")
    form.get_by_label("When").fill("2999-01-01T10:00")
    form.get_by_role("button", name="Log interaction").click()
    expect(page.locator("#log-interaction")).to_contain_text("An interaction cannot be logged in the future.")
    expect(page.locator("#log-interaction").get_by_label("When")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#log-interaction").get_by_label("Subject")).to_have_value("From the future")
    assert not Interaction.objects.filter(subject="From the future").exists()


def test_timeline_filters_and_loads_older_items_in_place(page, account):
    now = timezone.now()
    for i in range(70):
        InteractionFactory(account=account, subject=f"Email {i:02d}", occurred_at=now - dt.timedelta(days=10, hours=i))
    sign_in(page)
    page.goto(f"/accounts/{account.pk}/")
    items = page.locator("#timeline-items > li.tl-item")
    expect(items).to_have_count(50)

    page.get_by_text("Show older").click()
    expect(items).to_have_count(77)  # 72 interactions, 2 tickets, 2 orders and 1 survey answer
    expect(page.get_by_text("This is the beginning of the timeline.")).to_be_visible()

    page.locator("#timeline").get_by_text("Tickets", exact=True).click()
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Export button fails")

    page.locator("#timeline").get_by_text("Everything", exact=True).click()
    page.get_by_label("Channel", exact=True).last.select_option(Channel.PHONE)
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Quarterly check-in")


def test_switching_to_polish_is_remembered(page, member):
    sign_in(page)
    page.goto("/accounts/")
    page.locator("#language-select").select_option("pl")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    expect(page).to_have_url(re.compile(r"/accounts/$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == settings.LANGUAGE_COOKIE_NAME)
    assert cookie["value"] == "pl"
    assert cookie["expires"] > timezone.now().timestamp() + 30 * 24 * 3600  # outlives the browser session
    page.goto("/tickets/")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    member.refresh_from_db()
    assert member.language == "pl"

    # A new browser (no cookies) gets Polish back on signing in.
    page.context.clear_cookies()
    sign_in_page = page
    sign_in_page.goto("/login/")
    expect(sign_in_page.locator("html")).to_have_attribute("lang", "en")
    sign_in_page.get_by_label("Username").fill("max")
    sign_in_page.get_by_label("Password").fill("secret-pass-123")
    sign_in_page.locator("form button[type=submit]").click()
    expect(sign_in_page.locator("html")).to_have_attribute("lang", "pl")


def test_a_signed_out_htmx_request_goes_to_the_sign_in_page(page, account):
    sign_in(page)
    page.goto(f"/accounts/{account.pk}/")
    page.context.clear_cookies()
    page.locator("#timeline").get_by_text("Tickets", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Patron")
