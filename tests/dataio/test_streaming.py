"""A big file streams: memory stays flat as the file grows, and keys repeated far apart are still found."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from django.db import transaction

from patron.customers.models import Contact
from patron.dataio import services
from patron.dataio.services import SeenKeys
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def contacts_file(rows: int) -> bytes:
    lines = ["external_id,account,first_name,last_name,email,phone,title"]
    lines += [f"C-{i:07d},ACC-{i % 7},Anna,Nowak,anna.nowak.{i}@example.com,+48 600 {i:06d},CFO" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def peak_while_importing(user, data: bytes) -> int:
    tracemalloc.start()
    try:
        with transaction.atomic():
            services.import_file(user, "contacts", io.BytesIO(data), file_name="big.csv")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        Contact.objects.all().delete()


def test_peak_memory_does_not_grow_with_the_file(admin_user, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_ROWS", 500)
    for i in range(7):
        AccountFactory(external_id=f"ACC-{i}", owner=admin_user)
    small, big = contacts_file(2_000), contacts_file(10_000)
    peak_while_importing(admin_user, small)  # warm caches (translations, regexes, query compilers)
    small_peak = peak_while_importing(admin_user, small)
    big_peak = peak_while_importing(admin_user, big)
    # Five times the rows, and the peak hardly moves: a chunk's worth of rows either way, plus 12 bytes a key for
    # spotting repeats. Holding the file as Python rows would take well over 1,000 bytes a row.
    per_row = (big_peak - small_peak) / 8_000
    assert per_row < 150, (small_peak, big_peak)


def test_seen_keys_find_repeats_across_many_batches():
    seen = SeenKeys()
    for batch in range(40):
        values = [f"K-{batch * 100 + i}" for i in range(100)]
        assert seen.add(values, [batch * 100 + i + 2 for i in range(100)]) == [None] * 100
    assert len(seen.runs) < 8  # merged as they grow, so a lookup searches only a few sorted runs
    again = seen.add(["K-5", "new", "K-3999", "new"], [9001, 9002, 9003, 9004])
    assert again == [7, None, 4001, 9002]
