"""Writes that every record shares: create, update, delete and upsert, with permissions and audit.

Domain apps build on :class:`Records` in their own ``services.py``; routes and pages call those, never
the ORM directly. Each function runs inside the caller's transaction (one per request or command).

Every write goes through the same steps, whether it is one row from a form or a thousand from an NDJSON
upsert: references (``account_id`` or ``account_external_id``) are resolved and checked against what the user
may see, the domain hook :meth:`Records.prepare` fills derived fields, permissions, field validation and unique
keys are checked for the whole batch, rows are written with their audit history, and the hook
:meth:`Records.write_related` writes what hangs off them (order lines, deal stage history).
"""

from __future__ import annotations

import builtins
import csv
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import Any, Generic, TypeVar, cast

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import IntegrityError, connections, models, transaction
from django.db.models import ProtectedError, Q
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.db.models.signals import post_init, pre_init
from django.db.models.sql.datastructures import BaseTable
from django.db.models.sql.where import OR, WhereNode
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from patron.core.migration_ops import search_text_sql
from patron.core.models import ApiToken, User, hash_token
from patron.core.pagination import Page, decode_cursor, keyset_page
from patron.core.permissions import Action, reach_cache, visibility_q
from patron.errors import Conflict, Forbidden, Invalid, NotFound, PatronError

M = TypeVar("M", bound=models.Model)

#: Rows an upsert reads, checks and writes at a time: big enough to amortise the queries, small enough for memory.
UPSERT_CHUNK = 1000
#: Up to this many visible accounts, lists of their records filter by the accounts' ids (see Records.query).
VISIBLE_IDS_CAP = 1000
#: The verb of each action, in the active language when called.
ACTION_WORDS = {
    "view": lambda: pgettext("permission", "view"),
    "change": lambda: pgettext("permission", "change"),
    "delete": lambda: pgettext("permission", "delete"),
}
#: Words of a search that are matched (each must match one of the search fields).
MAX_SEARCH_TERMS = 5
#: Words shorter than this have no trigram, so no trigram index can find them (see Records.search).
TRIGRAM = 3
#: A search sorted by id reads at most this many of the newest matches first (Records._newest_matches_page). Big
#: enough that PostgreSQL reads a moderately common word's matches through the trigram index rather than walking
#: the table newest first (at 2,000, "Rose", 4,186 of a million contacts, was walked: 85 ms against 18 ms), small
#: enough that a very common word ("son", 61k) is still walked, stopping once the page is full.
SEARCH_CAP = 5000


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    """Flatten a Django ValidationError into ``[{field, message}]`` rows for the error body."""
    if hasattr(exc, "error_dict"):
        return [
            {"field": name, "message": str(message)} for name, errors in exc.message_dict.items() for message in errors
        ]
    return [{"field": "", "message": str(m)} for m in exc.messages]


def invalid_from(exc: ValidationError) -> Invalid:
    """Turn a model ValidationError into Patron's 422 error naming the first bad field."""
    details = validation_details(exc)
    first = details[0] if details else {"field": "", "message": "invalid"}
    if first["field"] == "__all__":
        first = {**first, "field": ""}
    where = f"{first['field']}: " if first["field"] else ""
    return Invalid(f"{where}{first['message']}", field=first["field"] or None, details=details)


def at_row(exc: PatronError, where: str | None, row: int | None) -> PatronError:
    """Prefix an error with the row (or line) it came from, so a bulk write says where it failed."""
    if not where or exc.message.startswith(where):
        return exc
    exc.message = f"{where}: {exc.message}"
    exc.details = [{**d, "row": row} for d in exc.details] or [{"row": row, "field": exc.field or ""}]
    return exc


def place(unit: str, number: int) -> str:
    """Return where a bulk write's row is, in the active language ("Line 3" of NDJSON, "Row 3" of a list)."""
    if unit == "Line":
        return _("Line %(line)s") % {"line": number}
    if unit == "Row":
        return _("Row %(row)s") % {"row": number}
    return f"{unit} {number}"


@dataclass
class UpsertResult:
    """What a bulk upsert did: how many rows it created, updated and left as they were."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[int] = field(default_factory=list)


@dataclass(eq=False)
class Draft(Generic[M]):
    """One row on its way to the database: the payload's fields, nested data, the instance and where it came from."""

    data: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    row: int | None = None
    where: str | None = None
    obj: M = None  # type: ignore[assignment]
    created: bool = True
    before: dict[str, Any] = field(default_factory=dict)
    field_prefix: str = ""

    def moved(self, attname: str) -> bool:
        """Tell whether this write gives ``attname`` a new value (always true for a new row)."""
        return self.created or self.before.get(attname) != getattr(self.obj, attname)

    def changed(self) -> set[str]:
        """Return the attribute names whose stored values this write changes (empty for a new row)."""
        return {name for name, old in self.before.items() if getattr(self.obj, name) != old}

    def fail(self, exc: PatronError) -> PatronError:
        """Return ``exc`` located at this draft's row (and, for nested rows, under their parent field), to raise."""
        if self.field_prefix and exc.field:
            if exc.message.startswith(f"{exc.field}:"):
                exc.message = f"{self.field_prefix}{exc.message}"
            exc.field = f"{self.field_prefix}{exc.field}"
            exc.details = [
                {**d, "field": f"{self.field_prefix}{d['field']}"} if d.get("field") else d for d in exc.details
            ]
        return at_row(exc, self.where, self.row)


