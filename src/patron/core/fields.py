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
    """An id from the system a record was imported from; imports and bulk upserts match on it.

    Its uniqueness is :func:`external_key` in each model's ``Meta.constraints``, not ``unique=True``: see there.
    """

    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)

    class Meta:
        abstract = True


def external_key() -> models.UniqueConstraint:
    """Return the unique constraint on ``external_id`` that every :class:`External` model lists in its Meta.

    A constraint makes one b-tree. ``unique=True`` on a text field makes PostgreSQL's schema editor add a
    second, ``varchar_pattern_ops`` index for ``LIKE 'x%'``, which no query here runs (searches use trigram
    indexes), and which every insert paid for (see the import section of bench/README.md).
    """
    return models.UniqueConstraint(
        fields=["external_id"], name="%(app_label)s_%(class)s_external_id_unique", violation_error_code="unique"
    )


def history_without_indexes(*fields: str) -> list[str]:
    """Return the fields whose copies in a history table get no index: ``fields`` and ``external_id``.

    simple-history indexes every copied foreign key and every unique or indexed field in the history table;
    nothing reads history by those, so each index only slows the writes (history is read by record id).
    """
    return ["external_id", *fields]


def owner_field(*, db_index: bool = True) -> models.ForeignKey:
    """Return the user who owns a record (its account executive or success manager).

    ``db_index=False`` where a composite index starting with the owner already serves its lookups.
    """
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
        db_index=db_index,
    )


def team_field(*, db_index: bool = True) -> models.ForeignKey:
    """Return the team that shares a record (``db_index=False`` as for :func:`owner_field`)."""
    return models.ForeignKey(
        "core.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("team"),
        db_index=db_index,
    )
