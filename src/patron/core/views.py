"""Pages every user sees: the overview, sign-in, the language switch and the profile with API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from patron.core import history, services
from patron.core.http import AuthedRequest
from patron.errors import Invalid

# A year: the language a user picked should outlive the browser session.
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600
RAW_TOKEN_SESSION_KEY = "patron_new_token"


def _remember_language(response: HttpResponse, code: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE or LANGUAGE_COOKIE_MAX_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def _save_language(user, code: str) -> None:
    # core.services has no profile writer yet; this one-field update is the whole of it.
    if user.language != code:
        get_user_model().objects.filter(pk=user.pk).update(language=code)


def _known_language(code: str | None) -> bool:
    return bool(code) and code in dict(settings.LANGUAGES) and check_for_language(code)


class LoginView(auth_views.LoginView):
    """Sign in, then switch to the language the user chose last time (on any device)."""

    template_name = "core/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        """Sign the user in and restore their saved language."""
        response = super().form_valid(form)
        code = form.get_user().language
        if _known_language(code):
            _remember_language(response, code)
        return response


@require_POST
def set_language(request: AuthedRequest) -> HttpResponse:
    """Switch the interface language, remembering it in a lasting cookie and on the user's profile."""
    response = django_set_language(request)
    code = request.POST.get("language", "")
    if _known_language(code):
        _remember_language(response, code)
        if request.user.is_authenticated:
            _save_language(request.user, code)
    return response


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """Show the user's overview: renewals coming up on their accounts, open tickets and accounts at risk."""
    from patron.customers import services as customers
    from patron.engagement import services as engagement

    user = request.user
    today = timezone.localdate()
    horizon = today + timedelta(days=90)
    renewals = (
        customers.subscriptions.filtered(
            user,
            filters={
                "account__owner_id": user.pk,
                "renews_on__gte": today,
                "renews_on__lte": horizon,
                "status__in": ["trial", "active", "past_due"],
            },
        )
        .select_related("account", "product")
        .order_by("renews_on", "id")[:25]
    )
    tickets = (
        engagement.tickets.filtered(user, filters={"account__owner_id": user.pk, "status__in": ["open", "pending"]})
        .select_related("account")
        .order_by("-opened_at", "-id")[:25]
    )
    at_risk = customers.accounts.filtered(user, filters={"owner_id": user.pk, "lifecycle_stage": "at_risk"}).order_by(
        "name", "id"
    )[:25]
    context = {
        "renewals": list(renewals),
        "tickets": list(tickets),
        "at_risk": list(at_risk),
        "horizon": horizon,
    }
    return render(request, "core/home.html", context)


@login_required
def profile(request: AuthedRequest) -> HttpResponse:
    """Show the user's details and API tokens; a token made a moment ago is shown in full once."""
    raw_token = request.session.pop(RAW_TOKEN_SESSION_KEY, None)
    context = {
        "tokens": list(services.tokens_of(request.user)),
        "raw_token": raw_token,
        "token_error": None,
    }
    return render(request, "core/profile.html", context)


@login_required
@require_POST
def token_create(request: AuthedRequest) -> HttpResponse:
    """Create an API token and show its secret once on the profile page."""
    try:
        token, raw = services.create_token(request.user, request.POST.get("name", ""))
    except Invalid as exc:
        context = {"tokens": list(services.tokens_of(request.user)), "raw_token": None, "token_error": exc.message}
        return render(request, "core/profile.html", context, status=422)
    request.session[RAW_TOKEN_SESSION_KEY] = {"name": token.name, "secret": raw}
    return redirect("profile")


@login_required
@require_POST
def token_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's tokens."""
    token = services.revoke_token(request.user, pk)
    messages.success(
        request, _("The token “%(name)s” was revoked; clients using it are now refused.") % {"name": token.name}
    )
    return redirect("profile")


#: How many changes a history page lists.
HISTORY_PAGE = 50


def history_page(request: AuthedRequest, records: Any, pk: int, back: tuple[str, str]) -> HttpResponse:
    """Render one page of a record's change history, newest first; ``back`` is the record's (title, URL)."""
    page = history.record_history(records, request.user, pk, cursor=request.GET.get("cursor"), limit=HISTORY_PAGE)
    title, back_url = back
    context = {
        "page": page,
        "title": title,
        "back_url": back_url,
        "next_url": f"?{urlencode({'cursor': page.next_cursor})}" if page.next_cursor else "",
        "is_first_page": not request.GET.get("cursor"),
    }
    return render(request, "core/record_history.html", context)