def snapshot(obj: models.Model) -> dict[str, Any]:
    """Return the stored values of a row's concrete fields, to tell later what a write changed."""
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def unique_keys(model: type[models.Model]) -> list[tuple[models.Field, bool]]:
    """Return the model's single-column unique keys as ``(field, regardless of case)``.

    A key is a field with ``unique=True`` (not the primary key), or an unconditional UniqueConstraint on one
    field, or on ``Lower(field)`` (a contact's e-mail): models declare text keys as constraints, which give
    PostgreSQL one index where ``unique=True`` gives two (see :func:`patron.core.fields.external_key`).
    """
    found = _UNIQUE_KEYS.get(model)
    if found is not None:
        return found
    keys: dict[str, tuple[models.Field, bool]] = {}
    for f in model._meta.concrete_fields:
        if f.unique and not f.primary_key:
            keys[f.name] = (f, False)
    for constraint in model._meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint) or constraint.condition is not None:
            continue
        if len(constraint.fields) == 1:
            name = constraint.fields[0]
            keys.setdefault(name, (model._meta.get_field(name), False))  # type: ignore[arg-type]
        elif len(constraint.expressions) == 1:
            expression = constraint.expressions[0]
            inner = expression.get_source_expressions() if isinstance(expression, Lower) else []
            if len(inner) == 1 and isinstance(inner[0], models.F):
                name = str(inner[0].name)  # type: ignore[attr-defined]
                keys[name] = (model._meta.get_field(name), True)  # type: ignore[assignment]
    _UNIQUE_KEYS[model] = found = list(keys.values())
    return found


_UNIQUE_KEYS: dict[type[models.Model], list[tuple[models.Field, bool]]] = {}


def normalise(data: dict[str, Any], model: type[models.Model]) -> dict[str, Any]:
    """Store payload values the way they compare: naive date-times in the current time zone (as Django would on
    save), and an empty text in a unique, nullable field (an external id) as none, so that many rows may lack one.
    """
    keys = {f.attname for f, _folded in unique_keys(model)}
    for f in model._meta.concrete_fields:
        if f.attname not in data:
            continue
        value = data[f.attname]
        if isinstance(f, models.DateTimeField) and isinstance(value, datetime) and timezone.is_naive(value):
            data[f.attname] = timezone.make_aware(value)
        elif f.attname in keys and f.null and value == "":
            data[f.attname] = None
    return data


def foreign_keys(model: type[models.Model]) -> list[models.ForeignKey]:
    """Return the model's foreign keys."""
    return [f for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey)]


@dataclass(frozen=True)
class IdArray:
    """Ids passed to the database as one array (see AnyOf); a list would be taken apart item by item."""

    ids: tuple[Any, ...] | builtins.list[Any]


@models.ForeignKey.register_lookup
class AnyOf(models.Lookup):
    """``<key>__patron_any=IdArray(ids)`` on PostgreSQL: ``key = ANY(%s)``, the ids sent as one array.

    The same test as ``__in``, which PostgreSQL rewrites to this, but ``__in`` prepares each of up to a thousand
    ids through the field and the driver splices them into the statement one by one: for a member's list (a few
    hundred visible accounts) that was a third of the request's CPU.
    """

    lookup_name = "patron_any"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        """Keep the ids as given (they are already the key's values)."""
        return self.rhs

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        """Return ``key = ANY(%s::<type>[])`` with the ids as one parameter."""
        lhs, params = self.process_lhs(compiler, connection)
        db_type = self.lhs.output_field.db_type(connection)
        return f"{lhs} = ANY(%s::{db_type}[])", (*params, builtins.list(self.rhs.ids))


class RowReader:
    """Reads a list's rows as model instances holding just what an answer shows, without ``Model.__init__``.

    A list answer reads a record's own fields and a few of its references' (``account.name``). Through
    ``select_related`` Django builds every referenced row whole, field by field with signals, and parses its
    timestamps: for a page of 50 contacts, 100 instances and 200 timestamps, a fifth of the request's CPU. This
    reads the record's own columns (so its properties, such as a contact's ``name``, work) and, of each reference,
    only the column the answer names (all of them when it names a property), and fills the instances' attributes
    directly, as ``Model.from_db`` would. Anything else asked of such an instance is loaded from the database on
    first use, as Django does for deferred fields, so it answers the same, only slower.
    """

    def __init__(self, model: type[models.Model], paths: Iterable[str]):
        self.model = model
        self.attnames = [f.attname for f in model._meta.concrete_fields]
        #: Per reference: its name, its model, the attribute holding its key here, and the attributes read of it.
        self.joins: builtins.list[tuple[str, type[models.Model], str, builtins.list[str]]] = []
        wanted: dict[str, builtins.list[str]] = {}
        for path in paths:
            head, _, rest = path.partition(".")
            if rest:
                wanted.setdefault(head, []).append(rest)
        for head, rests in wanted.items():
            relation = model._meta.get_field(head)
            related = relation.related_model
            if not (relation.many_to_one and relation.concrete) or related is None or related == "self":
                raise ValueError(f"{model.__name__}.{head} is not a reference a list can read")
            related_model = cast(type[models.Model], related)
            names = [related_model._meta.pk.attname]
            for rest in rests:
                try:
                    found = related_model._meta.get_field(rest)
                except FieldDoesNotExist:
                    found = None
                if "." in rest:
                    raise ValueError(f"{model.__name__}: {head}.{rest} reaches too far for a list")
                if found is None or not found.concrete:
                    names = [f.attname for f in related_model._meta.concrete_fields]
                    break
                names.append(cast(models.Field, found).attname)
            attname = cast(models.Field, relation).attname
            self.joins.append((head, related_model, attname, builtins.list(dict.fromkeys(names))))
        self.columns = [*self.attnames, *(f"{head}__{name}" for head, _m, _a, names in self.joins for name in names)]
        models_read = [model, *(m for _h, m, _a, _n in self.joins)]
        #: Models with init signals (none of Patron's) are built by Django, so their receivers see every instance.
        self.plain = not any(pre_init.has_listeners(m) or post_init.has_listeners(m) for m in models_read)

    def read(self, qs: models.QuerySet[M]) -> builtins.list[M]:
        """Return the rows of ``qs`` (sliced and ordered by the caller), read as the class describes.

        The query's annotations are set on the instances too, as Django sets them.
        """
        if not self.plain:
            return builtins.list(qs.select_related(*(head for head, _m, _a, _n in self.joins)))
        db = qs.db
        width = len(self.attnames)
        annotations = builtins.list(qs.query.annotation_select)
        rows: builtins.list[Any] = []
        for values in self._values(qs):
            obj = _instance(self.model, self.attnames, values[:width], db)
            if annotations:
                obj.__dict__.update(zip(annotations, values[len(self.columns) :], strict=True))
            start = width
            for head, related, attname, names in self.joins:
                end = start + len(names)
                key = obj.__dict__[attname]
                obj._state.fields_cache[head] = (
                    None if key is None else _instance(related, names, values[start:end], db)
                )
                start = end
            rows.append(obj)
        return rows

    def _values(self, qs: models.QuerySet[M]) -> Iterable[Sequence[Any]]:
        """Return the rows of ``qs`` as tuples: the columns read, then the query's annotations.

        What ``values_list(*columns)`` returns, but ``values_list`` resolves each column's path on its own, with
        its joins (31 paths for an interaction with its account and contact: a third of a list's CPU in Django).
        Here each reference is joined once, as ``values_list`` would join it, and all its columns read from there.
        """
        query = qs.query.chain()
        query.select_related = False
        query.clear_deferred_loading()
        query.clear_select_fields()
        alias = cast(str, query.get_initial_alias())
        opts = self.model._meta
        columns = [opts.get_field(name).get_col(alias) for name in self.attnames]  # type: ignore[union-attr]
        for head, related, _attname, names in self.joins:
            joined = query.setup_joins([head], opts, alias).joins[-1]
            columns += [related._meta.get_field(name).get_col(joined) for name in names]  # type: ignore[union-attr]
        query.set_select(columns)
        return query.get_compiler(qs.db).results_iter(tuple_expected=True)


