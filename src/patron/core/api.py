"""The API's shell: authentication, errors turned into JSON in one place, and the CRUD routes every record shares.

No ``from __future__ import annotations`` here: django-ninja reads the route signatures built in
:func:`crud_routes` at run time.
"""

import enum
import functools
import json
import time
import types
from collections.abc import Callable, Iterator
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.urls import URLPattern, re_path
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import FilterSchema, NinjaAPI, Query, Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.operation import Operation
from ninja.params.models import BodyModel, QueryModel
from ninja.parser import Parser
from ninja.security import APIKeyHeader, HttpBearer, django_auth
from pydantic import AliasPath, BaseModel, ConfigDict, PlainSerializer, TypeAdapter, create_model
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo

from patron.core import history, people, schemas
from patron.core.models import ApiToken, Role, User, hash_token
from patron.core.permissions import Expiring
from patron.core.services import Records, RowReader, create_token, export_rows, revoke_token, tokens_of, user_for_token
from patron.errors import Invalid, PatronError


class TokenUsers:
    """The users of recently used API tokens, kept a few seconds per process so a request skips the token query.

    The lookup (a join of the token and its user) was a third of the CPU of a small API request. Safe bounds:
    only tokens that were valid are kept, by their digest; each request gets a fresh user object, so nothing a
    request caches on it (its teams) outlives the request. Revoking or deleting a token, or saving or deleting
    its user (deactivated, role changed), forgets the entries at once in the process that made the change;
    every other process forgets them within ``PATRON_AUTH_CACHE_SECONDS`` (0 turns the cache off).
    """

    def __init__(self) -> None:
        self.clock = time.monotonic
        self.fields = [f.attname for f in User._meta.concrete_fields]
        # (user id, the user's field values) by token digest; through a lambda, so moving this clock moves its.
        self._users: Expiring[tuple[int, tuple[Any, ...]]] = Expiring(lambda: self.clock())

    def get(self, digest: str) -> User | None:
        """Return a fresh copy of the user of the token with ``digest``, if this process knows it and still trusts it."""
        found = self._users.get(digest)
        return None if found is None else User.from_db("default", self.fields, found[1])

    def put(self, digest: str, user: User) -> None:
        """Remember that the token with ``digest`` belongs to ``user``, for the next few seconds."""
        self._users.put(digest, (user.pk, tuple(getattr(user, name) for name in self.fields)))

    def forget(self, *, digest: str | None = None, user_id: int | None = None) -> None:
        """Forget one token (by digest) or every token of one user."""
        entries = self._users.entries
        if digest is not None:
            entries.pop(digest, None)
        if user_id is not None:
            for key, (_expiry, (owner, _values)) in list(entries.items()):
                if owner == user_id:
                    entries.pop(key, None)

    def clear(self) -> None:
        """Forget every token."""
        self._users.clear()


token_users = TokenUsers()


@receiver([post_save, post_delete], sender=ApiToken, dispatch_uid="patron-token-users-token")
def forget_token(sender: type[ApiToken], instance: ApiToken, **kwargs: Any) -> None:
    """A token revoked or deleted is refused from the next request on."""
    token_users.forget(digest=instance.digest)


@receiver([post_save, post_delete], sender=User, dispatch_uid="patron-token-users-user")
def forget_user(sender: type[User], instance: User, **kwargs: Any) -> None:
    """A user deactivated, deleted or given another role is seen as they now are from the next request on."""
    token_users.forget(user_id=instance.pk)


class TokenAuth(HttpBearer):
    """``Authorization: Bearer ptn_…`` with a personal API token."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        """Return the token's user, and make it the request's user for audit history."""
        digest = hash_token(token)
        user = token_users.get(digest)
        if user is None:
            user = user_for_token(token)
            if user is not None:
                token_users.put(digest, user)
        if user is not None:
            request.user = user
        return user


class TokenHeaderAuth(APIKeyHeader):
    """``X-API-Token: ptn_…``, for clients that cannot set Authorization."""

    param_name = "X-API-Token"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        """Return the token's user; without the header, leave the request to the next method (the session)."""
        return TokenAuth().authenticate(request, key) if key else None


