"""Admin of customer value: runs (read-only), scores (read-only, no full counts) and the settings row."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from patron.value.models import AccountScore, ScoreRun, ValueSettings


class ReadOnlyAdmin(admin.ModelAdmin):
    """Scoring results are written by scoring runs only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ScoreRun)
class ScoreRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "engine", "observation_end", "customers_scored", "created_at", "finished_at")
    list_filter = ("status", "engine")
    readonly_fields = [f.name for f in ScoreRun._meta.fields]


@admin.register(AccountScore)
class AccountScoreAdmin(ReadOnlyAdmin):
    list_display = ("account", "run", "abc_tier", "lifecycle_class", "rfm_segment", "revenue", "p_alive", "clv")
    raw_id_fields = ("account", "run")
    search_fields = ("=account__id",)
    list_select_related = ("account",)
    # Runs hold a row per account: never count them all for the change list.
    show_full_result_count = False


@admin.register(ValueSettings)
class ValueSettingsAdmin(admin.ModelAdmin):
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ValueSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