def _instance(model: type[M], attnames: Sequence[str], values: Sequence[Any], db: str) -> M:
    """Return a stored row of ``model`` with ``attnames`` set, as ``Model.from_db`` makes it (minus its signals)."""
    obj = model.__new__(model)
    state = ModelState()
    state.adding = False
    state.db = db
    obj.__dict__.update(zip(attnames, values, strict=True))
    obj._state = state
    return obj


class NewestMatches(BaseTable):
    """A list query's base table replaced by a subquery of the newest rows matching a search (Records.list).

    The subquery keeps the table's name as its alias and its columns' names, so the rest of the query (joins,
    visibility filters, the selected columns) reads it as it would read the table.
    """

    def __init__(self, table_name: str, alias: str | None, sql: str, params: tuple[Any, ...]):
        super().__init__(table_name, alias)
        self.sql = sql
        self.params = params

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        """Return ``(<subquery>) "<alias>"``."""
        return f"({self.sql}) {connection.ops.quote_name(self.table_alias)}", self.params

    def relabeled_clone(self, change_map: dict[str | None, str]) -> NewestMatches:
        """Return the same subquery under the alias ``change_map`` gives."""
        alias = change_map.get(self.table_alias, self.table_alias)
        return NewestMatches(self.table_name, alias, self.sql, self.params)

    @property
    def identity(self) -> tuple[Any, ...]:
        """Tell subqueries apart by their SQL and parameters, not only by table and alias."""
        return self.__class__, self.table_name, self.table_alias, self.sql, self.params


