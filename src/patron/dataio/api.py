"""API routes for imports: upload a CSV or XLSX file, list your import runs, and see what each kind's file may hold."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Query, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from patron.core.api import check_page_size, current_user
from patron.dataio import schemas, services

router = Router(tags=["imports"])


@router.post(
    "/imports",
    response={201: schemas.ImportRunDetail},
    summary="Import a CSV or XLSX file, all or nothing",
    description="Upload the file as multipart field `file`. `kind` is accounts, contacts, deals, products, orders, "
    "subscriptions, interactions, tickets, survey_responses, leads or campaigns; `preset` is hubspot or salesforce; "
    "each `map` is `column=field` (an empty field ignores the column). Rows are upserted by external_id (contacts "
    "also by e-mail), so importing the same file again changes nothing. Any error returns 422 with every row error "
    "(row, column, message) in `details`, and nothing is written (a failed upload through the API leaves no run "
    "record either: the request is rolled back as a whole).",
)
def create_import(
    request: HttpRequest,
    kind: str,
    file: UploadedFile = File(...),
    preset: str | None = None,
    mapping: list[str] = Query(None, alias="map"),
    date_order: str | None = None,
    dry_run: bool = False,
) -> Any:
    run = services.import_file(
        current_user(request),
        kind,
        file,
        file_name=file.name or "",
        preset=preset,
        mapping=mapping,
        date_order=date_order,
        dry_run=dry_run,
    )
    return Status(201, run)


@router.get("/imports", response=schemas.ImportRunPage, summary="List your import runs, newest first")
def list_imports(request: HttpRequest, cursor: str | None = None, limit: int = settings.PATRON_PAGE_SIZE) -> Any:
    check_page_size(limit)
    page = services.list_runs(current_user(request), cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/imports/kinds", response=list[schemas.KindOut], summary="What a file of each kind may hold")
def import_kinds(request: HttpRequest, preset: str | None = None) -> Any:
    return services.describe_kinds(preset)


@router.get("/imports/{int:pk}", response=schemas.ImportRunDetail, summary="One import run with its row errors")
def get_import(request: HttpRequest, pk: int) -> Any:
    return services.get_run(current_user(request), pk)
