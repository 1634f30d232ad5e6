"""Request types for views: what a view behind ``login_required`` may rely on."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from patron.core.models import User


class AuthedRequest(HttpRequest):
    """A request from a signed-in user, with htmx details from django-htmx's middleware."""

    user: User
    htmx: HtmxDetails