class Records(Generic[M]):
    """Permission-checked, audited create/read/update/delete/upsert for one model.

    Subclasses add domain rules through three hooks: :meth:`split` (nested data such as an order's lines),
    :meth:`prepare` (derived fields, cross-row rules) and :meth:`write_related` (rows that hang off the saved ones).
    """

    #: Payload keys that are not model fields but nested data handled by the hooks.
    nested_fields: tuple[str, ...] = ()

    def __init__(
        self,
        model: type[M],
        *,
        search_fields: Iterable[str] = (),
        orderings: Iterable[str] = ("id",),
        related: Iterable[str] = (),
        prefetch: Iterable[str] = (),
        combined_search: bool = False,
        prefix_fields: Iterable[str] = (),
    ):
        self.model = model
        self.search_fields = tuple(search_fields)
        #: On PostgreSQL, one trigram index covers all search fields together (migration_ops.combined_search_index).
        self.combined_search = combined_search
        #: Fields that a word too short for trigrams matches by its start (each has a prefix index on PostgreSQL).
        self.prefix_fields = tuple(prefix_fields)
        self.orderings = tuple(orderings)
        self.related = tuple(related)
        self.prefetch = tuple(prefetch)
        self.label = str(model._meta.verbose_name).capitalize()

    def noun(self) -> str:
        """Return the record's name in the active language, as a sentence's subject ("Contact")."""
        return str(capfirst(self.model._meta.verbose_name))

    def nouns(self) -> str:
        """Return the records' plural name in the active language, lower-cased ("contacts")."""
        return str(self.model._meta.verbose_name_plural).lower()

    def seen_not_allowed(self, pk: Any, action: Action) -> Forbidden:
        """Return the 403 for a record the user sees but may not ``action``, in the active language."""
        return Forbidden(
            _("You may see %(record)s %(id)s but not %(action)s it.")
            % {"record": self.noun().lower(), "id": pk, "action": ACTION_WORDS[action]()}
        )

    # Reading

    def query(self, user: User, action: Action = "view") -> models.QuerySet[M]:
        """Return the rows ``user`` may ``action``, for reading rows picked by key (one record, a chunk of keys)."""
        return self.model.objects.restrict(user, action)  # type: ignore[attr-defined]

    def listable(self, user: User, action: Action = "view") -> models.QuerySet[M]:
        """Return the rows ``user`` may ``action``, shaped for a list that walks the table until a page is full.

        Records reached through an account are narrowed by the list of account ids the user may act on, when
        that list is short: PostgreSQL then knows how few rows qualify and reads just those accounts' rows
        (through the account index) instead of walking a big table by id until a page is full. Rows picked by
        key need no such list (``query``): the join checks just their own accounts.
        """
        qs = self.query(user, action)
        scope = getattr(self.model, "scope", "shared")
        if scope in ("shared", "owned") or not visibility_q(user, self.model, action):
            return qs
        owned: Any = self.model
        for name in scope.split("__"):
            owned = owned._meta.get_field(name).related_model
        if reach_cache.is_wide(user, action, owned._meta.label):
            return qs
        ids = list(owned.objects.restrict(user, action).values_list("pk", flat=True)[: VISIBLE_IDS_CAP + 1])
        if len(ids) > VISIBLE_IDS_CAP:
            # Such a user's every list would read the ids again only to fall back to the join.
            reach_cache.mark_wide(user, action, owned._meta.label)
            return qs
        if connections[qs.db].vendor == "postgresql":
            return self.model.objects.filter(**{f"{scope}_id__{AnyOf.lookup_name}": IdArray(ids)})  # type: ignore[attr-defined]
        return self.model.objects.filter(**{f"{scope}_id__in": ids})  # type: ignore[attr-defined]

    def get(self, user: User, pk: Any, action: Action = "view") -> M:
        """Return one row the user may ``action``, or raise NotFound (unseen and missing look alike)."""
        try:
            if action == "view":
                return self.query(user, "view").select_related(*self.related).get(pk=pk)
            return self._get_for(user, pk, action)
        except (self.model.DoesNotExist, ValueError, TypeError, ValidationError):  # type: ignore[attr-defined]
            raise NotFound(_("%(record)s %(id)s not found.") % {"record": self.noun(), "id": pk}) from None

    def _get_for(self, user: User, pk: Any, action: Action) -> M:
        obj = self.query(user, "view").select_related(*self.related).get(pk=pk)
        if not self.query(user, action).filter(pk=obj.pk).exists():
            raise self.seen_not_allowed(pk, action)
        return obj

    def search(self, qs: models.QuerySet[M], text: str | None) -> models.QuerySet[M]:
        """Narrow ``qs`` to rows where every word of ``text`` is in one of the search fields (case-insensitive).

        On PostgreSQL a trigram index on ``UPPER(field)`` (or one on all the fields together, with
        ``combined_search``) serves each word. A word of one or two characters has no trigram; where the model
        names ``prefix_fields`` (a contact's first and last name) such a word matches the start of one of them,
        through a b-tree on ``UPPER(field)``: "王" finds 王 Wei and 王 Fang without reading every contact.
        """
        terms = (text or "").split()[:MAX_SEARCH_TERMS]
        if not terms or not self.search_fields:
            return qs
        connection = connections[qs.db]
        combined = ""
        if self.combined_search and connection.vendor == "postgresql":
            # The same test as icontains on each field, spelled as the combined index's expression.
            fields = [cast(models.Field, self.model._meta.get_field(name)) for name in self.search_fields]
            columns = [f.column or f.name for f in fields]
            combined = f"{search_text_sql(columns, self.model._meta.db_table)} LIKE UPPER(%s)"
        every = Q()
        for term in terms:
            one = Q()
            if len(term) < TRIGRAM and self.prefix_fields:
                for name in self.prefix_fields:
                    one |= Q(**{f"{name}__istartswith": term})
            elif combined:
                pattern = f"%{connection.ops.prep_for_like_query(term)}%"
                one = Q(RawSQL(combined, [pattern], output_field=models.BooleanField()))
            else:
                for name in self.search_fields:
                    one |= Q(**{f"{name}__icontains": term})
            every &= one
        return qs.filter(every)

    def list(
        self,
        user: User,
        *,
        filters: Mapping[str, Any] | Q | None = None,
        search: str | None = None,
        order: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        reader: RowReader | None = None,
    ) -> Page:
        """Return one keyset page of visible rows, filtered, searched and sorted.

        ``reader`` (for this model, without prefetched data) reads just the fields an answer shows.
        """
        order = self.check_order(order)
        read = reader.read if reader is not None and not self.prefetch else builtins.list
        if search and self.caps_search(user, filters, order):
            page = self._newest_matches_page(user, search, order, cursor, limit, read)
            if page is not None:
                return page
        qs = self.filtered(user, filters=filters, search=search)
        if self.prefetch:
            qs = qs.prefetch_related(*self.prefetch)
        return keyset_page(qs, order=order, cursor=cursor, limit=limit, read=read)

    def caps_search(self, user: User, filters: Mapping[str, Any] | Q | None, order: str) -> bool:
        """Tell whether a search list of ``user`` reads its newest matches first (see _newest_matches_page).

        Only lists sorted by id and without filters (a sort by another field or a filter would need a subquery of
        its own), of a user who may see some rows. An admin's search gains too: with no visibility to check,
        PostgreSQL would otherwise walk the whole table newest first whenever it expects a word to be common
        enough to fill a page soon, and a word it misjudges (Wawrzyk, Heser: 0.1-0.4 s) costs the whole walk.
        """
        if order.lstrip("-") != "id" or not self.search_fields:
            return False
        if isinstance(filters, Q):
            filtering = bool(filters)
        else:
            filtering = any(v is not None and v != "" for v in (filters or {}).values())
        return not filtering and visibility_q(user, self.model) is not None

    def _newest_matches_page(
        self, user: User, search: str, order: str, cursor: str | None, limit: int, read: Any
    ) -> Page | None:
        """Return the page of a search sorted by id, read from the newest matches only.

        Checking every match's account and then keeping the newest is what costs in a search for a common name
        ("Rose": 4,186 matches, each joined to its account, for a page of 50). Here the newest ``SEARCH_CAP``
        matches after the cursor are taken first, in order, and PostgreSQL checks their accounts only until the
        page is full. The last match taken is read whatever its visibility: if it is read, rows beyond the cap may
        belong on the page, and this returns None for the caller to run the full query. Otherwise the page is
        exact: every match newer than its last row (and the one after, which says whether there is a next page)
        was taken and checked.
        """
        descending = order.startswith("-")
        pk = self.model._meta.pk
        matches = self.model._default_manager.all()
        if cursor:
            _value, after = decode_cursor(cursor, order, pk)
            matches = matches.filter(pk__lt=after) if descending else matches.filter(pk__gt=after)
        matches = self.search(matches, search).order_by(order)[:SEARCH_CAP]
        db = matches.db
        sql, params = matches.query.get_compiler(using=db).as_sql()
        qn = connections[db].ops.quote_name
        taken, column = qn("patron_matches"), qn(cast(str, pk.column))
        direction = "DESC" if descending else "ASC"
        # Sorting the rows taken again costs nothing (they come sorted) and tells PostgreSQL they are in the page's
        # order, so it checks their visibility one by one until the page is full. ROW_NUMBER() numbers them as
        # they stream by (a count of them would first read every one).
        ranked = (
            f"SELECT {taken}.*, ROW_NUMBER() OVER (ORDER BY {taken}.{column} {direction}) AS {qn('patron_rank')} "
            f"FROM ({sql}) {taken} ORDER BY {taken}.{column} {direction}"
        )
        qs = self.listable(user)
        if self.related:
            qs = qs.select_related(*self.related)
        qs = qs.all()
        query = qs.query
        alias = cast(str, query.get_initial_alias())
        query.alias_map[alias] = NewestMatches(query.get_meta().db_table, alias, ranked, tuple(params))
        rank = f"{qn(alias)}.{qn('patron_rank')}"
        # The last row taken is read whatever its visibility: when it is, rows beyond the cap may belong on the page.
        last = RawSQL(f"{rank} = %s", [SEARCH_CAP], output_field=models.BooleanField())
        query.where = WhereNode([query.where, last], connector=OR)  # type: ignore[list-item]
        qs = qs.annotate(patron_rank=RawSQL(rank, [], output_field=models.IntegerField()))  # type: ignore[assignment]
        if self.prefetch:
            qs = qs.prefetch_related(*self.prefetch)
        seen: builtins.list[Any] = []

        def reading(sliced: models.QuerySet[M]) -> builtins.list[Any]:
            rows = read(sliced)
            seen.extend(rows)
            return rows

        page = keyset_page(qs, order=order, cursor=cursor, limit=limit, read=reading)
        if any(row.patron_rank == SEARCH_CAP for row in seen):
            return None
        return page

    def filtered(
        self, user: User, *, filters: Mapping[str, Any] | Q | None = None, search: str | None = None
    ) -> models.QuerySet[M]:
        """Return the visible rows matching ``filters`` and ``search`` (unsorted, for lists and exports).

        ``filters`` is a Q, or a mapping of ORM lookups (``{"ordered_at__gte": ...}``) where None and "" are ignored.
        """
        # The rows of one account (its page) need no list of every visible account: the join checks that one.
        qs = self.query(user) if self.pins_scope(filters) else self.listable(user)
        if self.related:
            qs = qs.select_related(*self.related)
        if isinstance(filters, Q):
            qs = qs.filter(filters)
        elif filters:
            qs = qs.filter(**{k: v for k, v in filters.items() if v is not None and v != ""})
        return self.search(qs, search)

    def pins_scope(self, filters: Mapping[str, Any] | Q | None) -> bool:
        """Tell whether ``filters`` keep the rows of a single record of the model's scope (``{"account": 7}``)."""
        scope = getattr(self.model, "scope", "shared")
        if scope in ("shared", "owned") or not isinstance(filters, Mapping):
            return False
        value = next((filters[k] for k in (scope, f"{scope}_id", f"{scope}__pk", f"{scope}__id") if k in filters), None)
        return value is not None and value != "" and isinstance(value, int | str | models.Model)

    def check_order(self, order: str | None) -> str:
        """Return a permitted ordering, or raise Invalid naming the ones allowed."""
        if not order:
            return "-id"
        if order.lstrip("-") not in (*self.orderings, "id"):
            allowed = ", ".join(sorted({*self.orderings, "id"}))
            raise Invalid(
                _("Cannot sort by “%(order)s”; choose one of %(allowed)s (prefix - for descending).")
                % {"order": order, "allowed": allowed},
                field="order",
            )
        return order

    def sort(self, qs: models.QuerySet[M], order: str | None) -> models.QuerySet[M]:
        """Sort ``qs`` by a permitted ordering, ties broken by id in the same direction (as list pages are)."""
        order = self.check_order(order)
        prefix = "-" if order.startswith("-") else ""
        name = order.lstrip("-")
        return qs.order_by(order, f"{prefix}id") if name != "id" else qs.order_by(order)

    # Writing: the steps every write shares

    def split(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Separate a payload into model fields and nested data (the keys in ``nested_fields``)."""
        fields = dict(data)
        extra = {name: fields.pop(name) for name in self.nested_fields if name in fields}
        return normalise(fields, self.model), extra

    def resolve_references(self, user: User, drafts: Sequence[Draft[M]]) -> None:
        """Turn ``<fk>_external_id`` into ``<fk>_id`` and refuse references to rows the user may not see (422)."""
        for f in foreign_keys(self.model):
            target: Any = f.related_model
            by_external = f"{f.name}_external_id"
            given = [(d, d.data.pop(by_external, None)) for d in drafts]
            pending = [(d, value) for d, value in given if value]
            if pending:
                found = (
                    dict(
                        self._visible(user, target)
                        .filter(external_id__in={value for _, value in pending})
                        .values_list("external_id", "pk")
                    )
                    if hasattr(target, "external_id")
                    else {}
                )
                for d, value in pending:
                    if value not in found:
                        message = f"{by_external}: " + _("There is no %(label)s with %(lookup)s “%(value)s”.") % {
                            "label": target._meta.verbose_name,
                            "lookup": _("external id"),
                            "value": value,
                        }
                        raise d.fail(Invalid(message, field=by_external))
                    if d.data.get(f.attname) not in (None, found[value]):
                        message = f"{by_external}: " + _("“%(value)s” is not the external id of %(label)s %(id)s.") % {
                            "value": value,
                            "label": target._meta.verbose_name,
                            "id": d.data[f.attname],
                        }
                        raise d.fail(Invalid(message, field=by_external))
                    d.data[f.attname] = found[value]
            ids = {d.data[f.attname] for d in drafts if d.data.get(f.attname) is not None}
            if not ids:
                continue
            seen = set(self._visible(user, target).filter(pk__in=ids).values_list("pk", flat=True))
            for d in drafts:
                value = d.data.get(f.attname)
                if value is not None and value not in seen:
                    message = f"{f.attname}: " + _("There is no %(label)s with %(lookup)s “%(value)s”.") % {
                        "label": target._meta.verbose_name,
                        "lookup": "id",
                        "value": value,
                    }
                    raise d.fail(Invalid(message, field=f.attname))

    @staticmethod
    def _visible(user: User, model: type[models.Model]) -> models.QuerySet:
        if not hasattr(model._default_manager, "restrict"):
            return model._default_manager.all()
        q = visibility_q(user, model, "view")
        return model._default_manager.none() if q is None else model._default_manager.filter(q)

    def prepare(self, user: User, drafts: Sequence[Draft[M]]) -> None:
        """Fill what the payload leaves to the system (hook); the default gives new owned rows an owner and team."""
        new = [d for d in drafts if d.created]
        if new and getattr(self.model, "scope", None) == "owned":
            team_ids = list(user.teams.values_list("id", flat=True)) if user.pk else []
            for d in new:
                self._fill_owner(user, d.obj, team_ids, given=d.data)

    @staticmethod
    def _fill_owner(user: User, obj: models.Model, team_ids: Sequence[int], *, given: Mapping[str, Any]) -> None:
        if "owner_id" not in given and obj.owner_id is None:  # type: ignore[attr-defined]
            obj.owner_id = user.pk  # type: ignore[attr-defined]
        # A user in exactly one team shares what they create with it; with several, they choose.
        mine = obj.owner_id == user.pk  # type: ignore[attr-defined]
        if "team_id" not in given and obj.team_id is None and len(team_ids) == 1 and mine:  # type: ignore[attr-defined]
            obj.team_id = team_ids[0]  # type: ignore[attr-defined]

    def prepare_new(self, user: User, obj: M) -> None:
        """Fill defaults a new row takes from its creator (owner and team of owned records)."""
        if getattr(self.model, "scope", None) == "owned":
            self._fill_owner(user, obj, list(user.teams.values_list("id", flat=True)), given={})

    def write_related(self, user: User, drafts: Sequence[Draft[M]]) -> set[int]:
        """Write the rows that hang off saved ones (hook); return the ids of rows whose nested data changed."""
        return set()

    def check_writes(self, user: User, drafts: Sequence[Draft[M]], *, rows_checked: bool = False) -> None:
        """Refuse writes the user may not make: new rows under parents they may not change, rows they may not change.

        ``rows_checked`` says the existing rows were already fetched for change (a single update).
        """
        if not drafts:
            return
        q = visibility_q(user, self.model, "change")
        if q is None:
            first = drafts[0]
            refusal = _("You may not create %(records)s.") if first.created else _("You may not change %(records)s.")
            raise first.fail(Forbidden(refusal % {"records": self.nouns()}))
        if not q:
            return
        if not rows_checked:
            ids = [d.obj.pk for d in drafts if not d.created]
            allowed = set(self.query(user, "change").filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
            for d in drafts:
                if not d.created and d.obj.pk not in allowed:
                    raise d.fail(self.seen_not_allowed(d.obj.pk, "change"))
        scope = getattr(self.model, "scope", "shared")
        if scope in ("shared", "owned"):
            return
        parent = scope.split("__")[0]
        attname = f"{parent}_id"
        moving = [d for d in drafts if d.moved(attname)]
        parent_ids = {getattr(d.obj, attname) for d in moving} - {None}
        if not parent_ids:
            return
        parent_model: Any = self.model._meta.get_field(parent).related_model
        changeable = parent_model.objects.restrict(user, "change").filter(pk__in=parent_ids)
        allowed = set(changeable.values_list("pk", flat=True))
        for d in moving:
            value = getattr(d.obj, attname)
            if value is not None and value not in allowed:
                refusal = _("You may not add records to %(label)s “%(value)s”.")
                raise d.fail(Forbidden(refusal % {"label": parent_model._meta.verbose_name, "value": value}))

    def validate(self, drafts: Sequence[Draft[M]]) -> None:
        """Validate each row's fields and model rules (references and unique keys are checked per batch)."""
        keys = foreign_keys(self.model)
        exclude = [f.name for f in keys]
        for d in drafts:
            for f in keys:
                if getattr(d.obj, f.attname) is None and not f.null:
                    raise d.fail(Invalid(f"{f.attname}: " + _("this field is required."), field=f.attname))
            try:
                d.obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                raise d.fail(invalid_from(exc)) from None

    def check_unique(self, drafts: Sequence[Draft[M]]) -> None:
        """Refuse values of unique keys that another row holds or that appear twice in the batch (409).

        Keys unique regardless of case (a contact's e-mail) are compared lower-cased, through their Lower() index.
        """
        for f, folded in unique_keys(self.model):
            wanted: dict[Any, Draft[M]] = {}
            for d in drafts:
                value = getattr(d.obj, f.attname)
                if value in (None, "") or not d.moved(f.attname):
                    continue
                probe = value.lower() if folded and isinstance(value, str) else value
                if probe in wanted:
                    message = f"{f.attname}: " + _("“%(value)s” is given twice (%(where)s).") % {
                        "value": value,
                        "where": wanted[probe].where or _("earlier"),
                    }
                    raise d.fail(Conflict(message, field=f.attname))
                wanted[probe] = d
            if not wanted:
                continue
            stored = Lower(f.attname) if folded else models.F(f.attname)
            clashes = self.model._default_manager.annotate(unique_key=stored).filter(unique_key__in=list(wanted))
            for probe, pk in clashes.values_list("unique_key", "pk"):
                d = wanted[probe]
                if pk != d.obj.pk:
                    value = getattr(d.obj, f.attname)
                    message = f"{f.attname}: " + _("another %(record)s already has %(field)s “%(value)s”.") % {
                        "record": self.noun().lower(),
                        "field": f.verbose_name,
                        "value": value,
                    }
                    raise d.fail(Conflict(message, field=f.attname))

    def _check(self, user: User, drafts: Sequence[Draft[M]], *, rows_checked: bool = False) -> Sequence[Draft[M]]:
        """Run the domain hook and every check; return the drafts that will write something."""
        self.prepare(user, drafts)
        writing = [d for d in drafts if d.created or d.changed()]
        self.check_writes(user, writing, rows_checked=rows_checked)
        self.validate(writing)
        self.check_unique(writing)
        return writing

    def _save_one(self, user: User, obj: M) -> None:
        obj._history_user = user  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                obj.save()
        except IntegrityError as exc:
            raise Conflict(
                _("%(record)s clashes with an existing record: %(detail)s")
                % {"record": self.noun(), "detail": str(exc).strip()}
            ) from None

    # Writing: the public operations

    def check_references(self, user: User, data: Mapping[str, Any]) -> None:
        """Refuse references to rows the user may not see (named in the error, as a 422)."""
        self.resolve_references(user, [Draft(data=dict(data))])

    def check_can_write(self, user: User, obj: M) -> None:
        """Refuse to create a row the user would not be allowed to change afterwards."""
        self.check_writes(user, [Draft(data={}, obj=obj, created=obj.pk is None)], rows_checked=obj.pk is not None)

    def save(self, user: User, obj: M, *, validate: bool = True) -> M:
        """Validate and save ``obj``, recording ``user`` in its audit history."""
        if validate:
            draft = Draft(data={}, obj=obj, created=obj.pk is None)
            if not draft.created:
                draft.before = {f.attname: None for f in obj._meta.concrete_fields}
            self.validate([draft])
            self.check_unique([draft])
        self._save_one(user, obj)
        return obj

    def create(self, user: User, data: Mapping[str, Any]) -> M:
        """Create a row from validated payload data (``<fk>_external_id`` may stand for ``<fk>_id``)."""
        fields, extra = self.split(data)
        draft: Draft[M] = Draft(data=fields, extra=extra)
        self.resolve_references(user, [draft])
        try:
            draft.obj = self.model(**draft.data)
        except (TypeError, ValueError) as exc:
            raise Invalid(
                _("Unknown field for %(records)s: %(detail)s") % {"records": self.nouns(), "detail": exc}
            ) from None
        self._check(user, [draft])
        self._save_one(user, draft.obj)
        self.write_related(user, [draft])
        return draft.obj

    def update(self, user: User, pk: Any, data: Mapping[str, Any]) -> M:
        """Change the given fields of one row the user may change; a write that changes nothing is not recorded."""
        obj = self.get(user, pk, "change")
        fields, extra = self.split(data)
        draft: Draft[M] = Draft(data=fields, extra=extra, obj=obj, created=False, before=snapshot(obj))
        self.resolve_references(user, [draft])
        for name, value in draft.data.items():
            setattr(obj, name, value)
        if self._check(user, [draft], rows_checked=True):
            self._save_one(user, obj)
        self.write_related(user, [draft])
        return obj

    def delete(self, user: User, pk: Any) -> None:
        """Delete one row the user may delete, or say what still refers to it."""
        obj = self.get(user, pk, "delete")
        obj._history_user = user  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                obj.delete()
        except (ProtectedError, IntegrityError) as exc:
            raise Conflict(
                _("%(record)s %(id)s is still referred to by other records and cannot be deleted.")
                % {"record": self.noun(), "id": pk}
            ) from exc

    def upsert(self, user: User, rows: Iterable[Mapping[str, Any]], *, key: str = "external_id") -> UpsertResult:
        """Create or update rows matched on ``key``; rows equal to what is stored are left alone."""
        return self.upsert_rows(user, enumerate(rows, start=1), key=key, unit="Row")

    def upsert_rows(
        self,
        user: User,
        numbered_rows: Iterable[tuple[int, Mapping[str, Any]]],
        *,
        key: str = "external_id",
        unit: str = "Row",
    ) -> UpsertResult:
        """Upsert ``(number, row)`` pairs in chunks; the first bad row raises, naming ``unit`` and its number.

        Run it inside a transaction: an error leaves earlier chunks written until the transaction rolls back.
        """
        result = UpsertResult()
        first_seen: dict[Any, str] = {}
        rows = iter(numbered_rows)
        while chunk := list(islice(rows, UPSERT_CHUNK)):
            self._upsert_chunk(user, chunk, key=key, unit=unit, first_seen=first_seen, result=result)
        return result

    def _upsert_chunk(
        self,
        user: User,
        chunk: Sequence[tuple[int, Mapping[str, Any]]],
        *,
        key: str,
        unit: str,
        first_seen: dict[Any, str],
        result: UpsertResult,
    ) -> None:
        drafts: builtins.list[Draft[M]] = []
        for number, row in chunk:
            fields, extra = self.split(row)
            draft: Draft[M] = Draft(data=fields, extra=extra, row=number, where=place(unit, number))
            value = fields.get(key)
            if value in (None, ""):
                raise draft.fail(Invalid(f"{key}: " + _("required for an upsert."), field=key))
            if value in first_seen:
                message = f"{key}: " + _("“%(value)s” was already given on %(where)s.") % {
                    "value": value,
                    "where": first_seen[value].lower(),
                }
                raise draft.fail(Invalid(message, field=key))
            first_seen[value] = draft.where or ""
            drafts.append(draft)
        self.resolve_references(user, drafts)
        keys = [d.data[key] for d in drafts]
        existing = {getattr(o, key): o for o in self.query(user, "view").filter(**{f"{key}__in": keys})}
        missing = [k for k in keys if k not in existing]
        hidden = (
            set(self.model._default_manager.filter(**{f"{key}__in": missing}).values_list(key, flat=True))
            if missing
            else set()
        )
        for d in drafts:
            value = d.data[key]
            if value in hidden:
                hidden_message = _("“%(value)s” belongs to a record you may not change.") % {"value": value}
                raise d.fail(Conflict(f"{key}: {hidden_message}", field=key))
            obj = existing.get(value)
            if obj is None:
                try:
                    d.obj = self.model(**d.data)
                except (TypeError, ValueError) as exc:
                    raise d.fail(
                        Invalid(
                            _("Unknown field for %(records)s: %(detail)s") % {"records": self.nouns(), "detail": exc}
                        )
                    ) from None
                continue
            d.obj, d.created, d.before = obj, False, snapshot(obj)
            for name, new in d.data.items():
                setattr(obj, name, new)
        writing = self._check(user, drafts)
        self._write_many(user, writing)
        nested = self.write_related(user, drafts)
        written = {id(d) for d in writing}
        for d in drafts:
            if d.created:
                result.created += 1
            elif id(d) in written or d.obj.pk in nested:
                result.updated += 1
            else:
                result.unchanged += 1
            result.ids.append(d.obj.pk)

    def _write_many(self, user: User, drafts: Sequence[Draft[M]]) -> None:
        new = [d.obj for d in drafts if d.created]
        changed = [d for d in drafts if not d.created]
        try:
            with transaction.atomic():
                if new:
                    bulk_create_with_history(new, self.model, batch_size=UPSERT_CHUNK, default_user=user)
                if changed:
                    names = {self.model._meta.get_field(a).name for d in changed for a in d.changed()}
                    if any(f.name == "updated_at" for f in self.model._meta.concrete_fields):
                        now = timezone.now()
                        for d in changed:
                            d.obj.updated_at = now  # type: ignore[attr-defined]
                        names.add("updated_at")
                    objs = [d.obj for d in changed]
                    bulk_update_with_history(objs, self.model, sorted(names), batch_size=500, default_user=user)
        except IntegrityError as exc:
            raise Conflict(
                _("%(records)s clash with existing records: %(detail)s")
                % {"records": capfirst(self.nouns()), "detail": str(exc).strip()}
            ) from None


# Exports


_FORMULA_START = re.compile(r"^(?:[=@\t\r]|[+-][^\d\s.])")


def csv_cell(value: Any) -> str:
    """Return a value as CSV text; text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return f"'{text}" if isinstance(value, str) and _FORMULA_START.match(text) else text


def _lookup(row: Any, path: str) -> Any:
    value = row
    for part in path.split("."):
        if value is None:
            return None
        value = value.get(part) if isinstance(value, Mapping) else getattr(value, part, None)
    return value() if callable(value) else value


class _Line:
    """A file-like object that hands back what the csv writer writes."""

    def write(self, text: str) -> str:
        return text


def export_rows(
    rows: Iterable[Any], columns: Mapping[str, str] | Sequence[str], *, chunk_size: int = 2000
) -> Iterator[str]:
    """Yield CSV lines: a header, then one line per row (a queryset is read in chunks, never all at once).

    ``columns`` maps header names to attribute paths (``{"account": "account.name"}``), or lists paths used as both.
    """
    paths = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    writer = csv.writer(_Line())
    yield writer.writerow(list(paths))
    source = rows.iterator(chunk_size=chunk_size) if isinstance(rows, models.QuerySet) else rows
    for row in source:
        yield writer.writerow([csv_cell(_lookup(row, path)) for path in paths.values()])


# API tokens


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; return it with the raw secret, which is shown only now."""
    name = (name or "").strip()
    if not name:
        raise Invalid(_("Give the token a name, so you can tell your tokens apart."), field="name")
    raw = ApiToken.generate()
    token = ApiToken.objects.create(user=user, name=name[:100], prefix=raw[:8], digest=hash_token(raw))
    return token, raw


def tokens_of(user: User) -> models.QuerySet[ApiToken]:
    """Return the user's own tokens, active ones first, newest first."""
    return ApiToken.objects.filter(user=user).order_by(models.F("revoked_at").desc(nulls_first=True), "-created_at")


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens."""
    token = ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).first()
    if token is None:
        raise NotFound(_("API token %(id)s not found.") % {"id": token_id})
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token


def user_for_token(raw: str) -> User | None:
    """Return the active user a raw token belongs to, marking the token as used."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=hash_token(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
