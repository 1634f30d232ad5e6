"""Pages every user sees: the home page and sign-in."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to the accounts list, the heart of the CRM."""
    return redirect("customers:account_list")
