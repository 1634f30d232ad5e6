"""Fixtures shared by every test: users in each role, their teams, and API clients."""

from __future__ import annotations

import os

import pytest
from django.test import Client
from django.utils import translation

from patron.core.models import Role
from tests.factories import TeamFactory, UserFactory, make_token


@pytest.fixture
def team(db):
    return TeamFactory(name="Enterprise")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Mid-market")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", role=Role.ADMIN)


@pytest.fixture
def manager(team):
    return UserFactory(username="mona", role=Role.MANAGER, teams=[team])


@pytest.fixture
def member(team):
    return UserFactory(username="max", role=Role.MEMBER, teams=[team])


@pytest.fixture
def outsider(other_team):
    return UserFactory(username="olga", role=Role.MEMBER, teams=[other_team])


class ApiClient:
    """A test client that sends a bearer token and JSON by default."""

    def __init__(self, user=None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {make_token(user)}"} if user else {}

    def _call(self, method, path, data=None, content_type="application/json", **extra):
        kwargs = {"headers": {**self.headers, **extra.pop("headers", {})}}
        if data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = content_type
        return getattr(self.client, method)(f"/api/v1{path}", **kwargs, **extra)

    def get(self, path, **extra):
        return self.client.get(f"/api/v1{path}", headers=self.headers, **extra)

    def post(self, path, data=None, **kw):
        return self._call("post", path, data, **kw)

    def patch(self, path, data=None, **kw):
        return self._call("patch", path, data, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)


@pytest.fixture
def api_for():
    """Return a function that makes an API client authenticated as a user (None for anonymous)."""
    return ApiClient


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hash test passwords with a cheap hasher: real hashing costs about a second per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium per test process, shared by every browser test (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there unless told it is safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def english_unless_a_test_says_otherwise():
    """Start every test in English: a page rendered in another language leaves it active in the thread."""
    translation.activate("en")
    yield
    translation.deactivate()
