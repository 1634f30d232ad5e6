"""Business logic for interactions and tickets: the only place they are written.

Who logged an interaction and who handled a ticket are kept with the job function they did it in
(``logged_as``, ``handled_as``), so reports can tell a salesperson's support call from a service agent's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Q
from django.utils import timezone

from patron.core.models import User
from patron.core.services import Draft
from patron.customers.services import AccountPartRecords, accounts
from patron.engagement.models import Interaction, Ticket, TicketStatus

CLOSED_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


def fill_job_functions(drafts: Sequence[Draft[Any]], person: str, capacity: str) -> None:
    """Set ``capacity`` to the job function of the user in ``person`` where that user is new and none is given."""
    filling = [d for d in drafts if capacity not in d.data and d.moved(person)]
    ids = {getattr(d.obj, person) for d in filling} - {None}
    functions = dict(User.objects.filter(pk__in=ids).values_list("pk", "job_function")) if ids else {}
    for d in filling:
        setattr(d.obj, capacity, functions.get(getattr(d.obj, person), ""))


class InteractionRecords(AccountPartRecords[Interaction]):
    """Interactions: logged by the caller unless the payload names someone, in that person's job function."""

    def prepare(self, user: User, drafts: Sequence[Draft[Interaction]]) -> None:
        """Fill who logged each new interaction and in which capacity."""
        super().prepare(user, drafts)
        for d in drafts:
            if d.created and "logged_by_id" not in d.data:
                d.obj.logged_by_id = user.pk
            if d.obj.logged_as is None:
                d.obj.logged_as = ""
                d.data.pop("logged_as", None)
        fill_job_functions(drafts, "logged_by_id", "logged_as")


class TicketRecords(AccountPartRecords[Ticket]):
    """Tickets: opened now unless told otherwise, handled in the handler's job function, resolved when closed."""

    def prepare(self, user: User, drafts: Sequence[Draft[Ticket]]) -> None:
        """Fill the opening time, the handler's job function and the resolution time."""
        super().prepare(user, drafts)
        now = timezone.now()
        for d in drafts:
            if d.obj.opened_at is None and d.created:
                d.obj.opened_at = now
            if d.obj.handled_as is None:
                d.obj.handled_as = ""
                d.data.pop("handled_as", None)
            if "resolved_at" not in d.data and d.moved("status"):
                closed = d.obj.status in CLOSED_STATUSES
                if closed and d.obj.resolved_at is None:
                    d.obj.resolved_at = max(now, d.obj.opened_at) if d.obj.opened_at else now
                elif not closed:
                    d.obj.resolved_at = None
        fill_job_functions(drafts, "handled_by_id", "handled_as")


interactions = InteractionRecords(
    Interaction,
    search_fields=("subject",),
    orderings=("occurred_at", "created_at"),
    related=("account", "contact"),
)
tickets = TicketRecords(
    Ticket,
    search_fields=("subject", "external_id"),
    orderings=("opened_at", "created_at", "updated_at"),
    related=("account", "contact"),
)


def log_interaction(user: User, account_id: int, data: Mapping[str, Any]) -> Interaction:
    """Log a touchpoint with an account as the user, in their job function (what the account page's form does)."""
    account = accounts.get(user, account_id)
    fields = {k: v for k, v in data.items() if k not in ("logged_as", "account_external_id")}
    return interactions.create(user, {**fields, "account_id": account.pk, "logged_by_id": user.pk})


def forget_contact_text(contact_id: int) -> None:
    """Blank the free text of a contact's interactions and tickets, also in their audit history (GDPR erasure)."""
    theirs_i = Interaction.objects.filter(contact_id=contact_id).values("id")
    Interaction.history.filter(Q(id__in=theirs_i) | Q(contact_id=contact_id)).update(summary="")
    Interaction.objects.filter(contact_id=contact_id).update(summary="")
    theirs_t = Ticket.objects.filter(contact_id=contact_id).values("id")
    Ticket.history.filter(Q(id__in=theirs_t) | Q(contact_id=contact_id)).update(description="")
    Ticket.objects.filter(contact_id=contact_id).update(description="")
