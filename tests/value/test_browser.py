"""The customer-value pages in headless Chromium: from the empty state to charts, filters and diagnostics."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from patron.value.models import RunStatus, ScoreRun

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there unless told it is safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("browser")]


@pytest.fixture(autouse=True)
def immediate_tasks(settings):
    """Run the recompute task at once, in the live server's thread."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(page, username):
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("secret-pass-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_a_manager_scores_the_base_and_explores_it(page, manager, base):
    base_owner = base.repeat[0].owner
    sign_in(page, manager.username)
    page.goto("/value/")
    expect(page.get_by_role("heading", name="No customer value yet")).to_be_visible()

    page.get_by_role("button", name="Recompute").first.click()
    expect(page.get_by_role("status").first).to_contain_text("has finished")
    assert ScoreRun.objects.get().status == RunStatus.SUCCEEDED

    pareto = page.get_by_role("img", name="Pareto curve")
    expect(pareto).to_be_visible()
    expect(pareto).to_contain_text("Top % of accounts")
    expect(pareto.locator("polyline").first).to_have_attribute("points", re.compile(r"\d+(\.\d+)?,\d+"))
    expect(page.get_by_role("img", name="CLV distribution")).to_be_visible()
    expect(page.get_by_role("img", name="ABC tiers: accounts and revenue")).to_contain_text("Share of revenue")
    expect(page.locator("#h-lifecycle + div")).to_contain_text("Protect service quality")
    page.screenshot(path=os.environ.get("PATRON_SCREENSHOT_DIR", "/tmp") + "/value-dashboard.png", full_page=True)

    page.get_by_role("link", name="All scores").click()
    page.get_by_label("Lifecycle class").select_option("sleeping")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"lifecycle_class=sleeping"))
    rows = page.locator("#score-table tbody tr")
    expect(rows.first).to_contain_text("Sleeping")
    assert rows.count() >= 1
    assert base_owner is not None

    page.get_by_role("link", name="Customer value").first.click()
    page.get_by_role("link", name="Model diagnostics").click()
    expect(page.get_by_role("heading", name="Fitted models")).to_be_visible()
    expect(page.get_by_role("img", name="Holdout purchases by calibration frequency")).to_contain_text("7+")
    expect(page.get_by_role("img", name="Tracking: cumulative repeat purchases")).to_be_visible()
    page.screenshot(path=os.environ.get("PATRON_SCREENSHOT_DIR", "/tmp") + "/value-diagnostics.png", full_page=True)