class JsonBody(Parser):
    """Reads request bodies as JSON, and says where a body that is not JSON goes wrong (422 naming the body)."""

    def parse_body(self, request: HttpRequest) -> Any:
        """Return the parsed body, or raise Invalid with the parser's line and column."""
        try:
            return json.loads(request.body)
        except json.JSONDecodeError as exc:
            raise Invalid(
                _("The request body is not valid JSON: %(reason)s (line %(line)s, column %(column)s).")
                % {"reason": exc.msg, "line": exc.lineno, "column": exc.colno},
                field="body",
            ) from None
        except UnicodeDecodeError:
            raise Invalid(_("The request body is not UTF-8 text."), field="body") from None


api = NinjaAPI(
    title="Patron API",
    version="1",
    description="The customer-value CRM. Authenticate with a personal token (Authorization: Bearer ptn_…) "
    "made on your profile page or with `POST /api/v1/tokens`.",
    urls_namespace="api",
    auth=[TokenAuth(), TokenHeaderAuth(), django_auth],
    docs_url="/docs",
    parser=JsonBody(),
)


def current_user(request: HttpRequest) -> Any:
    """Return the authenticated user of an API request."""
    return request.auth  # type: ignore[attr-defined]


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def atomic_writes(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run an API view's writes in one transaction, as ``ATOMIC_REQUESTS`` would, and its reads without one.

    A read needs no transaction on PostgreSQL (each statement sees committed data, as it would inside one), and
    BEGIN and COMMIT are two more round trips to the database on every list and detail request.
    """

    @functools.wraps(view)
    def run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method in READ_METHODS:
            return view(request, *args, **kwargs)
        with transaction.atomic():
            return view(request, *args, **kwargs)

    return transaction.non_atomic_requests(run)


def roll_back_request(request: HttpRequest) -> None:
    """Undo the request's writes when it ends in an error.

    django-ninja turns exceptions into responses inside the view, so without this a failed bulk upsert would keep
    the chunks written before the bad line. Reads run outside a transaction (see atomic_writes): nothing to undo,
    and an enclosing transaction that is not the request's own (a test's) must be left alone.
    """
    if request.method not in READ_METHODS and transaction.get_connection().in_atomic_block:
        transaction.set_rollback(True)


def error_response(request: HttpRequest, body: dict[str, Any], status: int) -> HttpResponse:
    """Return an error body as JSON in the API's shape, for errors raised outside a route (405, unknown paths)."""
    return api.create_response(request, body, status=status)


def json_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer a method a path does not take with a JSON 405 (keeping its Allow header), not django-ninja's text."""

    @functools.wraps(view)
    def run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        allowed = response["Allow"]
        message = _("%(method)s is not allowed here; use %(allowed)s.") % {
            "method": request.method,
            "allowed": allowed,
        }
        answer = error_response(request, {"error": "method_not_allowed", "message": message}, 405)
        answer["Allow"] = allowed
        return answer

    return run


@csrf_exempt
def unknown_path(request: HttpRequest, path: str) -> HttpResponse:
    """Answer a path under /api/v1/ that no route takes with a JSON 404 instead of Django's HTML page.

    Exempt from the CSRF check, as django-ninja's routes are: a token client's POST has no CSRF cookie, and would
    otherwise get Django's HTML 403 instead of the 404.
    """
    message = _("There is no API route at %(path)s.") % {"path": request.path}
    return error_response(request, {"error": "not_found", "message": message}, 404)


def query_names(operation: Operation) -> frozenset[str] | None:
    """Return the query parameters an operation reads, or None when it reads none (it takes no query model)."""
    names: set[str] = set()
    found = False
    for model in operation.models:
        if issubclass(model, QueryModel):
            found = True
            flat = getattr(model, "__ninja_flatten_map__", None)
            names |= set(flat) if flat else {info.alias or name for name, info in model.model_fields.items()}
    return frozenset(names) if found else None


