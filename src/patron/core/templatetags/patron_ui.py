"""Small template helpers for Patron's pages: status badges, money and active navigation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

register = template.Library()

# The colour of a badge says how good a state is; the words come from the model's choice labels.
TONES = {
    # lifecycle stages
    "prospect": "info",
    "onboarding": "info",
    "active": "good",
    "at_risk": "warn",
    "churned": "bad",
    # ticket severity
    "low": "muted",
    "normal": "neutral",
    "high": "warn",
    "critical": "bad",
    # ticket status
    "open": "warn",
    "pending": "info",
    "resolved": "good",
    "closed": "muted",
    # deal stages
    "qualification": "info",
    "discovery": "info",
    "proposal": "info",
    "negotiation": "warn",
    "won": "good",
    "lost": "bad",
    # subscription status
    "trial": "info",
    "past_due": "warn",
    "cancelled": "bad",
    "expired": "muted",
    # interaction outcomes ("resolved" shares the ticket status colour)
    "completed": "good",
    "no_answer": "muted",
    "follow_up": "warn",
    "scheduled": "info",
    "not_interested": "bad",
    # NPS categories
    "promoter": "good",
    "passive": "warn",
    "detractor": "bad",
}


@register.simple_tag
def badge(value: str, label: str = "") -> str:
    """Render ``label`` (or ``value``) as a badge coloured by how good the state ``value`` is."""
    tone = TONES.get(str(value), "neutral")
    return format_html('<span class="badge {}" data-value="{}">{}</span>', tone, value, label or value)


@register.filter
def money(amount: Decimal | float | int | None, currency: str = "") -> str:
    """Format an amount with two decimals and thousands grouping, followed by its currency code."""
    if amount is None:
        return "–"
    text = floatformat(amount, "2g")
    return f"{text} {currency}".strip()


@register.filter
def nps_tone(score: int | None) -> str:
    """Return promoter, passive or detractor for an NPS score ('' for none)."""
    if score is None:
        return ""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


NPS_LABELS = {"promoter": _("Promoter"), "passive": _("Passive"), "detractor": _("Detractor")}


@register.filter
def nps_label(category: str) -> str:
    """Return the translated name of an NPS category (promoter, passive or detractor)."""
    return str(NPS_LABELS.get(category, category))


@register.simple_tag(takes_context=True)
def nav_active(context: template.Context, *namespaces_or_names: str) -> str:
    """Return ``aria-current="page"`` when the current URL belongs to one of the given namespaces or names."""
    match = getattr(context.get("request"), "resolver_match", None)
    if match is None:
        return ""
    for wanted in namespaces_or_names:
        if wanted in (match.namespace, match.view_name):
            return mark_safe('aria-current="page"')
    return ""


@register.inclusion_tag("_filter_select.html")
def filter_select(
    field_id: str,
    name: str,
    label: str,
    any_label: str,
    choices: Any,
    current: Any,
    *,
    you: Any = None,
    css: str = "field",
) -> dict[str, Any]:
    """Render a list filter's <select>: "any" first, then the choices, the current one selected.

    ``choices`` may be (value, label) pairs, model instances (value = pk) or plain values; ``you`` is the
    signed-in user's pk, whose option is marked "(you)".
    """
    selected = "" if current is None else str(current)
    options = []
    for choice in choices:
        if isinstance(choice, list | tuple):
            value, text = choice
        elif hasattr(choice, "pk"):
            value, text = choice.pk, str(choice)
        else:
            value, text = choice, choice
        value = str(value)
        if you is not None and value == str(you):
            text = format_html("{} ({})", text, _("you"))
        options.append({"value": value, "label": text, "selected": value == selected})
    return {"field_id": field_id, "name": name, "label": label, "any_label": any_label, "options": options, "css": css}
