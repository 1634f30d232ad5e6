"""Admin of interactions and tickets."""

from __future__ import annotations

from django.contrib import admin

from patron.core.admin import RecordAdmin
from patron.engagement.models import Interaction, Ticket


@admin.register(Interaction)
class InteractionAdmin(RecordAdmin):
    list_display = ("subject", "account", "channel", "direction", "occurred_at", "outcome", "logged_by", "logged_as")
    list_filter = ("channel", "direction", "outcome", "logged_as")
    list_select_related = ("account", "logged_by")
    search_fields = ("subject", "external_id")
    raw_id_fields = ("account", "contact", "logged_by")


@admin.register(Ticket)
class TicketAdmin(RecordAdmin):
    list_display = ("subject", "account", "status", "severity", "category", "opened_at", "handled_by", "handled_as")
    list_filter = ("status", "severity", "channel", "handled_as")
    list_select_related = ("account", "handled_by")
    search_fields = ("subject", "external_id")
    raw_id_fields = ("account", "contact", "handled_by")