def refuse_unknown_query(model: type[QueryModel], allowed: frozenset[str]) -> None:
    """Make a route's query model refuse parameters the route does not read (422 naming the first).

    A misspelt or unsupported filter (``?ordered_at__gte=``) used to be dropped, so a list or an export quietly
    returned every row. The check runs where django-ninja reads the query, after authentication.
    """
    read = model.get_request_data

    def get_request_data(cls: type[QueryModel], request: HttpRequest, api: NinjaAPI, path_params: Any) -> Any:
        unknown = [name for name in request.GET if name not in allowed]
        if unknown:
            raise Invalid(
                _("Unknown query parameter “%(name)s”; this route reads %(names)s.")
                % {"name": unknown[0], "names": ", ".join(sorted(allowed))},
                field=unknown[0],
                details=[{"field": name, "message": _("unknown query parameter")} for name in unknown],
            )
        return read(request, api, path_params)

    model.get_request_data = classmethod(get_request_data)  # type: ignore[method-assign,assignment]


def _models_in(annotation: Any) -> list[Any]:
    """Return the schemas and list types an annotation may hold a value of (through Optional and Union)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models_in(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [found for arg in get_args(annotation) for found in _models_in(arg)]
    if origin is list or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return [annotation]
    return []


def unknown_fields(annotation: Any, value: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Yield the dotted paths of the keys in ``value`` that the schema in ``annotation`` has no field for."""
    kinds = _models_in(annotation)
    if isinstance(value, list):
        items = [k for k in kinds if get_origin(k) is list]
        if len(items) == 1:
            (item,) = get_args(items[0]) or (Any,)
            for index, element in enumerate(value):
                yield from unknown_fields(item, element, (*path, str(index)))
        return
    schemas_ = [k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)]
    if not isinstance(value, dict) or len(schemas_) != 1:
        return
    model = schemas_[0]
    if model.model_config.get("extra") == "allow":
        return
    known: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        known[name] = info.annotation
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                known[alias] = info.annotation
    for key, item in value.items():
        if key not in known:
            yield ".".join((*path, str(key)))
        else:
            yield from unknown_fields(known[key], item, (*path, str(key)))


def refuse_unknown_fields(model: type[BodyModel]) -> None:
    """Make a route's JSON body refuse fields its schema does not have (422 naming the first), nested ones too.

    Pydantic drops them silently, so a misspelt field (``colour``) or a read-only one (``id``, ``created_at``)
    looked saved and was not. Checked on the parsed body, so every route's own schema stays as it is.
    """
    read = model.get_request_data
    single = getattr(model, "__read_from_single_attr__", None)

    def get_request_data(cls: type[BodyModel], request: HttpRequest, api: NinjaAPI, path_params: Any) -> Any:
        data = read(request, api, path_params)
        if isinstance(data, dict):
            if single:
                # The body is one schema, read into the route's one body argument.
                unknown = list(unknown_fields(model.model_fields[single].annotation, data.get(single)))
            else:
                unknown = list(unknown_fields(model, data))
            if unknown:
                raise Invalid(
                    _("“%(field)s” is not a field you can send here.") % {"field": unknown[0]},
                    field=unknown[0],
                    details=[{"field": name, "message": _("unknown field")} for name in unknown],
                )
        return data

    model.get_request_data = classmethod(get_request_data)  # type: ignore[method-assign,assignment]


def check_unknown_input(operation: Operation) -> None:
    """Make one route refuse query parameters it does not read and body fields its schema does not have."""
    allowed = query_names(operation)
    for model in operation.models:
        if allowed is not None and issubclass(model, QueryModel):
            refuse_unknown_query(model, allowed)
        elif issubclass(model, BodyModel) and not hasattr(model, "__ninja_body_params__"):
            refuse_unknown_fields(model)


