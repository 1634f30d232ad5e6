"""Business logic for accounts, contacts, products, orders and subscriptions: the only place they are written.

Besides the records themselves this module holds what spans them: the account timeline, and the GDPR
export (:func:`contact_data`) and erasure (:func:`erase_contact`) of a contact.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from patron.core.models import Role, User
from patron.core.services import Draft, Records, invalid_from
from patron.customers.models import Account, Contact, Order, OrderLine, Product, Subscription
from patron.errors import Conflict, Forbidden, Invalid

M = TypeVar("M", bound=models.Model)
CENT = Decimal("0.01")


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Return what a line costs: quantity times unit price, rounded half up to the cent."""
    return (Decimal(quantity) * Decimal(unit_price)).quantize(CENT, rounding=ROUND_HALF_UP)


class AccountPartRecords(Records[M]):
    """Records that belong to an account (interactions, tickets, survey answers): a contact named must be its own."""

    #: Foreign keys whose target must belong to the same account as the record.
    same_account: tuple[str, ...] = ("contact",)

    def prepare(self, user: User, drafts: Sequence[Draft[M]]) -> None:
        """Refuse a contact (or ticket) of another account; 422 naming the field."""
        super().prepare(user, drafts)
        for name in self.same_account:
            attname = f"{name}_id"
            target: Any = self.model._meta.get_field(name).related_model
            checking = [d for d in drafts if getattr(d.obj, attname) and (d.moved(attname) or d.moved("account_id"))]
            if not checking:
                continue
            ids = {getattr(d.obj, attname) for d in checking}
            account_of = dict(target._default_manager.filter(pk__in=ids).values_list("pk", "account_id"))
            for d in checking:
                value = getattr(d.obj, attname)
                if account_of.get(value) != d.obj.account_id:  # type: ignore[attr-defined]
                    message = f"{attname}: {target._meta.verbose_name} {value} belongs to another account."
                    raise d.fail(Invalid(message, field=attname))


# Contacts

PERSONAL_FIELDS = ("first_name", "last_name", "email", "phone", "title", "language")
ERASURE_REASON = "GDPR erasure"


class ContactRecords(Records[Contact]):
    """Contacts: one email address per person, compared case-insensitively; erased contacts stay erased."""

    def prepare(self, user: User, drafts: Sequence[Draft[Contact]]) -> None:
        """Store emails trimmed and lower-cased, and keep personal data off erased contacts."""
        super().prepare(user, drafts)
        for d in drafts:
            if isinstance(d.obj.email, str):
                d.obj.email = d.obj.email.strip().lower() or None
            if d.before.get("erased_at") and any(d.moved(name) for name in PERSONAL_FIELDS):
                name = next(n for n in PERSONAL_FIELDS if d.moved(n))
                message = f"{name}: contact {d.obj.pk} was erased and cannot hold personal data again."
                raise d.fail(Conflict(message, field=name))


# Orders and their lines


