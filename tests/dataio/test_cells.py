"""Reading single cells: dates in the formats people export, numbers with separators, yes/no, choices, countries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from patron.dataio.cells import (
    CellError,
    Choices,
    as_text,
    parse_amount,
    parse_bool,
    parse_country,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_int,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-14", dt.date(2025, 3, 14)),
        ("2025/03/14", dt.date(2025, 3, 14)),
        ("14.03.2025", dt.date(2025, 3, 14)),
        ("4.3.2025", dt.date(2025, 3, 4)),
        ("03/14/2025", dt.date(2025, 3, 14)),  # month first: 14 cannot be a month
        ("14/03/2025", dt.date(2025, 3, 14)),  # day first: 14 cannot be a month
        ("05/05/2025", dt.date(2025, 5, 5)),  # the same either way
        ("2025-03-14 10:30", dt.date(2025, 3, 14)),
        (dt.datetime(2025, 3, 14, 9, 0), dt.date(2025, 3, 14)),
    ],
)
def test_dates_in_every_accepted_format(text, expected):
    assert parse_date(text) == expected


def test_ambiguous_slash_date_is_refused_unless_the_order_is_given():
    with pytest.raises(CellError, match="day/month or month/day"):
        parse_date("03/04/2025")
    assert parse_date("03/04/2025", "mdy") == dt.date(2025, 3, 4)
    assert parse_date("03/04/2025", "dmy") == dt.date(2025, 4, 3)


@pytest.mark.parametrize("text", ["31.02.2025", "2025-13-01", "32/01/2025", "tomorrow", "2025-3", "14/13/2025"])
def test_impossible_dates_are_errors(text):
    with pytest.raises(CellError):
        parse_date(text)


def test_date_times_keep_their_zone_and_local_ones_get_the_current_zone():
    assert parse_datetime("2025-03-14T10:30:00Z") == dt.datetime(2025, 3, 14, 10, 30, tzinfo=dt.UTC)
    assert parse_datetime("14.03.2025 10:30") == timezone.make_aware(dt.datetime(2025, 3, 14, 10, 30))
    assert parse_datetime("3/14/2025 9:05 PM") == timezone.make_aware(dt.datetime(2025, 3, 14, 21, 5))
    assert parse_datetime("2025-03-14") == timezone.make_aware(dt.datetime(2025, 3, 14))
    assert parse_datetime("14.03.2025 10:30 +02:00").utcoffset() == dt.timedelta(hours=2)
    with pytest.raises(CellError):
        parse_datetime("14.03.2025 25:00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.5", Decimal("1234.5")),
        ("1,234.50", Decimal("1234.50")),
        ("1.234,50", Decimal("1234.50")),
        ("1 234,50", Decimal("1234.50")),
        ("12,5", Decimal("12.5")),
        ("€ 99", Decimal(99)),
        ("USD 12,000.00", Decimal("12000.00")),
        ("1200 zł", Decimal(1200)),
        ("(250.00)", Decimal("-250.00")),
        (0.1 + 0.2, Decimal("0.30000000000000004")),
        (7, Decimal(7)),
    ],
)
def test_numbers_with_separators_and_currency_signs(text, expected):
    assert parse_decimal(text) == expected


@pytest.mark.parametrize("text", ["12a", "abc", "1.2.3", "1e5", "NaN", "--5"])
def test_text_is_not_a_number(text):
    with pytest.raises(CellError, match="not a number"):
        parse_decimal(text)


def test_amounts_round_to_their_places_and_must_fit():
    assert parse_amount(0.1 + 0.2, digits=14, places=2) == Decimal("0.30")
    with pytest.raises(CellError, match="too large"):
        parse_amount("123456789012345", digits=14, places=2)
    assert parse_int("7.00") == 7
    with pytest.raises(CellError, match="whole number"):
        parse_int("7.5")


def test_yes_and_no_in_several_languages():
    assert [parse_bool(v) for v in ("yes", "TRUE", "1", "x", "tak", "да")] == [True] * 6
    assert [parse_bool(v) for v in ("no", "false", "0", "nie", "нет")] == [False] * 5
    with pytest.raises(CellError):
        parse_bool("maybe")


def test_choices_match_values_and_labels_loosely():
    stages = Choices([("won", "Closed won"), ("lost", "Closed lost")], {"Closed/Won": "won"})
    assert stages("won") == stages("Closed Won") == stages("closed_won") == stages("CLOSED/WON") == "won"
    with pytest.raises(CellError, match="not one of: won, lost"):
        stages("pending")


def test_countries_by_code_name_and_local_name():
    assert parse_country("de") == "DE"
    assert parse_country("Germany") == parse_country("Deutschland") == "DE"
    assert parse_country("United States of America") == parse_country("USA") == "US"
    assert parse_country("UK") == "GB"
    assert parse_country("Polska") == "PL"
    with pytest.raises(CellError, match="not a country"):
        parse_country("Atlantis")


def test_spreadsheet_numbers_read_as_text_lose_their_decimal_point():
    assert as_text(9817263544.0) == "9817263544"
    assert as_text("  spaced  ") == "spaced"
    assert as_text(None) == ""
