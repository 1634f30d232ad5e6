"""Pages for accounts and contacts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from patron.customers import services


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    """List the accounts the user may see."""
    page = services.accounts.list(request.user, search=request.GET.get("q"), limit=50)
    return render(request, "customers/account_list.html", {"page": page})