class OrderRecords(Records[Order]):
    """Orders, given with their lines or not; an order with lines costs the sum of its lines."""

    nested_fields = ("lines",)

    def prepare(self, user: User, drafts: Sequence[Draft[Order]]) -> None:
        """Build the lines given with each order and set the order's amount to their sum."""
        super().prepare(user, drafts)
        with_lines = [d for d in drafts if d.extra.get("lines") is not None]
        items: list[tuple[Draft[Order], Draft[OrderLine]]] = []
        for d in with_lines:
            for index, item in enumerate(d.extra["lines"]):
                item_draft: Draft[OrderLine] = Draft(
                    data=dict(item), row=d.row, where=d.where, field_prefix=f"lines.{index}."
                )
                items.append((d, item_draft))
        order_lines.resolve_references(user, [item for _, item in items])
        built: dict[int, list[OrderLine]] = defaultdict(list)
        for d, item in items:
            data = item.data
            quantity = data.get("quantity", Decimal(1))
            amount = data.get("amount")
            line = OrderLine(
                product_id=data.get("product_id"),
                quantity=quantity,
                unit_price=data["unit_price"],
                amount=line_amount(quantity, data["unit_price"]) if amount is None else amount,
            )
            try:
                line.full_clean(exclude=["order", "product"], validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                raise item.fail(invalid_from(exc)) from None
            built[id(d)].append(line)
        for d in with_lines:
            lines = built[id(d)]
            d.extra["line_objects"] = lines
            if not lines:
                continue
            total = sum((line.amount for line in lines), Decimal(0))
            given = d.data.get("amount")
            if given is not None and given != total:
                message = f"amount: {given} is not the sum of the order's lines ({total})."
                raise d.fail(Invalid(message, field="amount"))
            d.obj.amount = total
        given_lines = {id(d) for d in with_lines}
        self._refuse_amount_over_lines([d for d in drafts if id(d) not in given_lines])

    def _refuse_amount_over_lines(self, drafts: Sequence[Draft[Order]]) -> None:
        changing = {d.obj.pk: d for d in drafts if not d.created and d.moved("amount")}
        if not changing:
            return
        for order_id in OrderLine.objects.filter(order_id__in=changing).values_list("order_id", flat=True).distinct():
            message = "amount: this order has lines, so its amount is their sum; change the lines instead."
            raise changing[order_id].fail(Invalid(message, field="amount"))

    def write_related(self, user: User, drafts: Sequence[Draft[Order]]) -> set[int]:
        """Save the lines given with each order, replacing an existing order's lines only when they differ."""
        with_lines = [d for d in drafts if "line_objects" in d.extra]
        stored: dict[int, list[OrderLine]] = defaultdict(list)
        existing_ids = [d.obj.pk for d in with_lines if not d.created]
        for line in OrderLine.objects.filter(order_id__in=existing_ids):
            stored[line.order_id].append(line)
        replaced: set[int] = set()
        new_lines: list[OrderLine] = []
        for d in with_lines:
            lines = d.extra["line_objects"]
            if not d.created:
                old = stored.get(d.obj.pk, [])
                if Counter(map(_line_key, old)) == Counter(map(_line_key, lines)):
                    continue
                for line in old:
                    line._history_user = user  # type: ignore[attr-defined]
                    line.delete()
                replaced.add(d.obj.pk)
            for line in lines:
                line.order = d.obj
            new_lines += lines
        if new_lines:
            bulk_create_with_history(new_lines, OrderLine, batch_size=1000, default_user=user)
        return replaced


def _line_key(line: OrderLine) -> tuple[Any, ...]:
    return (line.product_id, Decimal(line.quantity), Decimal(line.unit_price), Decimal(line.amount))


class OrderLineRecords(Records[OrderLine]):
    """Order lines on their own: a line's amount defaults to quantity × unit price, and its order is re-totalled."""

    def prepare(self, user: User, drafts: Sequence[Draft[OrderLine]]) -> None:
        """Work out the amount of lines that do not give one."""
        super().prepare(user, drafts)
        for d in drafts:
            priced = d.created or d.moved("quantity") or d.moved("unit_price")
            if priced and d.data.get("amount") is None and d.obj.unit_price is not None:
                d.obj.amount = line_amount(d.obj.quantity, d.obj.unit_price)

    def write_related(self, user: User, drafts: Sequence[Draft[OrderLine]]) -> set[int]:
        """Bring the amounts of the orders these lines are on (and were on) in line with their lines."""
        touched = {d.obj.order_id for d in drafts if d.created or d.changed()}
        touched |= {d.before["order_id"] for d in drafts if not d.created and d.moved("order_id")}
        retotal_orders(user, touched)
        return set()

    def delete(self, user: User, pk: Any) -> None:
        """Delete a line and re-total its order."""
        order_id = self.get(user, pk, "delete").order_id
        super().delete(user, pk)
        retotal_orders(user, {order_id})


def retotal_orders(user: User, order_ids: Iterable[int]) -> None:
    """Set each order's amount to the sum of its lines (orders left without lines keep their amount)."""
    totals = dict(
        OrderLine.objects.filter(order_id__in=set(order_ids))
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values_list("order_id", "total")
    )
    for order in Order.objects.filter(pk__in=totals):
        if order.amount != totals[order.pk]:
            order.amount = totals[order.pk]
            order._history_user = user  # type: ignore[attr-defined]
            order.save(update_fields=["amount", "updated_at"])


accounts = Records(Account, search_fields=("name", "external_id"), orderings=("name", "created_at", "updated_at"))
contacts = ContactRecords(
    Contact,
    search_fields=("first_name", "last_name", "email"),
    orderings=("last_name", "created_at", "updated_at"),
    related=("account",),
    # Indexes of customers migration 0005: one trigram index over the three, prefix indexes on the names.
    combined_search=True,
    prefix_fields=("first_name", "last_name"),
)
products = Records(Product, search_fields=("sku", "name", "product_group"), orderings=("sku", "name", "created_at"))
orders = OrderRecords(
    Order,
    search_fields=("external_id",),
    orderings=("ordered_at", "amount", "created_at"),
    related=("account",),
    prefetch=("lines__product",),
)
order_lines = OrderLineRecords(OrderLine, orderings=("amount",), related=("product",))
subscriptions = Records(
    Subscription,
    search_fields=("external_id",),
    orderings=("started_on", "monthly_amount", "created_at"),
    related=("account", "product"),
)


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


@dataclass(frozen=True)
class TimelinePosition:
    """Where a timeline page ended: the last item's time, kind and id (items sharing a time stay in order)."""

    occurred_at: datetime
    kind: str
    id: int

    @classmethod
    def of(cls, item: TimelineItem) -> TimelinePosition:
        """Return the position of a timeline item (where a page ending with it ends)."""
        return cls(item.occurred_at, item.kind, item.record.pk)

    def token(self) -> str:
        """Return the position as the text clients pass back as ``cursor``."""
        return f"{self.occurred_at.isoformat()}~{self.kind}~{self.id}"

    @classmethod
    def parse(cls, text: str) -> TimelinePosition:
        """Read a ``token()``, raising Invalid on ``cursor`` for anything else."""
        parts = text.split("~")
        moment = parse_datetime(parts[0]) if len(parts) == 3 else None
        if moment is None or parts[1] not in TIMELINE_KINDS or not parts[2].isdigit():
            raise Invalid(_("The timeline position “%(value)s” is not one this timeline gave.") % {"value": text},
                          field="cursor")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return cls(moment, parts[1], int(parts[2]))

    def precedes(self, item: TimelineItem) -> bool:
        """Tell whether ``item`` comes after this position (newest first, then by kind, then newest id)."""
        return _timeline_key(item.occurred_at, item.kind, item.record.pk) < _timeline_key(
            self.occurred_at, self.kind, self.id
        )

    def source_filter(self, kind: str, field: str, at: date | datetime | None = None) -> models.Q:
        """Return the filter on one source's time field (and id) that keeps the items after this position.

        ``at`` is the position's time as that field holds it (its day, for a source dated by day).
        """
        at = self.occurred_at if at is None else at
        rank, mine = TIMELINE_KINDS.index(kind), TIMELINE_KINDS.index(self.kind)
        if rank > mine:
            return models.Q(**{f"{field}__lte": at})
        if rank < mine:
            return models.Q(**{f"{field}__lt": at})
        return models.Q(**{f"{field}__lt": at}) | models.Q(**{field: at, "id__lt": self.id})

    def day_filter(self, kind: str, field: str) -> models.Q:
        """Like ``source_filter`` for a source dated by day, each day standing at noon on the timeline."""
        day = timezone.localtime(self.occurred_at).date()
        noon = _as_datetime(day)
        if noon != self.occurred_at:
            return models.Q(**{f"{field}__lte" if noon < self.occurred_at else f"{field}__lt": day})
        return self.source_filter(kind, field, at=day)


def _timeline_key(moment: datetime, kind: str, pk: int) -> tuple[datetime, int, int]:
    """Return the sort key of the timeline's order (sorted descending: newest first, ties by kind, then id)."""
    return moment, -TIMELINE_KINDS.index(kind), pk


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
    after: TimelinePosition | None = None,
    limit: int = 100,
) -> list[TimelineItem]:
    """Return the newest ``limit`` timeline items of a visible account, newest first.

    ``before`` keeps only items older than a time; ``after`` continues from where a page ended.
    """
    from patron.engagement.models import Interaction, Ticket
    from patron.feedback.models import SurveyResponse

    account = accounts.get(user, account_id)
    wanted = set(kinds or TIMELINE_KINDS)
    channel_list = [c for c in (channels or ()) if c]
    items: list[TimelineItem] = []
    # Each source gives at most ``limit`` rows, so the merge never reads more than 4 × limit rows.
    if "interaction" in wanted:
        touches = Interaction.objects.filter(account=account).select_related("logged_by", "contact")
        if channel_list:
            touches = touches.filter(channel__in=channel_list)
        if before:
            touches = touches.filter(occurred_at__lt=before)
        if after:
            touches = touches.filter(after.source_filter("interaction", "occurred_at"))
        items += [
            TimelineItem("interaction", i.occurred_at, i.subject, i.summary, i.channel, i)
            for i in touches.order_by("-occurred_at", "-id")[:limit]
        ]
    if "ticket" in wanted:
        requests = Ticket.objects.filter(account=account).select_related("handled_by")
        if channel_list:
            requests = requests.filter(channel__in=channel_list)
        if before:
            requests = requests.filter(opened_at__lt=before)
        if after:
            requests = requests.filter(after.source_filter("ticket", "opened_at"))
        items += [
            TimelineItem("ticket", t.opened_at, t.subject, t.description, t.channel, t)
            for t in requests.order_by("-opened_at", "-id")[:limit]
        ]
    if "order" in wanted and not channel_list:
        purchases = Order.objects.filter(account=account)
        if before:
            day = timezone.localtime(before).date()
            purchases = purchases.filter(ordered_at__lte=day if _as_datetime(day) < before else day - timedelta(1))
        if after:
            purchases = purchases.filter(after.day_filter("order", "ordered_at"))
        items += [
            TimelineItem(
                "order", _as_datetime(o.ordered_at), f"{o.amount} {o.currency}", o.get_channel_display(), "", o
            )
            for o in purchases.order_by("-ordered_at", "-id")[:limit]
        ]
    if "survey" in wanted and not channel_list:
        answers = SurveyResponse.objects.filter(account=account).select_related("contact")
        if before:
            answers = answers.filter(responded_at__lt=before)
        if after:
            answers = answers.filter(after.source_filter("survey", "responded_at"))
        items += [
            TimelineItem("survey", s.responded_at, s.get_stage_display(), s.comment, "", s)
            for s in answers.order_by("-responded_at", "-id")[:limit]
        ]
    items = [
        i for i in items if (before is None or i.occurred_at < before) and (after is None or after.precedes(i))
    ]
    items.sort(key=lambda i: _timeline_key(i.occurred_at, i.kind, i.record.pk), reverse=True)
    return items[:limit]


