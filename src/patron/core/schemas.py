"""API shapes shared by every app: who is signed in, their API tokens, and list filters that map to lookups.

A list's filters are a :class:`ninja.FilterSchema`; a filter whose name is not the lookup it stands for says so
with :func:`lookup`, for example ``ordered_from: Annotated[date | None, lookup("ordered_at__gte")] = None``.
The CRUD routes turn the filters into one ``Q`` for :meth:`patron.core.services.Records.list` and the CSV export.
"""

from datetime import datetime
from typing import Annotated

from django.utils import timezone
from ninja import FilterLookup, Schema
from pydantic import AfterValidator, Field

from patron.core.models import JobFunction, Role


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