def api_urls() -> tuple[list[Any], str, str]:
    """Return the API's URL patterns for ``include``: writes in one transaction, every error JSON in one shape."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = json_not_allowed(atomic_writes(pattern.callback))
    # django-ninja keeps its routers (with every operation) only in a private attribute.
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                check_unknown_input(operation)
    patterns = [*patterns, re_path(r"^(?P<path>.*)$", unknown_path, name="unknown")]
    return patterns, app_name, namespace


@api.exception_handler(PatronError)
def patron_error(request: HttpRequest, exc: PatronError) -> HttpResponse:
    """Every Patron error becomes JSON with its status code, and nothing the request wrote is kept."""
    roll_back_request(request)
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(NinjaValidationError)
def payload_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    """Invalid payloads are a 422 naming the field."""
    roll_back_request(request)
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
    roll_back_request(request)
    return api.create_response(request, {"error": "not_found", "message": str(exc) or _("Not found.")}, status=404)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """django-ninja's own errors (an unreadable body, a failed CSRF check) in the same shape as Patron's."""
    if isinstance(exc.__cause__, PatronError):
        return patron_error(request, exc.__cause__)
    roll_back_request(request)
    code = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    body = {"error": code.get(exc.status_code, "error"), "message": str(exc.message)}
    return api.create_response(request, body, status=exc.status_code)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    """Requests without valid credentials are a 401."""
    body = {"error": "unauthenticated", "message": _("Sign in or send a valid API token.")}
    return api.create_response(request, body, status=401)


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Let Django report a bug as a 500, after making sure the request's writes are undone."""
    roll_back_request(request)
    raise exc


class Deleted(Schema):
    """The answer to a delete."""

    deleted: bool = True


class UpsertOut(Schema):
    """What a bulk upsert did."""

    created: int
    updated: int
    unchanged: int


NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/json-lines")
CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "The rows as CSV (UTF-8, a header line first), streamed.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


def page_schema(out: type[Schema]) -> type[Schema]:
    """Return the list-page schema for ``out``: its items and the cursor of the next page."""
    name = out.__name__.removesuffix("Out") + "Page"
    return create_model(name, __base__=Schema, items=(list[out], ...), next_cursor=(str | None, None))  # type: ignore[valid-type]


def schema_columns(out: type[Schema]) -> dict[str, str]:
    """Return the CSV columns of an output schema: each plain field, read through its alias (``account.name``)."""
    return {
        name: info.alias or name for name, info in out.model_fields.items() if get_origin(info.annotation) is not list
    }


#: Field types whose values pydantic-core can read from model attributes and write as JSON exactly as django-ninja does.
FLAT_TYPES = (bool, int, float, str, Decimal, date, clock_time, UUID, enum.Enum, type(None))
_django_json = DjangoJSONEncoder()


def _as_ninja_json(value: Any) -> Any:
    """Return times as django-ninja's encoder writes them (milliseconds, ``Z`` for UTC); other values unchanged."""
    return _django_json.default(value) if isinstance(value, (datetime, clock_time)) else value


