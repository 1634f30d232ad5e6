"""A small customer base with two years of orders: repeat buyers, one-off buyers and buyers who stopped."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.utils import timezone

from patron.customers.models import Account, Order
from tests.factories import AccountFactory, OrderFactory, OrderLineFactory, ProductFactory

# A seed whose base lets both lifetime models converge to sensible values in any row order (checked over 10
# shuffles: on PostgreSQL account ids, hence row order, differ from run to run).
BASE_SEED = 24


@dataclass
class Base:
    """The accounts made, by kind, and the day the history ends."""

    today: dt.date
    repeat: list[Account] = field(default_factory=list)
    one_off: list[Account] = field(default_factory=list)
    stopped: list[Account] = field(default_factory=list)
    without_orders: list[Account] = field(default_factory=list)

    @property
    def with_orders(self) -> list[Account]:
        """Return every account that has at least one order."""
        return [*self.repeat, *self.one_off, *self.stopped]


def plan_base(*, repeat: int = 30, one_off: int = 12, stopped: int = 8, seed: int = 7) -> list[tuple[str, list]]:
    """Return each account's kind and orders as (days before today, amount), without touching the database.

    Spend follows the Gamma-Gamma model's own story (each customer has a mean spend, each order varies
    around it); purchases of repeat buyers come at irregular gaps over the two years.
    """
    rng = random.Random(seed)
    plan: list[tuple[str, list]] = []

    def spender() -> Callable[[], float]:
        scale = 1.0 / rng.gammavariate(6.0, 1.0 / 150.0)
        return lambda: round(rng.gammavariate(4.0, scale), 2)

    for _ in range(repeat):
        spend = spender()
        day = 730 - rng.randint(0, 200)
        gap = rng.randint(25, 120)
        orders = []
        while day >= 0:
            orders.append((day, spend()))
            day -= rng.randint(gap // 2, gap)
        plan.append(("repeat", orders))
    for _ in range(one_off):
        plan.append(("one_off", [(rng.randint(10, 730), spender()())]))
    for _ in range(stopped):
        spend = spender()
        day = 730 - rng.randint(0, 60)
        orders = []
        for _ in range(rng.randint(3, 6)):
            orders.append((day, spend()))
            day -= rng.randint(15, 40)
        plan.append(("stopped", orders))
    return plan


def build_base(*, owners, seed: int = BASE_SEED, **sizes: int) -> Base:
    """Make the planned accounts and orders up to today, owners taken in turn from ``owners``."""
    today = timezone.localdate()
    base = Base(today=today)
    owner_cycle = iter(owners * 1000)
    orders: list[Order] = []
    for kind, planned in plan_base(seed=seed, **sizes):
        account = AccountFactory(owner=next(owner_cycle))
        getattr(base, kind).append(account)
        for days_ago, amount in planned:
            orders.append(
                OrderFactory.build(
                    account=account, ordered_at=today - dt.timedelta(days=days_ago), amount=Decimal(f"{amount:.2f}")
                )
            )
    Order.objects.bulk_create(orders)
    base.without_orders.append(AccountFactory(owner=next(owner_cycle)))
    return base


def build_thin_base(*, owners) -> Base:
    """Make a base where only three accounts ever bought twice: too few to fit the lifetime models."""
    today = timezone.localdate()
    base = Base(today=today)
    owner_cycle = iter(owners * 1000)
    for index in range(8):
        acc = AccountFactory(owner=next(owner_cycle))
        OrderFactory(account=acc, ordered_at=today - dt.timedelta(days=300 - index * 20), amount=Decimal("250.00"))
        if index < 3:
            OrderFactory(account=acc, ordered_at=today - dt.timedelta(days=100 - index), amount=Decimal("310.00"))
            base.repeat.append(acc)
        else:
            base.one_off.append(acc)
    return base


@pytest.fixture
def base(member, outsider, admin_user):
    """A few dozen accounts owned in turn by the member, the outsider and the admin."""
    return build_base(owners=[member, outsider, admin_user])


@pytest.fixture
def thin_base(member, outsider):
    return build_thin_base(owners=[member, outsider])


def add_product_lines(account: Account) -> None:
    """Give the account's orders lines in two product groups (so product groups are counted)."""
    hardware = ProductFactory(product_group="Hardware")
    service = ProductFactory(product_group="Service")
    for order in account.orders.all():
        half = (order.amount / 2).quantize(Decimal("0.01"))
        OrderLineFactory(order=order, product=hardware, unit_price=half, amount=half)
        OrderLineFactory(order=order, product=service, unit_price=order.amount - half, amount=order.amount - half)


# Browser (Debian's chromium, never a downloaded one)


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab pointed at the live server."""
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 1360, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()
