"""What can be imported: one spec per kind of record, naming its model, its keys, its columns and its references.

The rules for each column (type, length, choices, range, required or not) come from the model's own field
definitions, so a spec only says which fields a file may fill, which fields match a row to a stored record
(``keys``), and how a reference column finds the record it names (``refs``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from patron.core.services import Records
from patron.customers.models import Account, Contact, Order, Product, Subscription
from patron.engagement.models import Interaction, Ticket
from patron.errors import Invalid
from patron.feedback.models import SurveyResponse
from patron.pipeline.models import Campaign, Deal, DealStage, Lead


@dataclass(frozen=True)
class Ref:
    """How a reference column finds the record it names.

    ``model`` is matched on ``lookup`` (a field name, "user" for people matched by e-mail, username or full
    name, "team" for teams matched by name). Contacts can also be named by e-mail (``by_email``). An unknown
    person is a warning and leaves the field empty (as other CRMs' owners often have no Patron login);
    any other unknown reference is a row error.
    """

    model: type[models.Model] | None
    lookup: str
    by_email: bool = False

    @property
    def is_user(self) -> bool:
        """Tell whether the column names a person (a Patron user)."""
        return self.lookup == "user"

    @property
    def is_team(self) -> bool:
        """Tell whether the column names a team."""
        return self.lookup == "team"


USER = Ref(None, "user")
TEAM = Ref(None, "team")
ACCOUNT = Ref(Account, "external_id")
CONTACT = Ref(Contact, "external_id", by_email=True)
PRODUCT = Ref(Product, "sku")
CAMPAIGN = Ref(Campaign, "external_id")
LEAD = Ref(Lead, "external_id")
TICKET = Ref(Ticket, "external_id")


@dataclass(frozen=True)
class Kind:
    """One kind of record a file can hold."""

    name: str
    model: type[models.Model]
    records_path: str  # the domain's Records (its rules and follow-up writes), as a dotted path
    fields: tuple[str, ...]
    keys: tuple[str, ...] = ("external_id",)
    casefold_keys: frozenset[str] = frozenset()
    refs: dict[str, Ref] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    choice_words: dict[str, dict[str, str]] = field(default_factory=dict)
    complete: Callable[[dict[str, Any]], None] | None = None
    derived: tuple[str, ...] = ()  # fields ``complete`` may fill although no column does

    @property
    def records(self) -> Records:
        """Return the domain's ``Records`` for this kind, whose hooks every write of it goes through."""
        return import_string(self.records_path)

    @property
    def label(self) -> str:
        """Return the plural name people use for these records."""
        return str(self.model._meta.verbose_name_plural)

    @property
    def parent(self) -> str | None:
        """Return the field whose record the user must be allowed to change to add rows here ("account")."""
        scope = getattr(self.model, "scope", "shared")
        return None if scope in ("owned", "shared") else scope.split("__")[0]

    def model_field(self, name: str) -> models.Field:
        """Return the model field behind a column."""
        return self.model._meta.get_field(name)  # type: ignore[return-value]


def _close_won_and_lost(values: dict[str, Any]) -> None:
    """Give a closed deal its close date: exports of other CRMs keep only one "Close Date"."""
    closed = values.get("stage") in (DealStage.WON, DealStage.LOST)
    if closed and not values.get("closed_on") and values.get("expected_close"):
        values["closed_on"] = values["expected_close"]


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "accounts",
            Account,
            "patron.customers.services.accounts",
            (
                "external_id", "name", "kind", "industry", "size_band", "country", "region", "website", "owner",
                "team", "lifecycle_stage",
            ),
            refs={"owner": USER, "team": TEAM},
            aliases={"company": "name", "company_name": "name", "account_name": "name", "domain": "website"},
        ),
        Kind(
            "contacts",
            Contact,
            "patron.customers.services.contacts",
            (
                "external_id", "account", "first_name", "last_name", "email", "phone", "title", "role", "language",
                "email_opt_out", "do_not_contact",
            ),
            keys=("external_id", "email"),
            casefold_keys=frozenset({"email"}),
            refs={"account": ACCOUNT},
            aliases={"job_title": "title", "e_mail": "email", "email_address": "email"},
        ),
        Kind(
            "deals",
            Deal,
            "patron.pipeline.services.deals",
            (
                "external_id", "account", "name", "kind", "stage", "amount", "currency", "expected_close",
                "closed_on", "owner", "lead", "campaign", "close_reason",
            ),
            refs={"account": ACCOUNT, "owner": USER, "lead": LEAD, "campaign": CAMPAIGN},
            aliases={"deal_name": "name", "opportunity_name": "name", "close_date": "expected_close"},
            choice_words={
                "stage": {"closedwon": DealStage.WON, "closedlost": DealStage.LOST},
                "kind": {"newbusiness": "new", "existingbusiness": "expansion", "upsell": "expansion"},
            },
            complete=_close_won_and_lost,
            derived=("closed_on",),
        ),
        Kind(
            "products",
            Product,
            "patron.customers.services.products",
            ("sku", "external_id", "name", "product_group"),
            keys=("sku",),
            aliases={"product_code": "sku", "group": "product_group"},
        ),
        Kind(
            "orders",
            Order,
            "patron.customers.services.orders",
            ("external_id", "account", "ordered_at", "amount", "currency", "channel"),
            refs={"account": ACCOUNT},
            aliases={"order_date": "ordered_at", "date": "ordered_at"},
        ),
        Kind(
            "subscriptions",
            Subscription,
            "patron.customers.services.subscriptions",
            (
                "external_id", "account", "product", "monthly_amount", "currency", "started_on", "ends_on",
                "renews_on", "status",
            ),
            refs={"account": ACCOUNT, "product": PRODUCT},
            aliases={"mrr": "monthly_amount", "start_date": "started_on", "end_date": "ends_on"},
        ),
        Kind(
            "interactions",
            Interaction,
            "patron.engagement.services.interactions",
            (
                "external_id", "account", "contact", "channel", "direction", "occurred_at", "subject", "summary",
                "outcome", "logged_by", "logged_as",
            ),
            refs={"account": ACCOUNT, "contact": CONTACT, "logged_by": USER},
        ),
        Kind(
            "tickets",
            Ticket,
            "patron.engagement.services.tickets",
            (
                "external_id", "account", "contact", "subject", "description", "channel", "opened_at", "resolved_at",
                "severity", "category", "status", "handled_by", "handled_as",
            ),
            refs={"account": ACCOUNT, "contact": CONTACT, "handled_by": USER},
        ),
        Kind(
            "survey_responses",
            SurveyResponse,
            "patron.feedback.services.survey_responses",
            (
                "external_id", "account", "contact", "stage", "nps", "csat", "ces", "comment", "responded_at",
                "ticket",
            ),
            refs={"account": ACCOUNT, "contact": CONTACT, "ticket": TICKET},
        ),
        Kind(
            "leads",
            Lead,
            "patron.pipeline.services.leads",
            (
                "external_id", "name", "company", "email", "phone", "campaign", "source", "status", "industry",
                "size_band", "country", "fit_score", "owner", "team", "converted_account",
            ),
            refs={"campaign": CAMPAIGN, "owner": USER, "team": TEAM, "converted_account": ACCOUNT},
        ),
        Kind(
            "campaigns",
            Campaign,
            "patron.pipeline.services.campaigns",
            ("external_id", "name", "channel", "cost", "currency", "starts_on", "ends_on"),
        ),
    )
}  # fmt: skip