def _leaf_types(annotation: Any) -> list[Any] | None:
    """Return the plain types an annotation is made of, or None when it holds anything else (models, lists...)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _leaf_types(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        leaves: list[Any] = []
        for arg in get_args(annotation):
            found = _leaf_types(arg)
            if found is None:
                return None
            leaves += found
        return leaves
    if origin is Literal:
        return (
            [type(v) for v in get_args(annotation)]
            if all(isinstance(v, (str, int)) for v in get_args(annotation))
            else None
        )
    if isinstance(annotation, type) and issubclass(annotation, FLAT_TYPES):
        return [annotation]
    return None


class JsonWriter:
    """Writes records as one output schema's JSON with pydantic-core, reading the model attributes natively.

    django-ninja validates each row through a Python getter object, field by field, then encodes with the
    standard library: ten times slower than this for a page of 50 rows, and a third of a list request's CPU.
    The output is the same JSON (tests compare the two); schemas with resolvers, validators or nested data are
    left to django-ninja (:func:`json_writer` returns None for them).
    """

    def __init__(self, out: type[Schema]):
        fields: dict[str, Any] = {}
        #: The attribute path each field is read from (``account.name``).
        self.paths: list[str] = []
        for name, info in out.model_fields.items():
            leaves = _leaf_types(info.annotation) or []
            path = info.alias or name
            self.paths.append(path)
            copied = FieldInfo.merge_field_infos(
                info,
                alias=None,
                serialization_alias=None,
                validation_alias=AliasPath(*path.split(".")) if "." in path else path,
            )
            if any(issubclass(t, (datetime, clock_time)) for t in leaves):
                copied.metadata.append(PlainSerializer(_as_ninja_json, when_used="json"))
            fields[name] = (copied.annotation, copied)
        config = ConfigDict(from_attributes=True)
        row = create_model(f"{out.__name__}Json", __config__=config, **fields)
        rows: Any = list[row]  # type: ignore[valid-type]
        page = create_model(
            f"{out.__name__}JsonPage", __config__=config, items=(rows, ...), next_cursor=(str | None, None)
        )
        self.one: TypeAdapter[Any] = TypeAdapter(row)
        self.page: TypeAdapter[Any] = TypeAdapter(page)

    def response(self, obj: Any, *, page: bool = False) -> HttpResponse:
        """Return the JSON response for one record, or for a page (``{"items": [...], "next_cursor": ...}``)."""
        adapter = self.page if page else self.one
        content = adapter.dump_json(adapter.validate_python(obj, from_attributes=True))
        return HttpResponse(content, content_type=api.get_content_type())


def json_writer(out: type[Schema]) -> JsonWriter | None:
    """Return a fast JSON writer for ``out``, or None when only django-ninja can shape it (see JsonWriter)."""
    decorators = out.__pydantic_decorators__
    validators = [name for name in decorators.model_validators if name != "_run_root_validator"]
    if (
        getattr(out, "_ninja_resolvers", None)
        or validators
        or decorators.field_validators
        or decorators.field_serializers
        or decorators.model_serializers
        or decorators.computed_fields
        or any(_leaf_types(info.annotation) is None for info in out.model_fields.values())
    ):
        return None
    return JsonWriter(out)


def row_reader(records: Records, writer: JsonWriter | None) -> RowReader | None:
    """Return what reads a list's rows with just the fields ``writer`` writes, or None to read whole records."""
    if writer is None:
        return None
    try:
        return RowReader(records.model, writer.paths)
    except ValueError:
        return None


def filter_expression(filters: Schema) -> Q | dict[str, Any]:
    """Return the lookups a list's filters stand for; a filter left empty (``?country=``) filters nothing."""
    if not isinstance(filters, FilterSchema):
        return filters.model_dump()
    fields = _plain_filter_fields(type(filters))
    if fields is None:
        empty = {name: None for name, value in filters if value == ""}
        return (filters.model_copy(update=empty) if empty else filters).get_filter_expression()
    # What django-ninja's FilterSchema.get_filter_expression builds, minus the Q it makes for every field left
    # empty only to drop it: 0.2-0.4 ms a list request, for filters most requests do not give.
    connector = type(filters).model_config.get("expression_connector", "AND")
    expression = Q()
    for name, info in fields:
        value = getattr(filters, name)
        if value is not None and value != "":
            field = filters._resolve_field_expression(name, value, info)
            expression = expression._combine(field, connector)  # type: ignore[attr-defined]
    return expression


