"""Pages for accounts and contacts: the accounts list, the account 360 page with its timeline, and contacts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Sum
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from patron.core.api import schema_columns
from patron.core.http import AuthedRequest
from patron.core.models import Team
from patron.core.services import export_rows
from patron.core.views import history_page
from patron.customers import services
from patron.customers.models import Account, LifecycleStage
from patron.customers.schemas import AccountOut
from patron.engagement import services as engagement
from patron.engagement.models import Channel, TicketStatus
from patron.feedback import services as feedback
from patron.pipeline import services as pipeline
from patron.value import services as value

PAGE_SIZE = 50
TIMELINE_PAGE = 50
ACCOUNT_ORDERS = [
    ("name", gettext_lazy("Name, A to Z")),
    ("-name", gettext_lazy("Name, Z to A")),
    ("-updated_at", gettext_lazy("Recently updated first")),
    ("updated_at", gettext_lazy("Least recently updated first")),
    ("-clv", gettext_lazy("Highest lifetime value first")),
    ("clv", gettext_lazy("Lowest lifetime value first")),
    ("-p_alive", gettext_lazy("Most likely active first")),
    ("p_alive", gettext_lazy("Least likely active first")),
]
VALUE_ORDERS = {"clv", "p_alive"}
TIMELINE_KIND_LABELS = [
    ("", gettext_lazy("Everything")),
    ("interaction", gettext_lazy("Interactions")),
    ("ticket", gettext_lazy("Tickets")),
    ("order", gettext_lazy("Orders")),
    ("survey", gettext_lazy("Surveys")),
]
OPEN_TICKET_STATUSES = [TicketStatus.OPEN, TicketStatus.PENDING]
#: How many deals and subscriptions the account page lists.
SHORT_LIST = 50
# Open deals first, soonest expected close first; then closed deals, newest first. NULLs are placed explicitly
# because SQLite sorts them first and PostgreSQL last, which put old closed deals ahead of open ones there.
DEAL_ORDER = (
    F("closed_on").desc(nulls_first=True),
    F("expected_close").asc(nulls_last=True),
    "-id",
)


def _people() -> list[Any]:
    # Reference data for filter menus; user and team lists are small next to accounts.
    return list(get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username"))


class AccountFilterForm(forms.Form):
    """What the accounts list can be narrowed by; the names match the API's filters and the CSV export."""

    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=200)
    owner_id = forms.TypedChoiceField(label=gettext_lazy("Owner"), required=False, coerce=int, empty_value=None)
    team_id = forms.TypedChoiceField(label=gettext_lazy("Team"), required=False, coerce=int, empty_value=None)
    industry = forms.CharField(label=gettext_lazy("Industry"), required=False, max_length=80)
    country = forms.CharField(label=gettext_lazy("Country"), required=False, max_length=2)
    lifecycle_stage = forms.ChoiceField(
        label=gettext_lazy("Lifecycle stage"), required=False, choices=[("", ""), *LifecycleStage.choices]
    )
    value_tier = forms.ChoiceField(label=gettext_lazy("Value tier"), required=False)
    lifecycle_class = forms.ChoiceField(label=gettext_lazy("Lifecycle class"), required=False)
    rfm_segment = forms.ChoiceField(label=gettext_lazy("RFM segment"), required=False)
    order = forms.ChoiceField(label=gettext_lazy("Sort by"), required=False, choices=ACCOUNT_ORDERS)

    def __init__(self, data: Any, *, people: list[Any], teams: list[Team]):
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["owner_id"]).choices = [("", ""), *((u.pk, str(u)) for u in people)]
        cast(forms.ChoiceField, self.fields["team_id"]).choices = [("", ""), *((t.pk, t.name) for t in teams)]
        # The tiers the current value settings make (A to B ... A to F), not a fixed four.
        self.tiers = value.tier_choices()
        cast(forms.ChoiceField, self.fields["value_tier"]).choices = [("", ""), *self.tiers]
        cast(forms.ChoiceField, self.fields["lifecycle_class"]).choices = [("", ""), *value.lifecycle_choices()]
        cast(forms.ChoiceField, self.fields["rfm_segment"]).choices = [("", ""), *value.rfm_choices()]

    def values(self) -> dict[str, Any]:
        """Return the valid, non-empty filters (an invalid value is dropped and shown as an error)."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {k: v for k, v in cleaned.items() if v not in (None, "")}


class AccountQuery:
    """The accounts list's filters, search and sort read from a request, shared by the page and its CSV export."""

    def __init__(self, params: Any, *, people: list[Any], teams: list[Team]):
        self.form = AccountFilterForm(params, people=people, teams=teams)
        chosen = self.form.values()
        self.order: str = chosen.pop("order", "name")
        self.search: str | None = chosen.pop("q", None)
        if "country" in chosen:
            chosen["country"] = chosen["country"].upper()
        #: Narrowing by the latest scoring run: tier, lifecycle class, RFM segment.
        self.by_value = {
            "tier": chosen.pop("value_tier", None),
            "lifecycle_class": chosen.pop("lifecycle_class", None),
            "rfm_segment": chosen.pop("rfm_segment", None),
        }
        #: Account field lookups (owner, team, industry, country, lifecycle stage).
        self.account_filters = chosen

    @property
    def by_score(self) -> bool:
        """Tell whether the sort is by a score of the latest run (CLV, P(alive)) rather than an account field."""
        return self.order.lstrip("-") in VALUE_ORDERS

    def page(self, user: Any, cursor: str | None, limit: int) -> Any:
        """Return one keyset page of the accounts, each with its latest score as ``value_score`` (or None)."""
        if self.by_score:
            return value.accounts_by_value(
                user,
                order=self.order,
                cursor=cursor,
                limit=limit,
                account_filters=self.account_filters,
                search=self.search,
                **self.by_value,
            )
        page = services.accounts.list(
            user,
            filters=value.account_value_q(self.account_filters, **self.by_value),
            search=self.search,
            order=self.order,
            cursor=cursor,
            limit=limit,
        )
        scores = value.latest_scores_for([a.pk for a in page.items])
        for account in page.items:
            account.value_score = scores.get(account.pk)
        return page

    def rows(self, user: Any, chunk: int = 1000) -> Iterator[Any]:
        """Yield every matching account in the list's order, page after page (an export never loads them all)."""
        cursor = None
        while True:
            page = self.page(user, cursor, chunk)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def query(self) -> dict[str, Any]:
        """Return the URL parameters that give this list again (without a cursor)."""
        given = {**self.account_filters}
        given.update({f"value_{k}" if k == "tier" else k: v for k, v in self.by_value.items() if v})
        return {**given, **({"q": self.search} if self.search else {}), "order": self.order}

    @property
    def filtered(self) -> bool:
        """Tell whether anything narrows the list."""
        return bool(self.account_filters or self.search or any(self.by_value.values()))


