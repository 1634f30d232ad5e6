"""The admin: every record's list, form and change history open for an admin; staff see only their rows."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from patron.core.models import ApiToken, Role, Team, User
from tests.core.kinds import ALL_KINDS
from tests.factories import AccountFactory, DealFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = [
    m for m in admin.site._registry if m._meta.app_label in {"core", "customers", "engagement", "pipeline", "feedback"}
]


@pytest.fixture
def admin_client(client):
    boss = UserFactory(username="root", role=Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(boss)
    return client


def test_every_model_of_these_apps_is_in_the_admin():
    names = {m._meta.model_name for m in MODELS}
    assert {
        "user",
        "team",
        "apitoken",
        "account",
        "contact",
        "product",
        "order",
        "orderline",
        "subscription",
        "interaction",
        "ticket",
        "campaign",
        "lead",
        "deal",
        "dealstagechange",
        "surveyresponse",
    } <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_list_and_add_pages_open(model, admin_client):
    meta = model._meta
    assert admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")).status_code == 200
    if model is not ApiToken:
        assert admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add")).status_code == 200


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_change_and_history_pages_open(kind, admin_client):
    record = kind.build(None, None)
    meta = record._meta
    args = [record.pk]
    assert admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=args)).status_code == 200
    assert admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_history", args=args)).status_code == 200


def test_deal_page_shows_its_stage_history(admin_client, admin_user):
    from patron.pipeline import services

    deal = DealFactory(account=AccountFactory())
    services.move_deal(admin_user, deal.pk, "proposal")
    page = admin_client.get(reverse("admin:pipeline_deal_change", args=[deal.pk]))
    assert b"Proposal" in page.content


def test_staff_members_see_only_their_rows(client, member, outsider):
    member.is_staff = True
    member.save()
    from django.contrib.auth.models import Permission

    member.user_permissions.add(Permission.objects.get(codename="view_account"))
    mine, theirs = AccountFactory(owner=member, name="Mine Ltd"), AccountFactory(owner=outsider, name="Theirs Ltd")
    client.force_login(User.objects.get(pk=member.pk))
    page = client.get(reverse("admin:customers_account_changelist"))
    assert page.status_code == 200
    assert mine.name.encode() in page.content
    assert theirs.name.encode() not in page.content


def test_user_admin_edits_role_job_function_and_teams(admin_client):
    team = Team.objects.create(name="Retail")
    user = UserFactory(username="ivy")
    page = admin_client.get(reverse("admin:core_user_change", args=[user.pk]))
    assert b'name="role"' in page.content and b'name="job_function"' in page.content and b'name="teams"' in page.content
    assert team.name.encode() in page.content