@functools.cache
def _plain_filter_fields(schema: type[FilterSchema]) -> tuple[tuple[str, FieldInfo], ...] | None:
    """Return the fields of a filter schema that builds its filter field by field, ignoring empty fields, or None.

    None for a schema with its own ``custom_expression`` or a field that filters on none (``ignore_none=False``).
    """
    if (
        schema.custom_expression is not FilterSchema.custom_expression
        or schema.model_config.get("ignore_none") is False
    ):
        return None
    probe = schema.model_construct(**dict.fromkeys(schema.model_fields))
    if any(probe._get_field_ignore_none(name, info) is False for name, info in schema.model_fields.items()):
        return None
    return tuple(schema.model_fields.items())


def iter_ndjson(request: HttpRequest, schema: type[Schema]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, validated row)`` from an NDJSON body, line by line, naming the line of a bad one."""
    content_type = request.content_type or ""
    if content_type not in NDJSON_TYPES:
        raise Invalid(
            f"Send the rows as NDJSON (Content-Type: application/x-ndjson), not {content_type or 'no type'}.",
            field="Content-Type",
        )
    for number, raw in enumerate(request, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise Invalid(
                    _("Line %(line)s: each line must be one JSON object.") % {"line": number}, details=[{"row": number}]
                )
            unknown = next(unknown_fields(schema, row), None)
            if unknown is not None:
                raise Invalid(
                    _("Line %(line)s: “%(field)s” is not a field you can send here.")
                    % {"line": number, "field": unknown},
                    field=unknown,
                    details=[{"row": number, "field": unknown}],
                )
            yield number, schema.model_validate(row).model_dump(exclude_unset=True)
        except json.JSONDecodeError as exc:
            raise Invalid(
                _("Line %(line)s: not valid JSON (%(reason)s).") % {"line": number, "reason": exc.msg},
                details=[{"row": number}],
            ) from None
        except UnicodeDecodeError:
            raise Invalid(_("Line %(line)s: not UTF-8 text.") % {"line": number}, details=[{"row": number}]) from None
        except PydanticValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise Invalid(
                f"Line {number}: {where}: {error['msg']}", field=where, details=[{"row": number, "field": where}]
            ) from None


def with_article(noun: str) -> str:
    """Return an English noun with its indefinite article ("an account", "a deal"), for the OpenAPI summaries.

    The summaries are English documentation, read at start-up: the verbose name is taken untranslated. A leading
    "u" takes "a" (a user, a unit): no record type here starts with a "u" sounded as a vowel.
    """
    return f"{'an' if noun[:1].lower() in 'aeio' else 'a'} {noun}"


def crud_routes(
    router: Router,
    records: Records,
    *,
    out: type[Schema],
    create_in: type[Schema],
    update_in: type[Schema],
    filters: type[Schema],
    detail: type[Schema] | None = None,
    bulk: bool = False,
    export: bool = True,
    on_create: Callable[[Any, dict[str, Any]], Any] | None = None,
    on_update: Callable[[Any, int, dict[str, Any]], Any] | None = None,
) -> None:
    """Add list, CSV export, get, create, update and delete routes (and NDJSON bulk upsert) for one record type.

    ``out`` shapes list items and the CSV columns; ``detail`` (default ``out``) shapes one record, for nested data
    such as a deal's stage history. ``filters`` is a FilterSchema whose fields map to ORM lookups.
    """
    page = page_schema(out)
    one = detail or out
    list_writer, one_writer = json_writer(out), json_writer(one)
    reader = row_reader(records, list_writer)
    create = on_create or records.create
    update = on_update or records.update
    meta = records.model._meta
    kind = meta.model_name
    columns = schema_columns(out)
    file_stem = slugify(str(meta.verbose_name_plural))
    noun = with_article(str(meta.verbose_name))

    @router.get(
        "",
        response=page,
        summary=f"List {meta.verbose_name_plural}",
        operation_id=f"list_{kind}",
        url_name=f"{kind}-list",
    )
    def list_rows(
        request: HttpRequest,
        f: filters = Query(...),  # type: ignore[valid-type]
        q: str | None = None,
        order: str | None = None,
        cursor: str | None = None,
        limit: int = settings.PATRON_PAGE_SIZE,
    ) -> Any:
        """Return one page of the rows you may see; pass `next_cursor` back as `cursor` for the next one."""
        check_page_size(limit)
        found = records.list(
            current_user(request),
            filters=filter_expression(f),
            search=q,
            order=order,
            cursor=cursor,
            limit=limit,
            reader=reader,
        )
        if list_writer:
            return list_writer.response(found, page=True)
        return {"items": found.items, "next_cursor": found.next_cursor}

    if export:

        @router.get(
            "/export.csv",
            summary=f"Export {meta.verbose_name_plural} as CSV, with the list's filters, search and sort",
            operation_id=f"export_{kind}",
            url_name=f"{kind}-export",
            openapi_extra=CSV_RESPONSE,
        )
        def export_csv(
            request: HttpRequest,
            f: filters = Query(...),  # type: ignore[valid-type]
            q: str | None = None,
            order: str | None = None,
        ) -> Any:
            """Stream every row you may see that matches the filters and `q`, sorted by `order`, as CSV."""
            rows = records.sort(records.filtered(current_user(request), filters=filter_expression(f), search=q), order)
            response = StreamingHttpResponse(export_rows(rows, columns), content_type="text/csv; charset=utf-8")
            stamp = timezone.localdate().isoformat()
            response["Content-Disposition"] = f'attachment; filename="{file_stem}-{stamp}.csv"'
            return response

    @router.get(
        "/{int:pk}",
        response=one,
        summary=f"Get one {meta.verbose_name}",
        operation_id=f"get_{kind}",
        url_name=f"{kind}-detail",
    )
    def get_row(request: HttpRequest, pk: int) -> Any:
        """Return one record you may see (404 for records you may not see)."""
        found = records.get(current_user(request), pk)
        return one_writer.response(found) if one_writer else found

    if history.has_history(records):

        @router.get(
            "/{int:pk}/history",
            response=schemas.HistoryPage,
            summary=f"Change history of {noun}: who changed which fields, when, newest first",
            operation_id=f"history_{kind}",
            url_name=f"{kind}-history",
        )
        def row_history(
            request: HttpRequest, pk: int, cursor: str | None = None, limit: int = settings.PATRON_PAGE_SIZE
        ) -> Any:
            """Return one page of a record's changes (404 for records you may not see); `next_cursor` goes on."""
            check_page_size(limit)
            return history.record_history(records, current_user(request), pk, cursor=cursor, limit=limit)

    @router.post("", response={201: one}, summary=f"Create {noun}", operation_id=f"create_{kind}")
    def create_row(request: HttpRequest, payload: create_in) -> Any:  # type: ignore[valid-type]
        """Create a record; references may use the other record's id or its `…_external_id`."""
        return Status(201, create(current_user(request), payload.model_dump(exclude_unset=True)))  # type: ignore[attr-defined]

    @router.patch("/{int:pk}", response=one, summary=f"Change {noun}", operation_id=f"update_{kind}")
    def update_row(request: HttpRequest, pk: int, payload: update_in) -> Any:  # type: ignore[valid-type]
        """Change the fields given; the change is kept in the record's history."""
        return update(current_user(request), pk, payload.model_dump(exclude_unset=True))  # type: ignore[attr-defined]

    @router.delete("/{int:pk}", response=Deleted, summary=f"Delete {noun}", operation_id=f"delete_{kind}")
    def delete_row(request: HttpRequest, pk: int) -> Any:
        """Delete a record (members delete only their own: 403 for their team's)."""
        records.delete(current_user(request), pk)
        return {"deleted": True}

    if bulk:

        @router.post(
            "/bulk",
            response=UpsertOut,
            summary=f"Upsert {meta.verbose_name_plural} from NDJSON, matched on external_id",
            description="All or nothing: the first bad line fails the request, names its line, and nothing is written. "
            "Sending the same lines again changes nothing (they count as unchanged).",
            operation_id=f"bulk_upsert_{kind}",
            openapi_extra={
                "requestBody": {
                    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    "description": "One JSON object a line, each with an external_id.",
                    "required": True,
                }
            },
        )
        def bulk_upsert(request: HttpRequest) -> Any:
            """Create or update rows matched on external_id, in one transaction."""
            result = records.upsert_rows(current_user(request), iter_ndjson(request, create_in), unit="Line")
            return {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}


