"""Admin of imports: every run, read-only (runs are written by the import service only)."""

from django.contrib import admin

from patron.dataio.models import ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "file_name",
        "user",
        "status",
        "rows",
        "created",
        "updated",
        "unchanged",
        "started_at",
    )
    list_filter = ("kind", "status", "preset", "dry_run")
    search_fields = ("file_name", "sha256", "user__username")
    readonly_fields = [f.name for f in ImportRun._meta.fields]
    date_hierarchy = "started_at"

    def has_add_permission(self, request) -> bool:
        """Runs come from imports only."""
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        """Runs are a record of what happened; they are not edited."""
        return False
