"""API shapes shared by every app: who is signed in, their API tokens, and list filters that map to lookups.

A list's filters are a :class:`ninja.FilterSchema`; a filter whose name is not the lookup it stands for says so
with :func:`lookup`, for example ``ordered_from: Annotated[date | None, lookup("ordered_at__gte")] = None``.
The CRUD routes turn the filters into one ``Q`` for :meth:`patron.core.services.Records.list` and the CSV export.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import FilterLookup, Schema
from pydantic import AfterValidator, Field

from patron.core.models import JobFunction, Role, Team, User


def in_time_zone(value: datetime) -> datetime:
    """Read a date-time without a UTC offset in Patron's time zone (as Django does when it saves one)."""
    return timezone.make_aware(value) if timezone.is_naive(value) else value


#: A date-time; one given without an offset is taken in Patron's time zone.
AwareDateTime = Annotated[datetime, AfterValidator(in_time_zone)]


def lookup(name: str) -> FilterLookup:
    """Return the annotation that maps a filter to the ORM lookup ``name`` (such as ``ordered_at__gte``)."""
    return FilterLookup(name)


class TeamOut(Schema):
    id: int
    name: str


class MeOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    role: Role
    job_function: JobFunction
    language: str
    is_admin: bool
    teams: list[TeamOut]


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100, description="What the token is for, e.g. 'Nightly ERP sync'.")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The first characters of the token, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret: shown only in this answer; send it as 'Authorization: Bearer …'.")


class UserOut(Schema):
    """A user as API clients see them: enough to pick an ``owner_id`` and to tell who someone is."""

    id: int
    username: str
    first_name: str
    last_name: str
    full_name: str = Field(description="First and last name, or the username when both are empty.")
    role: Role
    active: bool = Field(description="False for users who may no longer sign in.")
    team_ids: list[int] = Field(description="The ids of the user's teams that you may see.")

    @staticmethod
    def resolve_full_name(obj: User) -> str:
        """Return the name shown for the user on pages."""
        return obj.get_full_name() or obj.username

    @staticmethod
    def resolve_active(obj: User) -> bool:
        """Return whether the user may sign in."""
        return obj.is_active

    @staticmethod
    def resolve_team_ids(obj: User) -> list[int]:
        """Return the user's team ids, from the teams the list read along with the users."""
        return [team.pk for team in obj.teams.all()]


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None = None


class TeamDetailOut(Schema):
    """A team with its members, for the ``team_id`` a record is shared with."""

    id: int
    name: str
    description: str
    member_count: int
    member_ids: list[int] = Field(description="The ids of the team's members.")

    @staticmethod
    def resolve_member_ids(obj: Team) -> list[int]:
        """Return the members' ids, from the members the list read along with the teams."""
        return [member.pk for member in obj.members.all()]


class TeamPage(Schema):
    items: list[TeamDetailOut]
    next_cursor: str | None = None


class FieldChangeOut(Schema):
    """One field's value before and after a change (``old`` is null in a record's first version)."""

    field: str
    label: str = Field(description="The field's name in the reader's language.")
    old: Any
    new: Any
    old_display: str = Field(description="The value before as a page shows it (a choice's label).")
    new_display: str = Field(description="The value after as a page shows it.")


class ChangeOut(Schema):
    """One version of a record: when, by whom, why, and which fields it changed."""

    id: int
    at: datetime
    kind: Literal["created", "changed", "deleted"]
    by_id: int | None
    by: str | None
    reason: str
    changes: list[FieldChangeOut]


class HistoryPage(Schema):
    """A page of a record's changes, newest first."""

    items: list[ChangeOut]
    next_cursor: str | None = None