# Who is signed in, and their API tokens


@api.get("/me", response=schemas.MeOut, tags=["me"], summary="The signed-in user", operation_id="me")
def me(request: HttpRequest) -> Any:
    """Return the signed-in user with their role, job function and teams."""
    return current_user(request)


@api.get("/tokens", response=list[schemas.TokenOut], tags=["me"], summary="Your API tokens", operation_id="list_tokens")
def list_tokens(request: HttpRequest) -> Any:
    """List the user's own API tokens, active ones first."""
    return list(tokens_of(current_user(request)))


@api.post(
    "/tokens",
    response={201: schemas.TokenCreated},
    tags=["me"],
    summary="Create an API token (its secret is shown only in this answer)",
    operation_id="create_token",
)
def add_token(request: HttpRequest, payload: schemas.TokenIn) -> Any:
    """Create an API token for the signed-in user and return its secret once."""
    token, raw = create_token(current_user(request), payload.name)
    return Status(201, {**schemas.TokenOut.from_orm(token).model_dump(), "token": raw})


@api.delete(
    "/tokens/{int:token_id}",
    response=schemas.TokenOut,
    tags=["me"],
    summary="Revoke one of your API tokens",
    operation_id="revoke_token",
)
def remove_token(request: HttpRequest, token_id: int) -> Any:
    """Revoke one of the signed-in user's tokens; clients using it are refused from now on."""
    return revoke_token(current_user(request), token_id)