# GDPR: a contact's data, and erasing it


def plain(value: Any) -> Any:
    """Return a value as JSON has it: dates and times in ISO 8601, decimals as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def record_data(obj: models.Model) -> dict[str, Any]:
    """Return every stored field of a record, JSON-ready."""
    return {f.attname: plain(getattr(obj, f.attname)) for f in obj._meta.concrete_fields}


HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def contact_data(user: User, contact_id: int) -> dict[str, Any]:
    """Return everything held about a contact the user may see, JSON-ready (a data subject access request)."""
    from patron.engagement import services as engagement
    from patron.feedback import services as feedback

    contact = contacts.get(user, contact_id)
    theirs = {"contact_id": contact.pk}
    history = contact.history.select_related("history_user").order_by("history_date", "history_id")
    fields = [f.attname for f in Contact._meta.concrete_fields]
    return {
        "exported_at": timezone.now().isoformat(),
        "contact": record_data(contact),
        "account": {"id": contact.account_id, "name": contact.account.name},
        "interactions": [
            record_data(i) for i in engagement.interactions.filtered(user, filters=theirs).order_by("occurred_at", "id")
        ],
        "tickets": [
            record_data(t) for t in engagement.tickets.filtered(user, filters=theirs).order_by("opened_at", "id")
        ],
        "survey_responses": [
            record_data(r)
            for r in feedback.survey_responses.filtered(user, filters=theirs).order_by("responded_at", "id")
        ],
        "history": [
            {
                "at": plain(h.history_date),
                "type": HISTORY_TYPES.get(h.history_type, h.history_type),
                "by": h.history_user.username if h.history_user else None,
                "reason": h.history_change_reason or "",
                "values": {name: plain(getattr(h, name)) for name in fields},
            }
            for h in history
        ],
    }


def can_erase(user: User) -> bool:
    """Tell whether the user's role lets them erase contacts (managers and admins, for contacts they may change)."""
    return bool(user.is_admin or user.role == Role.MANAGER)


