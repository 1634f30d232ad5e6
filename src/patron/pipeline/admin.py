"""Admin of campaigns, leads and deals (with their stage history)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from patron.core.admin import PlainRecordAdmin, RecordAdmin
from patron.pipeline.models import Campaign, Deal, DealStageChange, Lead


@admin.register(Campaign)
class CampaignAdmin(RecordAdmin):
    list_display = ("name", "channel", "cost", "currency", "starts_on", "ends_on")
    list_filter = ("channel",)
    search_fields = ("name", "external_id")


@admin.register(Lead)
class LeadAdmin(RecordAdmin):
    list_display = ("name", "company", "email", "status", "campaign", "fit_score", "owner", "team")
    list_filter = ("status", "team", "campaign")
    list_select_related = ("campaign", "owner", "team")
    search_fields = ("name", "company", "email", "external_id")
    raw_id_fields = ("campaign", "owner", "converted_account")


class DealStageChangeInline(admin.TabularInline):
    model = DealStageChange
    extra = 0
    can_delete = False
    readonly_fields = ("stage", "entered_at", "changed_by")

    def has_add_permission(self, request: HttpRequest, obj: Deal | None = None) -> bool:
        """The stage history is written when a deal moves, not by hand."""
        return False


@admin.register(Deal)
class DealAdmin(RecordAdmin):
    list_display = ("name", "account", "stage", "kind", "amount", "currency", "expected_close", "closed_on", "owner")
    list_filter = ("stage", "kind", "currency")
    list_select_related = ("account", "owner")
    search_fields = ("name", "external_id")
    raw_id_fields = ("account", "owner", "lead", "campaign")
    inlines = [DealStageChangeInline]


@admin.register(DealStageChange)
class DealStageChangeAdmin(PlainRecordAdmin):
    list_display = ("deal", "stage", "entered_at", "changed_by")
    list_filter = ("stage",)
    list_select_related = ("deal", "changed_by")
    raw_id_fields = ("deal", "changed_by")