# Users and teams, for the owner_id and team_id that records are filtered by and sent with


def check_page_size(limit: int) -> None:
    """Refuse a page size outside 1..PATRON_MAX_PAGE_SIZE (422 naming ``limit``)."""
    if not 1 <= limit <= settings.PATRON_MAX_PAGE_SIZE:
        raise Invalid(_("limit must be between 1 and %(max)s.") % {"max": settings.PATRON_MAX_PAGE_SIZE}, field="limit")


@api.get(
    "/users",
    response=schemas.UserPage,
    tags=["users and teams"],
    summary="List the users you may see",
    operation_id="list_user",
    url_name="user-list",
)
def list_users(
    request: HttpRequest,
    q: str | None = None,
    team_id: int | None = None,
    role: Role | None = None,
    active: bool | None = None,
    order: str | None = None,
    cursor: str | None = None,
    limit: int = settings.PATRON_PAGE_SIZE,
) -> Any:
    """Return one page of users (admins: all; others: themselves and their teammates), sorted by username or id."""
    check_page_size(limit)
    found = people.list_users(
        current_user(request),
        search=q,
        team_id=team_id,
        role=role,
        active=active,
        order=order,
        cursor=cursor,
        limit=limit,
    )
    return {"items": found.items, "next_cursor": found.next_cursor}


@api.get(
    "/teams",
    response=schemas.TeamPage,
    tags=["users and teams"],
    summary="List the teams you may see",
    operation_id="list_team",
    url_name="team-list",
)
def list_teams(
    request: HttpRequest,
    q: str | None = None,
    order: str | None = None,
    cursor: str | None = None,
    limit: int = settings.PATRON_PAGE_SIZE,
) -> Any:
    """Return one page of teams (admins: all; others: their own) with their members, sorted by name or id."""
    check_page_size(limit)
    found = people.list_teams(current_user(request), search=q, order=order, cursor=cursor, limit=limit)
    return {"items": found.items, "next_cursor": found.next_cursor}
