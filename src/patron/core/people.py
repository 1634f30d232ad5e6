"""Who API clients may look up: the users and teams a user sees, for the ``owner_id`` and ``team_id`` they send.

Visibility follows the records' rules (see :mod:`patron.core.permissions`): an admin sees every user and team;
managers and members see their own teams and the people in them (themselves included, even without a team).
What a user may not see is filtered out, so it is missing from a list and a 404 by id. Nothing here writes.
"""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from patron.core.models import Team, User
from patron.core.pagination import Page, keyset_page
from patron.errors import Invalid

#: The sort keys of each list (prefix ``-`` for descending); ties are broken by id.
USER_ORDERS = ("username", "id")
TEAM_ORDERS = ("name", "id")


def _team_ids(user: User) -> list[int]:
    return list(user.teams.values_list("id", flat=True))


def visible_teams(user: User) -> QuerySet[Team]:
    """Return the teams ``user`` may see: all for an admin, their own for everyone else."""
    if not user.is_authenticated or not user.is_active:
        return Team.objects.none()
    if user.is_admin:
        return Team.objects.all()
    return Team.objects.filter(pk__in=_team_ids(user))


def visible_users(user: User) -> QuerySet[User]:
    """Return the users ``user`` may see: all for an admin, themselves and the members of their teams otherwise."""
    if not user.is_authenticated or not user.is_active:
        return User.objects.none()
    if user.is_admin:
        return User.objects.all()
    # A subquery rather than a join through the memberships: no duplicate rows, so no DISTINCT for the keyset.
    teammates = User.teams.through.objects.filter(team_id__in=_team_ids(user)).values("user_id")
    return User.objects.filter(Q(pk=user.pk) | Q(pk__in=teammates))


def _check_order(order: str | None, allowed: tuple[str, ...]) -> str:
    chosen = order or allowed[0]
    if chosen.lstrip("-") not in allowed:
        raise Invalid(
            _("Cannot sort by “%(order)s”; choose one of %(allowed)s (prefix - for descending).")
            % {"order": chosen, "allowed": ", ".join(allowed)},
            field="order",
        )
    return chosen


def list_users(
    user: User,
    *,
    search: str | None = None,
    team_id: int | None = None,
    role: str | None = None,
    active: bool | None = None,
    order: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Return one page of the users ``user`` sees, with their team ids; ``search`` matches names and username."""
    qs = visible_users(user)
    if team_id is not None:
        qs = qs.filter(pk__in=User.teams.through.objects.filter(team_id=team_id).values("user_id"))
    if role:
        qs = qs.filter(role=role)
    if active is not None:
        qs = qs.filter(is_active=active)
    for term in (search or "").split()[:5]:
        qs = qs.filter(Q(username__icontains=term) | Q(first_name__icontains=term) | Q(last_name__icontains=term))
    qs = qs.prefetch_related(Prefetch("teams", queryset=visible_teams(user).only("id").order_by("id")))
    return keyset_page(qs, order=_check_order(order, USER_ORDERS), cursor=cursor, limit=limit)


def list_teams(
    user: User,
    *,
    search: str | None = None,
    order: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Return one page of the teams ``user`` sees, with their members' ids and count; ``search`` matches the name."""
    qs = visible_teams(user)
    for term in (search or "").split()[:5]:
        qs = qs.filter(name__icontains=term)
    qs = qs.annotate(member_count=Count("members")).prefetch_related(
        Prefetch("members", queryset=User.objects.only("id").order_by("id"))
    )
    return keyset_page(qs, order=_check_order(order, TEAM_ORDERS), cursor=cursor, limit=limit)
