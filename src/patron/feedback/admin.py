"""Admin of survey responses."""

from __future__ import annotations

from django.contrib import admin

from patron.core.admin import RecordAdmin
from patron.feedback.models import SurveyResponse


@admin.register(SurveyResponse)
class SurveyResponseAdmin(RecordAdmin):
    list_display = ("__str__", "account", "contact", "stage", "nps", "csat", "ces", "responded_at")
    list_filter = ("stage",)
    list_select_related = ("account", "contact")
    search_fields = ("comment", "external_id")
    raw_id_fields = ("account", "contact", "ticket")
