"""A big file streams: memory stays flat as the file grows, and keys repeated far apart are still found."""

from __future__ import annotations

import gc
import io
import tracemalloc

import pytest
from django.db import transaction
from django.utils import translation

from patron.customers.models import Contact
from patron.dataio import services
from patron.dataio.services import SeenKeys, value_set_sql
from patron.errors import Invalid
from tests.dataio.conftest import run_import
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


def test_seen_keys_go_on_after_a_batch_that_only_repeats_earlier_keys():
    seen = SeenKeys()
    assert seen.add(["A", "B"], [2, 3]) == [None, None]
    assert seen.add(["B", "A", "A"], [4, 5, 6]) == [3, 2, 5]  # nothing new to remember from this batch
    assert seen.add(["C", "B"], [7, 8]) == [None, 3]


def test_an_import_leaves_the_garbage_collector_as_it_found_it(admin_user):
    AccountFactory(external_id="ACC-1", owner=admin_user)
    before = gc.get_threshold()
    assert not isinstance(
        run_import(admin_user, "contacts", "external_id,account,email\nC-1,ACC-1,a@example.com\n"), Exception
    )
    failed = run_import(admin_user, "contacts", "external_id,account,email\nC-2,ACC-9,b@example.com\n")
    assert isinstance(failed, Invalid)
    assert gc.get_threshold() == before


def test_cells_read_in_the_reading_thread_are_reported_in_the_callers_language(admin_user):
    AccountFactory(external_id="ACC-1", owner=admin_user)
    with translation.override("pl"):
        result = run_import(admin_user, "contacts", "external_id,account,email\nC-1,ACC-1,\nC-2,,c@example.com\n")
        expected = translation.gettext("This cell is empty; it is required.")
    assert isinstance(result, Invalid)
    assert [(e["row"], e["column"], e["message"]) for e in result.details] == [(3, "account", expected)]


def test_keys_holding_the_separator_of_key_sets_are_still_matched(admin_user):
    AccountFactory(external_id="ACC-1", owner=admin_user)
    key = "C-\x1f-1"
    assert value_set_sql([key, "C-2"], "varchar")[1] == [key, "C-2"]  # sent as an array instead
    assert value_set_sql(["C-1", "C-2"], "varchar")[1] == "C-1\x1fC-2"
    content = f"external_id,account,first_name\n{key},ACC-1,Anna\n"
    assert run_import(admin_user, "contacts", content).created == 1
    again = run_import(admin_user, "contacts", content.replace("Anna", "Ania"))
    assert (again.created, again.updated) == (0, 1)
    assert Contact.objects.get(external_id=key).first_name == "Ania"