KIND_ALIASES = {
    "account": "accounts",
    "companies": "accounts",
    "company": "accounts",
    "contact": "contacts",
    "people": "contacts",
    "deal": "deals",
    "opportunities": "deals",
    "opportunity": "deals",
    "product": "products",
    "order": "orders",
    "subscription": "subscriptions",
    "interaction": "interactions",
    "activities": "interactions",
    "ticket": "tickets",
    "surveys": "survey_responses",
    "survey_response": "survey_responses",
    "responses": "survey_responses",
    "lead": "leads",
    "campaign": "campaigns",
}

KIND_CHOICES = [
    ("accounts", _("Accounts (companies)")),
    ("contacts", _("Contacts")),
    ("deals", _("Deals")),
    ("products", _("Products")),
    ("orders", _("Orders")),
    ("subscriptions", _("Subscriptions")),
    ("interactions", _("Interactions")),
    ("tickets", _("Tickets")),
    ("survey_responses", _("Survey responses")),
    ("leads", _("Leads")),
    ("campaigns", _("Campaigns")),
]


def get_kind(name: str) -> Kind:
    """Return the kind called ``name`` (plural, singular or another CRM's word for it), or raise Invalid."""
    key = (name or "").strip().lower().replace("-", "_").replace(" ", "_")
    key = KIND_ALIASES.get(key, key)
    if key not in KINDS:
        raise Invalid(
            _("Cannot import “%(kind)s”; choose one of %(kinds)s.") % {"kind": name, "kinds": ", ".join(KINDS)},
            field="kind",
        )
    return KINDS[key]