@login_required
def account_list(request: AuthedRequest) -> HttpResponse:
    """List the accounts the user may see: search, filters, sorting and a keyset "next page"."""
    people = _people()
    teams = list(Team.objects.order_by("name"))
    wanted = AccountQuery(request.GET, people=people, teams=teams)
    visible = services.accounts.filtered(request.user)
    page = wanted.page(request.user, request.GET.get("cursor"), PAGE_SIZE)
    by_id = {u.pk: u for u in people}
    team_by_id = {t.pk: t for t in teams}
    rows = [(a, by_id.get(a.owner_id), team_by_id.get(a.team_id)) for a in page.items]
    query = wanted.query()
    context = {
        "form": wanted.form,
        "rows": rows,
        "page": page,
        "people": people,
        "teams": teams,
        "industries": _distinct(visible, "industry"),
        "countries": _distinct(visible, "country"),
        "stages": LifecycleStage.choices,
        "value_tiers": wanted.form.tiers,
        "lifecycle_classes": value.lifecycle_choices(),
        "rfm_segments": value.rfm_choices(),
        "orders": ACCOUNT_ORDERS,
        "filtered": wanted.filtered,
        "is_first_page": not request.GET.get("cursor"),
        "next_url": f"?{urlencode({**query, 'cursor': page.next_cursor})}" if page.next_cursor else "",
        "first_url": f"?{urlencode(query)}",
        "export_url": f"{reverse('customers:account_export')}?{urlencode(query)}",
    }
    return render(request, "customers/account_list.html", context)


