"""The import page: choose a kind, a preset or a column mapping, upload CSV or XLSX, and see the summary or the row errors."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from patron.core.models import User
from patron.dataio import services
from patron.dataio.kinds import KIND_CHOICES
from patron.dataio.models import ImportRun
from patron.dataio.presets import PRESET_CHOICES
from patron.errors import PatronError

RECENT_RUNS = 10
DATE_ORDER_CHOICES = [
    ("", gettext_lazy("Work it out (ask when unclear)")),
    ("dmy", gettext_lazy("Day first (31/12/2025)")),
    ("mdy", gettext_lazy("Month first (12/31/2025)")),
]


class ImportForm(forms.Form):
    """What an upload needs: the kind of records, where the file came from, the file, and optional mapping."""

    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=KIND_CHOICES)
    preset = forms.ChoiceField(label=gettext_lazy("Exported from"), choices=PRESET_CHOICES, required=False)
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV (UTF-8; comma, semicolon or tab) or XLSX."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,.xlsx"}),
    )
    date_order = forms.ChoiceField(
        label=gettext_lazy("Dates like 03/04/2025"), choices=DATE_ORDER_CHOICES, required=False
    )
    mapping = forms.CharField(
        label=gettext_lazy("Column mapping"),
        required=False,
        help_text=gettext_lazy(
            "Optional, one per line: column=field. Leave the field empty to ignore a column. "
            "Columns named like a field are matched without this."
        ),
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "E-Mail-Adresse=email\nInterne Notiz="}),
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Only check the file; write nothing"), required=False, initial=False
    )


def _user(request: HttpRequest) -> User:
    """Return the signed-in user of a page request (every page here requires one)."""
    return cast(User, request.user)


def _context(request: HttpRequest, form: ImportForm, **extra: Any) -> dict[str, Any]:
    kind = form["kind"].value() or KIND_CHOICES[0][0]
    preset = form["preset"].value() or ""
    return {
        "form": form,
        "runs": services.list_runs(_user(request), limit=RECENT_RUNS).items,
        "description": _describe(kind, preset),
        **extra,
    }


def _describe(kind: str, preset: str) -> dict[str, Any] | None:
    try:
        return services.describe_kind(kind, preset or None)
    except PatronError:
        return services.describe_kind(kind) if kind else None


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    """Show the upload form; on upload run the import and show its summary, or its row errors (status 422)."""
    if request.method == "GET":
        form = ImportForm(initial={"kind": request.GET.get("kind", "accounts"), "preset": request.GET.get("preset")})
        return render(request, "dataio/import.html", _context(request, form))
    form = ImportForm(request.POST, request.FILES)
    run: ImportRun | None = None
    error: PatronError | None = None
    if form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        try:
            run = services.import_file(
                _user(request),
                data["kind"],
                upload,
                file_name=upload.name,
                preset=data["preset"] or None,
                mapping=data["mapping"].splitlines(),
                date_order=data["date_order"] or None,
                dry_run=data["dry_run"],
            )
        except PatronError as exc:
            error = exc  # the failed run stays recorded; nothing else was written
    status = 200 if run is not None else 422
    context = _context(request, form, run=run, error=error)
    template = "dataio/_result.html" if getattr(request, "htmx", False) else "dataio/import.html"
    return render(request, template, context, status=status)


@login_required
@require_GET
def import_fields(request: HttpRequest) -> HttpResponse:
    """Return the column reference of a kind (and preset) for the upload page, as htmx swaps it in."""
    description = _describe(request.GET.get("kind", ""), request.GET.get("preset", ""))
    return render(request, "dataio/_fields.html", {"description": description})


@login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one import run: its file, mapping, counts, and every row error or warning it kept."""
    run = services.get_run(_user(request), pk)
    return render(request, "dataio/run_detail.html", {"run": run})
