"""PostgreSQL timestamps read through psycopg's C loader (core.db) come back as Django's own loader gives them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from psycopg.pq import Format

from patron.core.db import TIMESTAMPTZ, ZonedTimestampLoader
from patron.engagement.models import Interaction
from tests.factories import AccountFactory, InteractionFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a psycopg loader, PostgreSQL's only"),
]


def test_connections_read_timestamps_with_the_fast_loader_in_the_connections_time_zone():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
    assert issubclass(loader, ZonedTimestampLoader) and loader.timezone == connection.timezone

    with connection.cursor() as cursor:
        cursor.execute("SELECT '2025-03-14 10:30:05.123456+02'::timestamptz, NULL::timestamptz")
        at, nothing = cursor.fetchone()

    assert at == datetime(2025, 3, 14, 8, 30, 5, 123456, tzinfo=UTC) and at.tzinfo is connection.timezone
    assert nothing is None


def test_stored_times_come_back_as_they_were_written(admin_user):
    when = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))
    interaction = InteractionFactory(account=AccountFactory(owner=admin_user), occurred_at=when)

    stored = Interaction.objects.get(pk=interaction.pk)

    assert stored.occurred_at == when and stored.occurred_at.utcoffset() == timedelta(0)
    assert stored.created_at == interaction.created_at
