"""Row-level visibility as query filters, after NetBox's ``restrict(user, action)``.

Every model that holds customer data declares how it reaches an owner and a team:
``scope = "account"`` (through its account), ``"owned"`` (its own owner and team fields) or
``"shared"`` (reference data such as products and campaigns, seen by every signed-in user and
changed by managers and admins). What a user may not see is filtered out of the query, so it is a 404.
"""

from __future__ import annotations

from typing import Literal

from django.db import models
from django.db.models import Q

from patron.core.models import Role, User

Action = Literal["view", "change", "delete"]


def _reach(user: User) -> tuple[list[int], list[int]]:
    """Return the user's team ids and the ids of the users whose records they reach, read once per user object.

    A page checks visibility many times; the user object lives for one request, so caching on it keeps
    the answer fresh per request while sparing a query per check.
    """
    cached = user.__dict__.get("_patron_reach")
    if cached is None:
        team_ids = sorted(user.teams.values_list("id", flat=True))
        member_ids = {user.pk}
        if user.role == Role.MANAGER:
            member_ids |= set(User.objects.filter(teams__in=team_ids).values_list("id", flat=True))
        cached = user.__dict__["_patron_reach"] = (team_ids, sorted(member_ids))
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
