"""Orders with their lines: the amount of an order with lines is their sum, kept so as lines change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from patron.customers.models import Order, OrderLine
from tests.factories import AccountFactory, OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(member):
    return AccountFactory(owner=member)


@pytest.fixture
def product():
    return ProductFactory(sku="WID-1", name="Widget")


def test_an_order_created_with_lines_costs_their_sum(api_for, member, account, product):
    response = api_for(member).post(
        "/orders",
        {
            "account_id": account.pk,
            "ordered_at": "2025-03-14",
            "lines": [
                {"product_id": product.pk, "quantity": "3", "unit_price": "19.99"},
                {"product_id": product.pk, "unit_price": "5.00", "amount": "4.00"},
            ],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert Decimal(body["amount"]) == Decimal("63.97")
    assert [(line["product_name"], Decimal(line["amount"])) for line in body["lines"]] == [
        ("Widget", Decimal("59.97")),
        ("Widget", Decimal("4.00")),
    ]
    listed = api_for(member).get(f"/orders?account_id={account.pk}").json()["items"]
    assert len(listed[0]["lines"]) == 2


def test_an_amount_that_is_not_the_sum_of_the_lines_is_a_422(api_for, member, account, product):
    response = api_for(member).post(
        "/orders",
        {"account_id": account.pk, "ordered_at": "2025-03-14", "amount": "100", "lines": [{"unit_price": "5"}]},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "amount"
    assert not Order.objects.exists()


def test_a_bad_line_is_named_by_its_position(api_for, member, account):
    response = api_for(member).post(
        "/orders",
        {
            "account_id": account.pk,
            "ordered_at": "2025-03-14",
            "lines": [{"unit_price": "5"}, {"product_id": 999999, "unit_price": "5"}],
        },
    )
    assert response.status_code == 422
    assert response.json()["field"] == "lines.1.product_id"


def test_an_order_without_lines_needs_an_amount(api_for, member, account):
    response = api_for(member).post("/orders", {"account_id": account.pk, "ordered_at": "2025-03-14"})
    assert response.status_code == 422
    assert response.json()["field"] == "amount"


def test_patching_lines_replaces_them_and_the_amount(api_for, member, account, product):
    order = OrderFactory(account=account, amount=Decimal("10.00"))
    OrderLineFactory(order=order, product=product, unit_price=Decimal("10.00"), amount=Decimal("10.00"))
    response = api_for(member).patch(f"/orders/{order.pk}", {"lines": [{"quantity": "2", "unit_price": "7.50"}]})
    assert response.status_code == 200
    assert Decimal(response.json()["amount"]) == Decimal("15.00")
    assert [Decimal(line.amount) for line in order.lines.all()] == [Decimal("15.00")]


def test_the_amount_of_an_order_with_lines_is_not_set_by_hand(api_for, member, account, product):
    order = OrderFactory(account=account, amount=Decimal("10.00"))
    OrderLineFactory(order=order, unit_price=Decimal("10.00"), amount=Decimal("10.00"))
    response = api_for(member).patch(f"/orders/{order.pk}", {"amount": "99.00"})
    assert response.status_code == 422
    assert response.json()["field"] == "amount"


def test_order_lines_on_their_own_keep_the_order_total(api_for, member, account, product):
    order = OrderFactory(account=account, amount=Decimal("10.00"))
    first = OrderLineFactory(order=order, unit_price=Decimal("10.00"), amount=Decimal("10.00"))
    api = api_for(member)
    added = api.post(
        "/order-lines", {"order_id": order.pk, "product_id": product.pk, "quantity": "2", "unit_price": "2.50"}
    )
    assert added.status_code == 201
    assert Decimal(added.json()["amount"]) == Decimal("5.00")
    order.refresh_from_db()
    assert order.amount == Decimal("15.00")

    api.patch(f"/order-lines/{first.pk}", {"unit_price": "20.00"})
    order.refresh_from_db()
    assert order.amount == Decimal("25.00")

    api.delete(f"/order-lines/{first.pk}")
    order.refresh_from_db()
    assert order.amount == Decimal("5.00")
    assert order.history.latest().history_user == member
    assert OrderLine.objects.filter(order=order).count() == 1


def test_orders_filter_by_date_range_and_channel(api_for, member, account):
    inside = OrderFactory(account=account, ordered_at=dt.date(2025, 3, 1), channel="online")
    OrderFactory(account=account, ordered_at=dt.date(2025, 3, 1), channel="store")
    OrderFactory(account=account, ordered_at=dt.date(2025, 4, 1), channel="online")
    OrderFactory(account=AccountFactory(owner=member), ordered_at=dt.date(2025, 3, 1), channel="online")
    response = api_for(member).get(
        f"/orders?account_id={account.pk}&ordered_from=2025-03-01&ordered_to=2025-03-31&channel=online"
    )
    assert [o["id"] for o in response.json()["items"]] == [inside.pk]


def test_subscriptions_filter_by_renewal_and_status(api_for, member, account):
    from tests.factories import SubscriptionFactory

    soon = SubscriptionFactory(account=account, renews_on=dt.date(2025, 6, 1), status="active")
    SubscriptionFactory(account=account, renews_on=dt.date(2025, 9, 1), status="active")
    SubscriptionFactory(account=account, renews_on=dt.date(2025, 5, 1), status="cancelled")
    response = api_for(member).get("/subscriptions?renews_before=2025-07-01&status=active")
    assert [s["id"] for s in response.json()["items"]] == [soon.pk]
