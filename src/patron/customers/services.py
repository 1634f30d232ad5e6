"""Business logic for accounts, contacts, products, orders and subscriptions: the only place they are written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from patron.core.models import User
from patron.core.services import Records
from patron.customers.models import Account, Contact, Order, OrderLine, Product, Subscription

accounts = Records(Account, search_fields=("name", "external_id"), orderings=("name", "created_at", "updated_at"))
contacts = Records(Contact, search_fields=("first_name", "last_name", "email"), orderings=("last_name", "created_at"))
products = Records(Product, search_fields=("sku", "name", "product_group"), orderings=("sku", "name"))
orders = Records(Order, search_fields=("external_id",), orderings=("ordered_at", "amount"))
order_lines = Records(OrderLine)
subscriptions = Records(Subscription, search_fields=("external_id",), orderings=("started_on",))


@dataclass(frozen=True)
class TimelineItem:
    """One entry of an account's merged timeline: an interaction, ticket, order or survey response."""

    kind: str
    occurred_at: datetime
    title: str
    detail: str
    channel: str
    record: Any


TIMELINE_KINDS = ("interaction", "ticket", "order", "survey")


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return timezone.make_aware(datetime.combine(value, time(12, 0)))


def account_timeline(
    user: User,
    account_id: int,
    *,
    kinds: Iterable[str] | None = None,
    channels: Iterable[str] | None = None,
    before: datetime | None = None,
    limit: int = 100,
) -> list[TimelineItem]:
    """Return the newest ``limit`` timeline items of a visible account, newest first, before ``before``."""
    from patron.engagement.models import Interaction, Ticket
    from patron.feedback.models import SurveyResponse

    account = accounts.get(user, account_id)
    wanted = set(kinds or TIMELINE_KINDS)
    channel_list = [c for c in (channels or ()) if c]
    items: list[TimelineItem] = []
    # Each source gives at most ``limit`` rows, so the merge never reads more than 4 × limit rows.
    if "interaction" in wanted:
        qs = Interaction.objects.filter(account=account).select_related("logged_by", "contact")
        if channel_list:
            qs = qs.filter(channel__in=channel_list)
        if before:
            qs = qs.filter(occurred_at__lt=before)
        items += [
            TimelineItem("interaction", i.occurred_at, i.subject, i.summary, i.channel, i)
            for i in qs.order_by("-occurred_at", "-id")[:limit]
        ]
    if "ticket" in wanted:
        qs = Ticket.objects.filter(account=account).select_related("handled_by")
        if channel_list:
            qs = qs.filter(channel__in=channel_list)
        if before:
            qs = qs.filter(opened_at__lt=before)
        items += [
            TimelineItem("ticket", t.opened_at, t.subject, t.description, t.channel, t)
            for t in qs.order_by("-opened_at", "-id")[:limit]
        ]
    if "order" in wanted and not channel_list:
        qs = Order.objects.filter(account=account)
        if before:
            qs = qs.filter(ordered_at__lt=before.date() if before.time() == time(0) else before.date() + timedelta(1))
        items += [
            TimelineItem(
                "order", _as_datetime(o.ordered_at), f"{o.amount} {o.currency}", o.get_channel_display(), "", o
            )
            for o in qs.order_by("-ordered_at", "-id")[:limit]
        ]
    if "survey" in wanted and not channel_list:
        qs = SurveyResponse.objects.filter(account=account).select_related("contact")
        if before:
            qs = qs.filter(responded_at__lt=before)
        items += [
            TimelineItem("survey", s.responded_at, s.get_stage_display(), s.comment, "", s)
            for s in qs.order_by("-responded_at", "-id")[:limit]
        ]
    items = [i for i in items if before is None or i.occurred_at < before]
    items.sort(key=lambda i: i.occurred_at, reverse=True)
    return items[:limit]