#: The export's columns: the API's account columns, then the latest run's scores that the list shows or sorts by.
EXPORT_COLUMNS = {
    **schema_columns(AccountOut),
    "value_tier": "value_score.abc_tier",
    "lifecycle_class": "value_score.lifecycle_class",
    "rfm_segment": "value_score.rfm_segment",
    "clv": "value_score.clv",
    "p_alive": "value_score.p_alive",
    "expected_purchases": "value_score.expected_purchases",
}


@login_required
def account_export(request: AuthedRequest) -> HttpResponseBase:
    """Stream the accounts list as CSV: the same filters, value filters, search and sort as the page shows."""
    wanted = AccountQuery(request.GET, people=_people(), teams=list(Team.objects.order_by("name")))
    if not wanted.form.is_valid():
        # The page drops an invalid filter and says so; a file cannot, so refuse rather than export more rows.
        problems = "; ".join(f"{name}: {' '.join(map(str, errors))}" for name, errors in wanted.form.errors.items())
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        export_rows(wanted.rows(request.user), EXPORT_COLUMNS), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="accounts-{timezone.localdate().isoformat()}.csv"'
    return response


def _distinct(qs: Any, field: str) -> list[str]:
    # An indexed column, read through the index; the list feeds a filter menu.
    return [v for v in qs.order_by(field).values_list(field, flat=True).distinct() if v]


# The account 360 page


def account_facts(user: Any, account: Account) -> dict[str, Any]:
    """Return the key figures of an account: revenue over the last 12 months, open tickets and the latest NPS."""
    since = timezone.localdate() - timedelta(days=365)
    revenue = list(
        services.orders.filtered(user, filters={"account_id": account.pk, "ordered_at__gte": since})
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("-total")
    )
    mrr = list(
        services.subscriptions.filtered(user, filters={"account_id": account.pk, "status__in": ["active", "past_due"]})
        .values("currency")
        .annotate(total=Sum("monthly_amount"))
        .order_by("-total")
    )
    open_tickets = engagement.tickets.filtered(
        user, filters={"account_id": account.pk, "status__in": OPEN_TICKET_STATUSES}
    )
    latest_nps = (
        feedback.survey_responses.filtered(user, filters={"account_id": account.pk, "nps__isnull": False})
        .order_by("-responded_at", "-id")
        .first()
    )
    return {
        "revenue": revenue,
        "mrr": mrr,
        "open_tickets": open_tickets.count(),
        "critical_tickets": open_tickets.filter(severity="critical").count(),
        "latest_nps": latest_nps,
    }


class TimelineFilter:
    """The timeline's filters read from a request: one kind or all, one channel or all, and where to continue."""

    def __init__(self, params: Any):
        kind = params.get("kind", "")
        self.kind = kind if kind in services.TIMELINE_KINDS else ""
        channel = params.get("channel", "")
        self.channel = channel if channel in Channel.values else ""
        cursor = params.get("cursor", "")
        self.after = services.TimelinePosition.parse(cursor) if cursor else None

    def query(self, **extra: Any) -> str:
        """Return the filters as a query string, with ``extra`` parameters added."""
        values = {"kind": self.kind, "channel": self.channel, **extra}
        return urlencode({k: v for k, v in values.items() if v})


def timeline_context(user: Any, account: Account, params: Any) -> dict[str, Any]:
    """Return what the timeline templates need: the newest items matching the filters, and the link to older ones."""
    chosen = TimelineFilter(params)
    items = services.account_timeline(
        user,
        account.pk,
        kinds=[chosen.kind] if chosen.kind else None,
        channels=[chosen.channel] if chosen.channel else None,
        after=chosen.after,
        limit=TIMELINE_PAGE,
    )
    older = ""
    if len(items) == TIMELINE_PAGE:
        older = chosen.query(cursor=services.TimelinePosition.of(items[-1]).token())
    return {
        "account": account,
        "items": items,
        "timeline": chosen,
        "older_query": older,
        "kinds": TIMELINE_KIND_LABELS,
        "channels": Channel.choices,
    }


