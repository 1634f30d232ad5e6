"""The demo generator: every kind of record, realistic skew and decline, the same data for the same seed."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count, F, Max, Sum
from django.test import Client
from django.utils import timezone

from patron.core.models import Role, User
from patron.customers.models import Account, Contact, Order, OrderLine, Product, Subscription
from patron.demo.catalog import DEMO_LOGINS, DEMO_PASSWORD
from patron.demo.generator import generate, resolve_scale
from patron.engagement.models import Channel, Interaction, Ticket
from patron.feedback.models import SurveyResponse, SurveyStage
from patron.pipeline.models import Campaign, Deal, DealStageChange, Lead

pytestmark = pytest.mark.django_db

SMALL = {"accounts": 60}


def _fingerprint() -> tuple[list, list, list]:
    accounts = list(Account.objects.order_by("id").values_list("name", "country", "industry", "lifecycle_stage"))
    contacts = list(Contact.objects.order_by("id").values_list("first_name", "last_name", "email", "phone"))
    orders = list(Order.objects.order_by("id").values_list("ordered_at", "amount"))
    return accounts, contacts, orders


def test_every_record_type_and_every_channel_is_there():
    summary = generate("small", seed=7, scale=SMALL)
    for model in (Account, Contact, Product, Order, OrderLine, Subscription, Interaction, Ticket, SurveyResponse,
                  Campaign, Lead, Deal, DealStageChange):  # fmt: skip
        assert model.objects.exists(), f"no {model.__name__} rows"
    assert Account.objects.count() == 60
    assert summary.counts["customers.Account"] == 60
    assert set(Interaction.objects.values_list("channel", flat=True).distinct()) == set(Channel.values)
    assert set(SurveyResponse.objects.values_list("stage", flat=True).distinct()) >= {
        SurveyStage.ONBOARDING, SurveyStage.QBR, SurveyStage.RENEWAL, SurveyStage.AFTER_TICKET,
    }  # fmt: skip
    assert len(set(Interaction.objects.values_list("logged_as", flat=True).distinct())) >= 5
    assert Product.objects.values("product_group").distinct().count() >= 5
    assert Lead.objects.filter(campaign__isnull=False, converted_account__isnull=False).exists()
    assert Campaign.objects.filter(cost__gt=0).count() == Campaign.objects.count()


def test_order_amounts_are_the_sum_of_their_lines():
    generate("small", seed=7, scale=SMALL)
    mismatched = [o for o in Order.objects.annotate(total=Sum("lines__amount"))[:300] if o.total != o.amount]
    assert not mismatched


def test_a_fifth_of_the_accounts_brings_most_of_the_revenue():
    generate("small", seed=7, scale=SMALL)
    revenue = sorted(
        (
            row["revenue"] or Decimal(0)
            for row in Account.objects.annotate(revenue=Sum("orders__amount")).values("revenue")
        ),
        reverse=True,
    )
    top = sum(revenue[: len(revenue) // 5])
    assert top / sum(revenue) > Decimal("0.6")


def test_churned_accounts_stop_ordering_and_cancel():
    generate("small", seed=7, scale={"accounts": 150})
    churned = Account.objects.filter(lifecycle_stage="churned")
    assert churned.exists()
    subscriptions = Subscription.objects.filter(account__in=churned)
    assert set(subscriptions.values_list("status", flat=True)) <= {"cancelled", "expired"}
    for account in churned.annotate(last_order=Max("orders__ordered_at"), ended=Max("subscriptions__ends_on")):
        if account.last_order and account.ended:
            assert account.last_order <= account.ended
    newest = Order.objects.aggregate(d=Max("ordered_at"))["d"]
    assert all(
        a.last_order is None or a.last_order < newest for a in churned.annotate(last_order=Max("orders__ordered_at"))
    )


def test_scores_follow_account_health():
    generate("small", seed=7, scale={"accounts": 200})

    def mean_nps(stages, **since):
        rows = SurveyResponse.objects.filter(account__lifecycle_stage__in=stages, nps__isnull=False, **since)
        values = list(rows.values_list("nps", flat=True))
        assert values, stages
        return sum(values) / len(values)

    assert mean_nps(["churned", "at_risk"]) < mean_nps(["active"]) - 0.5
    last_half_year = {"responded_at__gte": timezone.now() - dt.timedelta(days=182)}
    assert mean_nps(["at_risk"], **last_half_year) < mean_nps(["active"], **last_half_year) - 1.5


def test_names_fit_the_country():
    generate("small", seed=7, scale={"accounts": 150})
    cjk, cyrillic = re.compile(r"[\u4e00-\u9fff]"), re.compile(r"[\u0400-\u04ff]")
    chinese = Contact.objects.filter(account__country="CN")
    russian = Contact.objects.filter(account__country__in=["RU", "BG"])
    assert chinese.exists() and russian.exists()
    assert all(cjk.search(c.last_name) for c in chinese)
    assert all(cyrillic.search(c.last_name) for c in russian)
    assert set(Contact.objects.filter(account__country="PL").values_list("language", flat=True)) == {"pl"}
    assert all(c.email.isascii() for c in Contact.objects.all())


def test_some_tickets_are_solved_by_sales_on_the_phone():
    generate("small", seed=7, scale={"accounts": 150})
    by_sales = Ticket.objects.filter(channel="phone", handled_as="sales", status__in=["resolved", "closed"])
    assert by_sales.exists()
    assert all((t.resolved_at - t.opened_at).total_seconds() < 3600 for t in by_sales)
    assert Ticket.objects.filter(handled_as="service").exists()
    assert not Ticket.objects.filter(resolved_at__lt=F("opened_at")).exists()


def test_deals_carry_their_stage_history():
    generate("small", seed=7, scale=SMALL)
    won = Deal.objects.filter(stage="won").annotate(steps=Count("stage_history")).first()
    assert won is not None and won.steps == 5
    history = list(won.stage_history.values_list("stage", flat=True))
    assert history == ["qualification", "discovery", "proposal", "negotiation", "won"]
    assert Deal.objects.filter(stage="lost").exclude(close_reason="").exists()


def test_same_seed_gives_the_same_data():
    with transaction.atomic():
        generate("small", seed=11, scale={"accounts": 30})
        first = _fingerprint()
        transaction.set_rollback(True)
    generate("small", seed=11, scale={"accounts": 30})
    assert _fingerprint() == first
    assert first[0] and first[2]


def test_another_seed_gives_other_data():
    with transaction.atomic():
        generate("small", seed=11, scale={"accounts": 30})
        first = _fingerprint()
        transaction.set_rollback(True)
    generate("small", seed=12, scale={"accounts": 30})
    assert _fingerprint()[1] != first[1]


def test_demo_users_sign_in_and_see_their_accounts():
    generate("small", seed=7, scale=SMALL)
    for login in DEMO_LOGINS:
        assert Client().login(username=login.username, password=DEMO_PASSWORD), login.username
    csm = User.objects.get(username="csm")
    assert csm.role == Role.MEMBER
    visible = Account.objects.restrict(csm).count()
    assert 0 < visible < Account.objects.count()
    assert Account.objects.filter(owner=csm).exists()
    assert User.objects.get(username="admin").is_admin


def test_b2c_base_has_one_contact_per_person():
    generate("large", seed=3, scale={"accounts": 300})
    assert set(Account.objects.values_list("kind", flat=True).distinct()) == {"person"}
    assert Contact.objects.count() == 300
    person = Account.objects.prefetch_related("contacts").first()
    contact = person.contacts.get()
    assert contact.first_name in person.name and contact.last_name in person.name
    assert Order.objects.count() > 300
    assert SurveyResponse.objects.filter(stage="purchase").exists()


def test_scale_overrides_and_rejects_unknown_keys():
    counts = resolve_scale("large", {"accounts": 1000, "interactions": 5000, "kind": "company", "contacts": 9000})
    assert counts["kind"] == "company" and counts["interactions"] == 5000 and counts["contacts"] == 9000
    with pytest.raises(ValueError, match="Unknown scale keys"):
        resolve_scale("small", {"acounts": 5})
    with pytest.raises(ValueError, match="Unknown demo size"):
        resolve_scale("medium", None)


def test_scale_totals_land_near_the_request():
    generate("small", seed=5, scale={"accounts": 300, "interactions": 6000, "contacts": 1500, "orders": 3000})
    assert 5000 < Interaction.objects.count() < 7000
    assert 1300 < Contact.objects.count() < 1700
    assert 2400 < Order.objects.count() < 3600
