"""Row-level visibility as query filters, after NetBox's ``restrict(user, action)``.

Every model that holds customer data declares how it reaches an owner and a team:
``scope = "account"`` (through its account), ``"owned"`` (its own owner and team fields) or
``"shared"`` (reference data such as products and campaigns, seen by every signed-in user and
changed by managers and admins). What a user may not see is filtered out of the query, so it is a 404.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, Literal, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from patron.core.models import Role, Team, User

Action = Literal["view", "change", "delete"]

Reach = tuple[list[int], list[int]]
V = TypeVar("V")


class Expiring(Generic[V]):
    """Values kept for ``PATRON_AUTH_CACHE_SECONDS`` (0: not at all) in this process, at most ``max_entries``.

    What a server process remembers about users between requests; past the limit it starts again empty.
    """

    max_entries = 10_000

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.entries: dict[Hashable, tuple[float, V]] = {}

    def get(self, key: Hashable) -> V | None:
        """Return the value kept for ``key`` while it is still trusted, else None."""
        entry = self.entries.get(key)
        return entry[1] if entry is not None and entry[0] > self.clock() else None

    def put(self, key: Hashable, value: V) -> None:
        """Keep ``value`` for ``key`` for the next few seconds."""
        seconds = settings.PATRON_AUTH_CACHE_SECONDS
        if seconds > 0:
            if len(self.entries) >= self.max_entries:
                self.entries = {}
            self.entries[key] = (self.clock() + seconds, value)

    def clear(self) -> None:
        """Forget everything."""
        self.entries = {}


class ReachCache:
    """Each user's reach (team ids, and the users whose records they reach), kept a few seconds per process.

    Every list and detail request of a member or manager needs it before its main query; reading the teams was a
    tenth of such a request's CPU. Any change of users, teams or memberships made in this process empties the
    cache at once (a manager's reach depends on other users' memberships); other processes see it within
    ``PATRON_AUTH_CACHE_SECONDS``.
    """

    def __init__(self) -> None:
        self.clock = time.monotonic
        # Through a lambda, so that moving this object's clock (tests do) moves theirs.
        self._reaches: Expiring[Reach] = Expiring(lambda: self.clock())
        self._wide: Expiring[bool] = Expiring(lambda: self.clock())

    def get(self, user: User) -> Reach | None:
        """Return the user's reach if this process still trusts what it read."""
        return self._reaches.get((user.pk, user.role))

    def put(self, user: User, reach: Reach) -> None:
        """Remember the user's reach for ``PATRON_AUTH_CACHE_SECONDS``."""
        self._reaches.put((user.pk, user.role), reach)

    def is_wide(self, user: User, action: str, model: str) -> bool:
        """Tell whether the user was lately found to reach more ``model`` rows than a list filters by id."""
        return bool(self._wide.get((user.pk, action, model)))

    def mark_wide(self, user: User, action: str, model: str) -> None:
        """Remember for ``PATRON_AUTH_CACHE_SECONDS`` that the user reaches too many ``model`` rows to list by id.

        Only that verdict is kept: it decides how a list query is written, never which rows it returns (both
        ways filter by the same visibility), so a stale entry can cost speed but not correctness.
        """
        self._wide.put((user.pk, action, model), True)

    def clear(self) -> None:
        """Forget every user's reach."""
        self._reaches.clear()
        self._wide.clear()


reach_cache = ReachCache()


@receiver(m2m_changed, sender=User.teams.through, dispatch_uid="patron-reach-memberships")
@receiver([post_save, post_delete], sender=User, dispatch_uid="patron-reach-users")
@receiver(post_delete, sender=Team, dispatch_uid="patron-reach-teams")
def forget_reach(**kwargs: Any) -> None:
    """Memberships, users or teams changed: read everyone's reach again."""
    reach_cache.clear()


def _reach(user: User) -> Reach:
    """Return the user's team ids and the ids of the users whose records they reach.

    Read once per user object (a page checks visibility many times) and kept per process for a few seconds
    (see ReachCache).
    """
    cached = user.__dict__.get("_patron_reach") or reach_cache.get(user)
    if cached is None:
        team_ids = sorted(user.teams.values_list("id", flat=True))
        member_ids = {user.pk}
        if user.role == Role.MANAGER:
            member_ids |= set(User.objects.filter(teams__in=team_ids).values_list("id", flat=True))
        cached = (team_ids, sorted(member_ids))
        reach_cache.put(user, cached)
    user.__dict__["_patron_reach"] = cached
    return cached


def _owner_team_q(user: User, prefix: str, action: Action) -> Q:
    """Filter rows whose owner/team (reached through ``prefix``) puts them within the user's reach."""
    team_ids, member_ids = _reach(user)
    if user.role == Role.MANAGER:
        # Managers act on everything their teams hold, and on what their team members own elsewhere.
        # Member ids are fetched once (teams are small) so the row filter needs no join and no DISTINCT.
        return Q(**{f"{prefix}team_id__in": team_ids}) | Q(**{f"{prefix}owner_id__in": member_ids})
    if action == "delete":
        return Q(**{f"{prefix}owner_id": user.pk})
    return Q(**{f"{prefix}owner_id": user.pk}) | Q(**{f"{prefix}team_id__in": team_ids})


def visibility_q(user: User, model: type[models.Model], action: Action = "view") -> Q | None:
    """Return the filter that limits ``model`` to what ``user`` may do ``action`` on; None means nothing."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_admin:
        return Q()
    scope = getattr(model, "scope", "shared")
    if scope == "shared":
        return Q() if action == "view" or user.role == Role.MANAGER else None
    prefix = "" if scope == "owned" else f"{scope}__"
    return _owner_team_q(user, prefix, action)


class RestrictedQuerySet(models.QuerySet):
    """A queryset that can narrow itself to what one user may see or change."""

    def restrict(self, user: User, action: Action = "view") -> RestrictedQuerySet:
        """Keep only the rows ``user`` may ``action``."""
        q = visibility_q(user, self.model, action)
        if q is None:
            return self.none()
        if not q:
            return self
        return self.filter(q)