def erased_name(contact_id: int) -> str:
    """Return the name an erased contact keeps, so lists and history still show that someone was there."""
    return f"Erased contact #{contact_id}"


def erase_contact(user: User, contact_id: int) -> Contact:
    """Anonymise a contact for good: personal data and free text about them go, also from the audit history.

    The erasure itself stays in the history (who and when, reason "GDPR erasure"); erasing twice changes nothing.
    """
    from patron.engagement import services as engagement
    from patron.feedback import services as feedback

    contact = contacts.get(user, contact_id, "change")
    if not can_erase(user):
        raise Forbidden(_("Only managers and admins may erase a contact."))
    if contact.erased_at:
        return contact
    anonymous = {
        "first_name": "",
        "last_name": erased_name(contact.pk),
        "email": None,
        "phone": "",
        "title": "",
        "language": "",
    }
    for name, value in anonymous.items():
        setattr(contact, name, value)
    contact.email_opt_out = True
    contact.do_not_contact = True
    contact.erased_at = timezone.now()
    contact._change_reason = ERASURE_REASON  # type: ignore[attr-defined]
    contacts.save(user, contact, validate=False)
    erasure = contact.history.latest()
    contact.history.exclude(history_id=erasure.history_id).update(**anonymous)
    engagement.forget_contact_text(contact.pk)
    feedback.forget_contact_comments(contact.pk)
    return contact
