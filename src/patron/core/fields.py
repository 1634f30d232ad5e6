"""Model pieces shared by every customer-data model."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from patron.core.permissions import RestrictedQuerySet


class TimeStamped(models.Model):
    """Creation and last-change times."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        abstract = True


class External(models.Model):
    """An id from the system a record was imported from; imports and bulk upserts match on it."""

    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True, unique=True)

    class Meta:
        abstract = True


def owner_field() -> models.ForeignKey:
    """Return the user who owns a record (its account executive or success manager)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )


def team_field() -> models.ForeignKey:
    """Return the team that shares a record."""
    return models.ForeignKey(
        "core.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("team")
    )
