"""The record kinds of the API and how to build one within a given owner's and team's reach, for tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.factories import (
    AccountFactory,
    CampaignFactory,
    ContactFactory,
    DealFactory,
    InteractionFactory,
    LeadFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    SubscriptionFactory,
    SurveyResponseFactory,
    TicketFactory,
)


@dataclass(frozen=True)
class Kind:
    """One record kind: its API path and a builder of a record owned by ``owner`` and shared with ``team``."""

    path: str
    build: Callable[[Any, Any], Any]
    #: A valid create payload for a record of the given account (ignored by kinds without one).
    payload: Callable[[Any], dict[str, Any]] = lambda account: {}
    #: A change to the payload that makes it invalid, and the field the 422 must name.
    spoil: tuple[dict[str, Any], str] = ({}, "")

    def __str__(self) -> str:
        return self.path


def _on_account(factory: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    return lambda owner, team: factory(account=AccountFactory(owner=owner, team=team))


def _line_of(owner: Any, team: Any) -> Any:
    return OrderLineFactory(order=OrderFactory(account=AccountFactory(owner=owner, team=team)))


WHEN = "2025-03-14T10:30:00+00:00"

#: Kinds whose visibility follows an owner and a team (their own, or their account's).
SCOPED_KINDS = [
    Kind(
        "accounts",
        lambda owner, team: AccountFactory(owner=owner, team=team),
        lambda account: {"name": "Acme Ltd"},
        ({"name": ""}, "name"),
    ),
    Kind(
        "contacts",
        _on_account(ContactFactory),
        lambda account: {"account_id": account.pk, "first_name": "Anna", "email": f"anna.{account.pk}@acme.example"},
        ({"email": "not an address"}, "email"),
    ),
    Kind(
        "orders",
        _on_account(OrderFactory),
        lambda account: {"account_id": account.pk, "ordered_at": "2025-03-14", "amount": "99.50"},
        ({"amount": None}, "amount"),
    ),
    Kind(
        "order-lines",
        _line_of,
        lambda account: {"order_id": OrderFactory(account=account).pk, "quantity": "2", "unit_price": "4.25"},
        ({"quantity": "0"}, "quantity"),
    ),
    Kind(
        "subscriptions",
        _on_account(SubscriptionFactory),
        lambda account: {"account_id": account.pk, "monthly_amount": "300.00", "started_on": "2025-01-01"},
        ({"ends_on": "2024-12-31"}, "ends_on"),
    ),
    Kind(
        "interactions",
        _on_account(InteractionFactory),
        lambda account: {"account_id": account.pk, "channel": "phone", "occurred_at": WHEN, "subject": "Call"},
        ({"channel": "carrier pigeon"}, "channel"),
    ),
    Kind(
        "tickets",
        _on_account(TicketFactory),
        lambda account: {"account_id": account.pk, "subject": "Invoice is wrong", "opened_at": WHEN},
        ({"resolved_at": "2025-03-13T10:00:00+00:00"}, "resolved_at"),
    ),
    Kind(
        "leads",
        lambda owner, team: LeadFactory(owner=owner, team=team),
        lambda account: {"name": "Lena Novak", "company": "Novak GmbH"},
        ({"fit_score": 150}, "fit_score"),
    ),
    Kind(
        "deals",
        _on_account(DealFactory),
        lambda account: {"account_id": account.pk, "name": "Renewal 2026", "amount": "12000.00"},
        ({"stage": "won"}, "close_reason"),
    ),
    Kind(
        "survey-responses",
        _on_account(SurveyResponseFactory),
        lambda account: {"account_id": account.pk, "stage": "qbr", "nps": 9, "responded_at": WHEN},
        ({"nps": 11}, "nps"),
    ),
]

#: Reference data every signed-in user sees; managers and admins change it.
SHARED_KINDS = [
    Kind(
        "products",
        lambda owner, team: ProductFactory(),
        lambda account: {"sku": "WID-1", "name": "Widget"},
        ({"sku": ""}, "sku"),
    ),
    Kind(
        "campaigns",
        lambda owner, team: CampaignFactory(),
        lambda account: {"name": "Spring mailing", "channel": "email", "starts_on": "2025-03-01"},
        ({"cost": "-1"}, "cost"),
    ),
]

ALL_KINDS = SCOPED_KINDS + SHARED_KINDS
