"""The API's shell: authentication, errors turned into JSON in one place, and the CRUD routes every record shares.

No ``from __future__ import annotations`` here: django-ninja reads the route signatures built in
:func:`crud_routes` at run time.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Query, Router, Schema
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyHeader, HttpBearer, django_auth
from pydantic import ValidationError as PydanticValidationError
from pydantic import create_model

from patron.core.services import Records, user_for_token
from patron.errors import Invalid, PatronError


class TokenAuth(HttpBearer):
    """``Authorization: Bearer ptn_…`` with a personal API token."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        """Return the token's user, and make it the request's user for audit history."""
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class TokenHeaderAuth(APIKeyHeader):
    """``X-API-Token: ptn_…``, for clients that cannot set Authorization."""

    param_name = "X-API-Token"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        """Return the token's user."""
        return TokenAuth().authenticate(request, key or "")


api = NinjaAPI(
    title="Patron API",
    version="1",
    description="The customer-value CRM. Authenticate with a personal token (Authorization: Bearer ptn_…) "
    "made on your profile page or with `POST /api/v1/tokens`.",
    urls_namespace="api",
    auth=[TokenAuth(), TokenHeaderAuth(), django_auth],
    docs_url="/docs",
)


def current_user(request: HttpRequest) -> Any:
    """Return the authenticated user of an API request."""
    return request.auth  # type: ignore[attr-defined]


@api.exception_handler(PatronError)
def patron_error(request: HttpRequest, exc: PatronError) -> HttpResponse:
    """Every Patron error becomes JSON with its status code."""
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(NinjaValidationError)
def payload_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    """Invalid payloads are a 422 naming the field."""
    details = []
    for error in exc.errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "payload", "filters")]
        details.append({"field": ".".join(loc), "message": error.get("msg", "invalid")})
    first = details[0] if details else {"field": "", "message": "invalid payload"}
    body = Invalid(f"{first['field']}: {first['message']}", field=first["field"] or None, details=details)
    return api.create_response(request, body.as_dict(), status=422)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    """Unknown paths and ids are a 404 in the same shape as every other error."""
    return api.create_response(request, {"error": "not_found", "message": str(exc) or "Not found."}, status=404)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    """Requests without valid credentials are a 401."""
    body = {"error": "unauthenticated", "message": "Sign in or send a valid API token."}
    return api.create_response(request, body, status=401)


class Deleted(Schema):
    """The answer to a delete."""

    deleted: bool = True


class UpsertOut(Schema):
    """What a bulk upsert did."""

    created: int
    updated: int
    unchanged: int


def page_schema(out: type[Schema]) -> type[Schema]:
    """Return the list-page schema for ``out``: its items and the cursor of the next page."""
    name = out.__name__.removesuffix("Out") + "Page"
    return create_model(name, __base__=Schema, items=(list[out], ...), next_cursor=(str | None, None))


def iter_ndjson(request: HttpRequest, schema: type[Schema]) -> Iterator[dict[str, Any]]:
    """Yield validated rows from an NDJSON body, line by line, naming the line of the first bad one."""
    for number, raw in enumerate(request, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            yield schema.model_validate(json.loads(line)).model_dump(exclude_unset=True)
        except json.JSONDecodeError as exc:
            raise Invalid(f"Line {number}: not valid JSON ({exc.msg}).", details=[{"row": number}]) from None
        except PydanticValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise Invalid(
                f"Line {number}: {where}: {error['msg']}", field=where, details=[{"row": number, "field": where}]
            ) from None


def crud_routes(
    router: Router,
    records: Records,
    *,
    out: type[Schema],
    create_in: type[Schema],
    update_in: type[Schema],
    filters: type[Schema],
    bulk: bool = False,
    on_create: Callable[[Any, dict[str, Any]], Any] | None = None,
    on_update: Callable[[Any, int, dict[str, Any]], Any] | None = None,
) -> None:
    """Add list, get, create, update and delete routes (and NDJSON bulk upsert) for one record type."""
    page = page_schema(out)
    create = on_create or records.create
    update = on_update or records.update
    max_limit = settings.PATRON_MAX_PAGE_SIZE

    @router.get("", response=page, summary=f"List {records.model._meta.verbose_name_plural}")
    def list_rows(
        request: HttpRequest,
        f: filters = Query(...),  # type: ignore[valid-type]
        q: str | None = None,
        order: str | None = None,
        cursor: str | None = None,
        limit: int = settings.PATRON_PAGE_SIZE,
    ) -> Any:
        if not 1 <= limit <= max_limit:
            raise Invalid(f"limit must be between 1 and {max_limit}.", field="limit")
        found = records.list(
            current_user(request), filters=f.model_dump(), search=q, order=order, cursor=cursor, limit=limit
        )
        return {"items": found.items, "next_cursor": found.next_cursor}

    @router.get("/{int:pk}", response=out, summary=f"Get one {records.model._meta.verbose_name}")
    def get_row(request: HttpRequest, pk: int) -> Any:
        return records.get(current_user(request), pk)

    @router.post("", response={201: out}, summary=f"Create a {records.model._meta.verbose_name}")
    def create_row(request: HttpRequest, payload: create_in) -> Any:  # type: ignore[valid-type]
        return 201, create(current_user(request), payload.model_dump(exclude_unset=True))

    @router.patch("/{int:pk}", response=out, summary=f"Change a {records.model._meta.verbose_name}")
    def update_row(request: HttpRequest, pk: int, payload: update_in) -> Any:  # type: ignore[valid-type]
        return update(current_user(request), pk, payload.model_dump(exclude_unset=True))

    @router.delete("/{int:pk}", response=Deleted, summary=f"Delete a {records.model._meta.verbose_name}")
    def delete_row(request: HttpRequest, pk: int) -> Any:
        records.delete(current_user(request), pk)
        return {"deleted": True}

    if bulk:

        @router.post(
            "/bulk",
            response=UpsertOut,
            summary=f"Upsert {records.model._meta.verbose_name_plural} from NDJSON, matched on external_id",
            openapi_extra={
                "requestBody": {
                    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    "description": "One JSON object a line, each with an external_id.",
                }
            },
        )
        def bulk_upsert(request: HttpRequest) -> Any:
            result = records.upsert(current_user(request), iter_ndjson(request, create_in))
            return {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
