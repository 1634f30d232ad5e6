"""Template helpers of customer value: the account panel, tier badges and readable segment names.

On any page: ``{% load value_tags %}{% account_value_panel account %}`` shows the account's tier,
lifecycle class with its strategy, CLV, P(alive), expected purchases and trend since the previous run.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from patron.errors import NotFound
from patron.value import services

register = template.Library()


@register.inclusion_tag("value/_account_panel.html", takes_context=True)
def account_value_panel(context: template.Context, account: Any) -> dict[str, Any]:
    """Render the customer-value panel of one account for the signed-in user."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    account_id = getattr(account, "pk", account)
    try:
        value = services.account_value(user, int(account_id)) if user is not None else None
    except NotFound:
        value = None
    return {"value": value, "account_id": account_id, "request": request, "user": user}


@register.simple_tag
def tier_badge(tier: str) -> str:
    """Render an ABC tier letter as a coloured badge ('–' for none)."""
    if not tier:
        return "–"
    return format_html('<span class="tier tier-{}" title="{}">{}</span>', tier, tier, tier)


@register.filter
def rfm_label(segment: str) -> str:
    """Return the translated name of an RFM segment."""
    return services.rfm_label(segment)


@register.filter
def lifecycle_label(name: str) -> str:
    """Return the translated name of a lifecycle class."""
    return services.lifecycle_label(name)


@register.filter
def arpu_label(tier: str) -> str:
    """Return the translated name of an ARPU tier."""
    return str(services.ARPU_LABELS.get(tier, tier))


@register.filter
def percent(share: float | None, decimals: int = 0) -> str:
    """Format a share (0..1) as a localised percentage."""
    from patron.value.charts import fmt_percent

    return fmt_percent(share, decimals)


@register.filter
def compact(value: float | None) -> str:
    """Format a number short: 950, 1.5k, 3M."""
    from patron.value.charts import fmt_compact

    return "–" if value is None else fmt_compact(value)


@register.filter
def number(value: float | None, decimals: int = 0) -> str:
    """Format a number with grouping for the current language."""
    from patron.value.charts import fmt_number

    return fmt_number(value, decimals)
