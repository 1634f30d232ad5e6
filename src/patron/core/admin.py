"""Admin of users, teams and API tokens, and the base every record's admin shares.

Record admins show the change history of each row (django-simple-history), page without an exact count of
big tables, and show a staff user only the rows their role lets them see.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from patron.core.models import ApiToken, Team, User


class CappedCountPaginator(Paginator):
    """Count at most ``CAP`` rows: pages beyond it are not offered, and a big table is never counted in full."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        """Return the number of rows, up to ``CAP`` + 1."""
        return self.object_list[: self.CAP + 1].count()  # type: ignore[attr-defined]


class RecordAdminMixin:
    """What every record's admin shares: no full counts, and only the rows the staff user may see."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Return the rows the signed-in staff user may see."""
        qs = super().get_queryset(request)  # type: ignore[misc]
        return qs.restrict(request.user) if hasattr(qs, "restrict") else qs


class RecordAdmin(RecordAdminMixin, SimpleHistoryAdmin):  # type: ignore[misc]
    """The admin of a record with an audit history."""


class PlainRecordAdmin(RecordAdminMixin, admin.ModelAdmin):  # type: ignore[misc]
    """The admin of a record without an audit history of its own."""


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users with their role, job function, teams and language."""

    list_display = ("username", "first_name", "last_name", "email", "role", "job_function", "is_active")
    list_filter = ("role", "job_function", "teams", "is_active", "is_staff", "is_superuser")
    search_fields = ("username", "first_name", "last_name", "email")
    filter_horizontal = ("teams", "groups", "user_permissions")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Patron"), {"fields": ("role", "job_function", "teams", "language")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Patron"), {"fields": ("email", "first_name", "last_name", "role", "job_function", "teams")}),
    )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams and how many members they have."""

    list_display = ("name", "member_count")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Return teams with their member counts."""
        return super().get_queryset(request).annotate(members_count=Count("members"))

    @admin.display(description=_("members"), ordering="members_count")
    def member_count(self, team: Any) -> int:
        """Return how many users are in the team."""
        return team.members_count


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: seen and revoked here, made by their users (the secret is never stored)."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = ("user", "prefix", "created_at", "last_used_at")
    exclude = ("digest",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Tokens are made by their users on the profile page or through the API, where the secret is shown."""
        return False