@login_required
def account_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """Show everything about one account: key facts, contacts, the merged timeline, deals and subscriptions."""
    from patron.engagement.views import InteractionForm, contact_choices

    user = request.user
    account = services.accounts.get(user, pk)
    contact_list = list(
        services.contacts.filtered(user, filters={"account_id": account.pk}).order_by("last_name", "first_name", "id")[
            :100
        ]
    )
    context = {
        "account": account,
        "facts": account_facts(user, account),
        "contacts": contact_list,
        "deals": list(
            pipeline.deals.filtered(user, filters={"account_id": account.pk})
            .select_related("owner")
            .order_by(*DEAL_ORDER)[:SHORT_LIST]
        ),
        "subscriptions": list(
            services.subscriptions.filtered(user, filters={"account_id": account.pk})
            .select_related("product")
            .order_by("status", F("renews_on").asc(nulls_last=True), "id")[:SHORT_LIST]
        ),
        "short_list": SHORT_LIST,
        "interaction_form": InteractionForm(contacts=contact_choices(contact_list)),
        **timeline_context(user, account, request.GET),
    }
    return render(request, "customers/account_detail.html", context)


@login_required
def account_timeline(request: AuthedRequest, pk: int) -> HttpResponse:
    """Return the timeline of an account for htmx: the whole list for new filters, or the next items for "older"."""
    account = services.accounts.get(request.user, pk)
    context = timeline_context(request.user, account, request.GET)
    if not request.htmx:
        return redirect(f"{reverse('customers:account_detail', args=[account.pk])}?{context['timeline'].query()}")
    template = "customers/_timeline_items.html" if context["timeline"].after else "customers/_timeline.html"
    return render(request, template, context)


# Contacts


@login_required
def contact_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """Show a contact: details, consent, and their interactions, tickets and survey answers."""
    user = request.user
    contact = services.contacts.get(user, pk)
    mine = {"contact_id": contact.pk}
    context = {
        "contact": contact,
        "account": contact.account,
        "interactions": list(
            engagement.interactions.filtered(user, filters=mine)
            .select_related("logged_by")
            .order_by("-occurred_at", "-id")[:50]
        ),
        "tickets": list(engagement.tickets.filtered(user, filters=mine).order_by("-opened_at", "-id")[:50]),
        "surveys": list(feedback.survey_responses.filtered(user, filters=mine).order_by("-responded_at", "-id")[:50]),
        "can_erase": services.can_erase(user),
    }
    return render(request, "customers/contact_detail.html", context)


@login_required
def account_history(request: AuthedRequest, pk: int) -> HttpResponse:
    """Show who changed what on an account, and when."""
    account = services.accounts.get(request.user, pk)
    return history_page(
        request, services.accounts, pk, (account.name, reverse("customers:account_detail", args=[account.pk]))
    )


@login_required
def contact_history(request: AuthedRequest, pk: int) -> HttpResponse:
    """Show who changed what on a contact, and when (an erased contact's history keeps no personal data)."""
    contact = services.contacts.get(request.user, pk)
    name = _("Erased contact") if contact.erased_at else (contact.name or _("(no name)"))
    return history_page(request, services.contacts, pk, (name, reverse("customers:contact_detail", args=[contact.pk])))


@login_required
def contact_data(request: AuthedRequest, pk: int) -> HttpResponse:
    """Download everything Patron holds about a contact as a JSON file (a data subject access request)."""
    data = services.contact_data(request.user, pk)
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="contact-{pk}.json"'
    return response


class EraseForm(forms.Form):
    """The confirmation asked for before a contact is erased."""

    confirm = forms.BooleanField(
        required=True,
        error_messages={"required": gettext_lazy("Tick the box to confirm that you want to erase this contact.")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_erase(request: AuthedRequest, pk: int) -> HttpResponse:
    """Ask for confirmation, then erase a contact's personal data through the service."""
    contact = services.contacts.get(request.user, pk)
    form = EraseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        account_id = contact.account_id
        with transaction.atomic():
            services.erase_contact(request.user, contact.pk)
        messages.success(request, _("The contact’s personal data was erased."))
        if services.contacts.filtered(request.user, filters={"pk": contact.pk}).exists():
            return redirect("customers:contact_detail", pk=contact.pk)
        return redirect("customers:account_detail", pk=account_id)
    status = 422 if request.method == "POST" else 200
    context = {
        "contact": contact,
        "account": contact.account,
        "form": form,
        "can_erase": services.can_erase(request.user),
    }
    return render(request, "customers/contact_erase.html", context, status=status)
