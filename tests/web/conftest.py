"""Fixtures for the web pages: a signed-in browser client, an account with a full history, and headless Chromium."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from patron.engagement.models import Channel, Severity, TicketStatus
from patron.pipeline.models import DealStage
from tests.factories import (
    AccountFactory,
    ContactFactory,
    DealFactory,
    InteractionFactory,
    OrderFactory,
    SubscriptionFactory,
    SurveyResponseFactory,
    TicketFactory,
)

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there unless told it is safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def client_for():
    """Return a function that makes a test client signed in as a user (None for anonymous)."""

    def make(user=None):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def account(member, team):
    """An account owned by ``member`` with contacts, a timeline of every kind, deals and subscriptions."""
    now = timezone.now()
    account = AccountFactory(
        name="Acme Robotics", owner=member, team=team, industry="Manufacturing", country="DE", size_band="50-249"
    )
    anna = ContactFactory(account=account, first_name="Anna", last_name="Nowak", title="CFO", role="decision_maker")
    ContactFactory(account=account, first_name="Piotr", last_name="Zielinski", email_opt_out=True)
    InteractionFactory(
        account=account,
        contact=anna,
        channel=Channel.PHONE,
        subject="Quarterly check-in",
        occurred_at=now - dt.timedelta(days=2),
    )
    InteractionFactory(
        account=account, channel=Channel.EMAIL, subject="Sent the renewal quote", occurred_at=now - dt.timedelta(days=5)
    )
    TicketFactory(
        account=account,
        subject="Export button fails",
        severity=Severity.CRITICAL,
        status=TicketStatus.OPEN,
        channel=Channel.CHAT,
        category="Bug",
        handled_by=member,
        opened_at=now - dt.timedelta(days=3),
    )
    TicketFactory(
        account=account, subject="Invoice address", status=TicketStatus.CLOSED, opened_at=now - dt.timedelta(days=40)
    )
    OrderFactory(account=account, amount=Decimal("1200.00"), ordered_at=timezone.localdate() - dt.timedelta(days=10))
    OrderFactory(account=account, amount=Decimal("800.00"), ordered_at=timezone.localdate() - dt.timedelta(days=500))
    SurveyResponseFactory(
        account=account, contact=anna, nps=9, comment="Great support", responded_at=now - dt.timedelta(days=1)
    )
    DealFactory(account=account, name="Expansion 2026", stage=DealStage.PROPOSAL, amount=Decimal("25000.00"))
    SubscriptionFactory(
        account=account, monthly_amount=Decimal("450.00"), renews_on=timezone.localdate() + dt.timedelta(days=30)
    )
    return account


@pytest.fixture
def hidden_account(outsider):
    """An account only ``outsider`` (another team) may see."""
    account = AccountFactory(name="Secret Holdings", owner=outsider)
    ContactFactory(account=account, first_name="Hidden", last_name="Person")
    return account


# Browser


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab with its own cookies, pointed at the live server."""
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()
