"""Pages for the touchpoint log: logging an interaction from the account page, and support tickets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from patron.core.http import AuthedRequest
from patron.core.pagination import keyset_page
from patron.core.views import history_page
from patron.customers import services as customers
from patron.customers.services import TimelineItem
from patron.engagement import services
from patron.engagement.models import Channel, Direction, Outcome, Severity, TicketStatus
from patron.errors import Invalid
from patron.feedback import services as feedback

PAGE_SIZE = 50


def contact_choices(contacts: list[Any]) -> list[tuple[Any, str]]:
    """Return select options for an account's contacts, leaving out erased ones."""
    return [(c.pk, c.name + (f" · {c.title}" if c.title else "")) for c in contacts if not c.erased_at]


def _now_local() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


class InteractionForm(forms.Form):
    """The compact form that logs a touchpoint on any channel; it defaults to an outbound phone call made now."""

    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=Channel.choices, initial=Channel.PHONE)
    direction = forms.ChoiceField(
        label=gettext_lazy("Direction"), choices=Direction.choices, initial=Direction.OUTBOUND, widget=forms.RadioSelect
    )
    occurred_at = forms.DateTimeField(
        label=gettext_lazy("When"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    summary = forms.CharField(label=gettext_lazy("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), required=False, choices=[("", "—"), *Outcome.choices])
    contact = forms.TypedChoiceField(label=gettext_lazy("Contact"), required=False, coerce=int, empty_value=None)

    def __init__(self, data: Any = None, *, contacts: list[tuple[Any, str]]):
        super().__init__(data, initial={"occurred_at": _now_local()}, auto_id="log-%s", label_suffix="")
        cast(forms.ChoiceField, self.fields["contact"]).choices = [
            ("", gettext_lazy("No one in particular")),
            *contacts,
        ]

    def clean_occurred_at(self) -> Any:
        """Refuse times in the future: this form records what already happened."""
        value = self.cleaned_data["occurred_at"]
        if value > timezone.now() + timedelta(minutes=5):
            raise forms.ValidationError(_("An interaction cannot be logged in the future."))
        return value

    def service_data(self) -> dict[str, Any]:
        """Return the form's values in the shape the service takes."""
        data = dict(self.cleaned_data)
        data["contact_id"] = data.pop("contact")
        return data

    def add_service_error(self, exc: Invalid) -> None:
        """Show an error the service raised next to the field it names, or above the form."""
        name = (exc.field or "").removesuffix("_id")
        self.add_error(name if name in self.fields else None, exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def log_interaction(request: AuthedRequest, account_id: int) -> HttpResponse:
    """Log an interaction with an account; with htmx the new item goes to the top of the timeline in place."""
    user = request.user
    account = customers.accounts.get(user, account_id)
    contacts = contact_choices(
        list(customers.contacts.filtered(user, filters={"account_id": account.pk}).order_by("last_name", "id")[:500])
    )
    form = InteractionForm(request.POST if request.method == "POST" else None, contacts=contacts)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                interaction = services.log_interaction(user, account.pk, form.service_data())
        except Invalid as exc:
            form.add_service_error(exc)
        else:
            if request.htmx:
                item = TimelineItem(
                    "interaction",
                    interaction.occurred_at,
                    interaction.subject,
                    interaction.summary,
                    interaction.channel,
                    interaction,
                )
                context = {"account": account, "interaction_form": InteractionForm(contacts=contacts), "item": item}
                return render(request, "engagement/_interaction_logged.html", context, status=201)
            messages.success(request, _("The interaction “%(subject)s” was logged.") % {"subject": interaction.subject})
            return redirect("customers:account_detail", pk=account.pk)
    status = 422 if request.method == "POST" else 200
    template = "engagement/_interaction_form.html" if request.htmx else "engagement/interaction_form.html"
    return render(request, template, {"account": account, "interaction_form": form}, status=status)


# Tickets


class TicketFilterForm(forms.Form):
    """What the tickets list can be narrowed by."""

    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=200)
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False, choices=[("", ""), *TicketStatus.choices])
    severity = forms.ChoiceField(label=gettext_lazy("Severity"), required=False, choices=[("", ""), *Severity.choices])
    category = forms.CharField(label=gettext_lazy("Category"), required=False, max_length=80)
    account_id = forms.IntegerField(label=gettext_lazy("Account"), required=False, min_value=1)
    account_name = forms.CharField(label=gettext_lazy("Account"), required=False, max_length=200)
    handled_by_id = forms.TypedChoiceField(
        label=gettext_lazy("Handled by"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, data: Any, *, people: list[Any]):
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["handled_by_id"]).choices = [("", ""), *((u.pk, str(u)) for u in people)]

    def values(self) -> dict[str, Any]:
        """Return the valid, non-empty filters."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {k: v for k, v in cleaned.items() if v not in (None, "")}


@login_required
def ticket_list(request: AuthedRequest) -> HttpResponse:
    """List the tickets the user may see, newest first, with filters and a keyset "next page"."""
    user = request.user
    people = list(get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username"))
    form = TicketFilterForm(request.GET, people=people)
    chosen = form.values()
    search = chosen.pop("q", None)
    filters = dict(chosen)
    if "category" in filters:
        filters["category__iexact"] = filters.pop("category")
    if "account_name" in filters:
        filters["account__name__icontains"] = filters.pop("account_name")
    account = customers.accounts.get(user, chosen["account_id"]) if "account_id" in chosen else None
    order = services.tickets.check_order("-opened_at")
    page = keyset_page(
        services.tickets.filtered(user, filters=filters, search=search).select_related(
            "account", "handled_by", "contact"
        ),
        order=order,
        cursor=request.GET.get("cursor"),
        limit=PAGE_SIZE,
    )
    query = {**chosen, **({"q": search} if search else {})}
    # The page's filters are the API's ticket filters (same names and lookups), so its export is the API's.
    export_query = {**query, "order": order}
    context = {
        "form": form,
        "page": page,
        "people": people,
        "account": account,
        "statuses": TicketStatus.choices,
        "severities": Severity.choices,
        "filtered": bool(query),
        "is_first_page": not request.GET.get("cursor"),
        "next_url": f"?{urlencode({**query, 'cursor': page.next_cursor})}" if page.next_cursor else "",
        "first_url": f"?{urlencode(query)}",
        "export_url": f"{reverse('api:ticket-export')}?{urlencode(export_query)}",
        "without_account_url": f"?{urlencode({k: v for k, v in query.items() if k != 'account_id'})}",
    }
    return render(request, "engagement/ticket_list.html", context)


@login_required
def ticket_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """Show one ticket with its account, contact, handling and the survey answers that followed it."""
    ticket = services.tickets.get(request.user, pk)
    surveys = feedback.survey_responses.filtered(request.user, filters={"ticket_id": ticket.pk}).order_by(
        "-responded_at"
    )[:20]
    return render(request, "engagement/ticket_detail.html", {"ticket": ticket, "surveys": list(surveys)})


@login_required
def ticket_history(request: AuthedRequest, pk: int) -> HttpResponse:
    """Show who changed what on a ticket (status, severity, handler...), and when."""
    ticket = services.tickets.get(request.user, pk)
    return history_page(request, services.tickets, pk, (ticket.subject, reverse("engagement:ticket_detail", args=[pk])))
