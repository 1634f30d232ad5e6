"""Writes that every record shares: create, update, delete and upsert, with permissions and audit.

Domain apps build on :class:`Records` in their own ``services.py``; routes and pages call those, never
the ORM directly. Each function runs inside the caller's transaction (one per request or command).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from patron.core.models import ApiToken, User, hash_token
from patron.core.pagination import Page, keyset_page
from patron.core.permissions import Action, visibility_q
from patron.errors import Conflict, Forbidden, Invalid, NotFound

M = TypeVar("M", bound=models.Model)


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
    where = f"{first['field']}: " if first["field"] and first["field"] != "__all__" else ""
    return Invalid(f"{where}{first['message']}", field=first["field"] or None, details=details)


@dataclass
class UpsertResult:
    """What a bulk upsert did: how many rows it created, updated and left as they were."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[int] = field(default_factory=list)


class Records(Generic[M]):
    """Permission-checked, audited create/read/update/delete for one model."""

    def __init__(self, model: type[M], *, search_fields: Iterable[str] = (), orderings: Iterable[str] = ("id",)):
        self.model = model
        self.search_fields = tuple(search_fields)
        self.orderings = tuple(orderings)
        self.label = str(model._meta.verbose_name).capitalize()

    # Reading

    def query(self, user: User, action: Action = "view") -> models.QuerySet[M]:
        """Return the rows ``user`` may ``action``."""
        return self.model.objects.restrict(user, action)  # type: ignore[attr-defined]

    def get(self, user: User, pk: Any, action: Action = "view") -> M:
        """Return one row the user may ``action``, or raise NotFound (unseen and missing look alike)."""
        try:
            return self.query(user, "view").get(pk=pk) if action == "view" else self._get_for(user, pk, action)
        except (self.model.DoesNotExist, ValueError, TypeError, ValidationError):
            raise NotFound(f"{self.label} {pk} not found.") from None

    def _get_for(self, user: User, pk: Any, action: Action) -> M:
        obj = self.query(user, "view").get(pk=pk)
        if not self.query(user, action).filter(pk=obj.pk).exists():
            raise Forbidden(f"You may see {self.label.lower()} {pk} but not {action} it.")
        return obj

    def search(self, qs: models.QuerySet[M], text: str | None) -> models.QuerySet[M]:
        """Narrow ``qs`` to rows whose search fields contain ``text`` (case-insensitive)."""
        text = (text or "").strip()
        if not text or not self.search_fields:
            return qs
        q = Q()
        for name in self.search_fields:
            lookup = "iexact" if name.endswith("email") and "@" in text else "icontains"
            q |= Q(**{f"{name}__{lookup}": text})
        return qs.filter(q)

    def list(
        self,
        user: User,
        *,
        filters: Mapping[str, Any] | Q | None = None,
        search: str | None = None,
        order: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Return one keyset page of visible rows, filtered, searched and sorted."""
        return keyset_page(
            self.filtered(user, filters=filters, search=search),
            order=self.check_order(order),
            cursor=cursor,
            limit=limit,
        )

    def filtered(
        self, user: User, *, filters: Mapping[str, Any] | Q | None = None, search: str | None = None
    ) -> models.QuerySet[M]:
        """Return the visible rows matching ``filters`` and ``search`` (unsorted, for lists and exports)."""
        qs = self.query(user)
        if isinstance(filters, Q):
            qs = qs.filter(filters)
        elif filters:
            qs = qs.filter(**{k: v for k, v in filters.items() if v is not None and v != ""})
        return self.search(qs, search)

    def check_order(self, order: str | None) -> str:
        """Return a permitted ordering, or raise Invalid naming the ones allowed."""
        if not order:
            return "-id"
        if order.lstrip("-") not in (*self.orderings, "id"):
            allowed = ", ".join(sorted({*self.orderings, "id"}))
            raise Invalid(
                f"Cannot sort by '{order}'; choose one of {allowed} (prefix - for descending).", field="order"
            )
        return order

    # Writing

    def check_references(self, user: User, data: Mapping[str, Any]) -> None:
        """Refuse references to rows the user may not see (named in the error, as a 422)."""
        for f in self.model._meta.concrete_fields:
            if not isinstance(f, models.ForeignKey):
                continue
            value = data.get(f.attname)
            if value is None:
                continue
            target = f.related_model
            if not hasattr(target.objects, "restrict"):
                if not target._default_manager.filter(pk=value).exists():
                    raise Invalid(f"{f.attname}: no {target._meta.verbose_name} with id {value}.", field=f.attname)
                continue
            q = visibility_q(user, target, "view")
            if q is None or not target.objects.filter(q, pk=value).exists():
                raise Invalid(f"{f.attname}: no {target._meta.verbose_name} with id {value}.", field=f.attname)

    def save(self, user: User, obj: M, *, validate: bool = True) -> M:
        """Validate and save ``obj``, recording ``user`` in its audit history."""
        if validate:
            try:
                obj.full_clean(validate_unique=True)
            except ValidationError as exc:
                conflict = self._unique_clash(exc)
                if conflict:
                    raise Conflict(conflict, field=self._first_field(exc)) from None
                raise invalid_from(exc) from None
        obj._history_user = user  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                obj.save()
        except IntegrityError as exc:
            raise Conflict(f"{self.label} clashes with an existing record: {exc}".strip()) from None
        return obj

    @staticmethod
    def _unique_clash(exc: ValidationError) -> str | None:
        if not hasattr(exc, "error_dict"):
            return None
        for errors in exc.error_dict.values():
            for error in errors:
                if error.code in {"unique", "unique_together"}:
                    return " ".join(error.messages)
        return None

    @staticmethod
    def _first_field(exc: ValidationError) -> str | None:
        return next(iter(exc.error_dict), None) if hasattr(exc, "error_dict") else None

    def check_can_write(self, user: User, obj: M) -> None:
        """Refuse to create a row the user would not be allowed to change afterwards."""
        q = visibility_q(user, self.model, "change")
        if q is None:
            raise Forbidden(f"You may not create a {self.label.lower()}.")
        if q and obj.pk is None:
            # Evaluate the rule against the unsaved row by checking what it points to.
            scope = getattr(self.model, "scope", "shared")
            if scope not in ("shared", "owned"):
                parent = scope.split("__")[0]
                parent_id = getattr(obj, f"{parent}_id")
                parent_model = self.model._meta.get_field(parent).related_model
                if not parent_model.objects.restrict(user, "change").filter(pk=parent_id).exists():
                    raise Forbidden(f"You may not add records to {parent} {parent_id}.")

    def create(self, user: User, data: Mapping[str, Any]) -> M:
        """Create a row from validated payload data."""
        data = dict(data)
        self.check_references(user, data)
        obj = self.model(**data)
        self.prepare_new(user, obj)
        self.check_can_write(user, obj)
        return self.save(user, obj)

    def prepare_new(self, user: User, obj: M) -> None:
        """Fill defaults a new row takes from its creator (owner and team of owned records)."""
        if getattr(self.model, "scope", None) == "owned" and not getattr(obj, "owner_id", True):
            obj.owner_id = user.pk  # type: ignore[attr-defined]

    def update(self, user: User, pk: Any, data: Mapping[str, Any]) -> M:
        """Change the given fields of one row the user may change."""
        obj = self.get(user, pk, "change")
        data = dict(data)
        self.check_references(user, data)
        for name, value in data.items():
            setattr(obj, name, value)
        return self.save(user, obj)

    def delete(self, user: User, pk: Any) -> None:
        """Delete one row the user may delete, or say what still refers to it."""
        obj = self.get(user, pk, "delete")
        obj._history_user = user  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                obj.delete()
        except (ProtectedError, IntegrityError) as exc:
            raise Conflict(f"{self.label} {pk} is still referred to by other records and cannot be deleted.") from exc

    def upsert(self, user: User, rows: Iterable[Mapping[str, Any]], *, key: str = "external_id") -> UpsertResult:
        """Create or update rows matched on ``key``; rows equal to what is stored are left alone."""
        result = UpsertResult()
        for line, row in enumerate(rows, start=1):
            data = dict(row)
            key_value = data.get(key)
            if not key_value:
                raise Invalid(f"Row {line}: {key} is required for an upsert.", field=key)
            try:
                existing = self.query(user, "view").filter(**{key: key_value}).first()
                if existing is None:
                    if self.model._default_manager.filter(**{key: key_value}).exists():
                        raise Conflict(f"Row {line}: {key} {key_value!r} belongs to a record you may not change.")
                    result.ids.append(self.create(user, data).pk)
                    result.created += 1
                    continue
                changed = {k: v for k, v in data.items() if getattr(existing, k) != v}
                if changed:
                    self.update(user, existing.pk, changed)
                    result.updated += 1
                else:
                    result.unchanged += 1
                result.ids.append(existing.pk)
            except (Invalid, Conflict, Forbidden) as exc:
                exc.message = exc.message if exc.message.startswith("Row ") else f"Row {line}: {exc.message}"
                exc.details = [{**d, "row": line} for d in exc.details] or [{"row": line, "field": exc.field or ""}]
                raise
        return result


# API tokens


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; return it with the raw secret, which is shown only now."""
    name = (name or "").strip()
    if not name:
        raise Invalid("Give the token a name, so you can tell your tokens apart.", field="name")
    raw = ApiToken.generate()
    token = ApiToken.objects.create(user=user, name=name[:100], prefix=raw[:8], digest=hash_token(raw))
    return token, raw


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens."""
    token = ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).first()
    if token is None:
        raise NotFound(f"API token {token_id} not found.")
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
