"""Reading one cell of an imported file as a Python value: text, numbers, yes/no, dates, choices and countries.

Every parser takes what a CSV gives (a string) or what an XLSX gives (a string, number, date or None) and
either returns the value or raises :class:`CellError` with a sentence saying what is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime as django_parse_datetime
from django.utils.translation import gettext as _

from patron.dataio.countries import country_code

DATE_ORDERS = ("dmy", "mdy")
DATE_HINT = "YYYY-MM-DD, DD.MM.YYYY, MM/DD/YYYY"


class CellError(ValueError):
    """A cell whose value cannot be used; the message says why and ends up in the row error."""


_NOT_ALNUM = re.compile(r"[\W_]+")


def normal(text: str) -> str:
    """Return ``text`` folded for loose matching: lower case, letters and digits only ("Closed Won" -> "closedwon")."""
    return _NOT_ALNUM.sub("", text.casefold())


def as_text(value: Any) -> str:
    """Return a cell as stripped text; whole numbers from spreadsheets lose their ".0" (ids, phone numbers)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


# Numbers

_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_GROUPED_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+")
_CURRENCY = r"(?:[A-Z]{3}|[$€£¥₽₹]|zł|kr|лв\.?|руб\.?)"
_CURRENCY_NOISE = re.compile(rf"^{_CURRENCY}|{_CURRENCY}$")


def parse_decimal(value: Any) -> Decimal:
    """Return a number written as 1234.5, 1,234.50, 1.234,50, "1 234,50", "€ 99" or "USD 12,000.00"."""
    if isinstance(value, bool):
        raise CellError(_("“%(value)s” is not a number.") % {"value": value})
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = as_text(value)
    if _PLAIN_NUMBER.fullmatch(text):
        return Decimal(text)
    cleaned = _CURRENCY_NOISE.sub(
        "", text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "")
    )
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()")
    if "," in cleaned and "." in cleaned:
        if cleaned.rfind(",") > cleaned.rfind("."):
            cleaned = cleaned.replace(".", "").replace(",", ".")
        else:
            cleaned = cleaned.replace(",", "")
    elif "," in cleaned:
        cleaned = cleaned.replace(",", "") if _GROUPED_THOUSANDS.fullmatch(cleaned) else cleaned.replace(",", ".")
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        raise CellError(_("“%(value)s” is not a number.") % {"value": text})
    number = Decimal(cleaned)
    return -number if negative else number


def parse_amount(value: Any, *, digits: int, places: int) -> Decimal:
    """Return a decimal rounded to ``places`` that fits ``digits`` digits in all."""
    number = parse_decimal(value)
    try:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise CellError(_("“%(value)s” is too large.") % {"value": as_text(value)}) from None
    if len(number.as_tuple().digits) > digits:
        raise CellError(_("“%(value)s” is too large.") % {"value": as_text(value)})
    return number


def parse_int(value: Any) -> int:
    """Return a whole number; "7", 7.0 and "7.00" are 7, "7.5" is an error."""
    number = parse_decimal(value)
    if number != number.to_integral_value():
        raise CellError(_("“%(value)s” is not a whole number.") % {"value": as_text(value)})
    return int(number)


# Yes and no

_TRUE = {"1", "true", "yes", "y", "t", "x", "on", "ja", "tak", "да", "是", "wahr", "oui", "si", "sí"}
_FALSE = {"0", "false", "no", "n", "f", "off", "nein", "nie", "не", "нет", "否", "falsch", "non", "-"}


def parse_bool(value: Any) -> bool:
    """Return yes/no written as true/false, yes/no, 1/0, x, or the same words in the languages Patron speaks."""
    if isinstance(value, bool):
        return value
    text = as_text(value).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(_("“%(value)s” is not yes or no (use true/false, yes/no or 1/0).") % {"value": as_text(value)})


# Dates

_ISO_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_DOT_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_TIME = re.compile(
    r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?\s*([AaPp][Mm])?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?", re.ASCII
)


def _date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise CellError(_("“%(value)s” is not a real date.") % {"value": text}) from None


def parse_date(value: Any, order: str | None = None) -> dt.date:
    """Return a date written as ISO, DD.MM.YYYY, or with slashes when the order is clear (or given as ``order``)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = as_text(value)
    head = text.split(" ", 1)[0].split("T", 1)[0] if len(text) > 10 else text
    if match := _ISO_DATE.fullmatch(head):
        y, m, d = (int(g) for g in match.groups())
        return _date(y, m, d, text)
    if match := _DOT_DATE.fullmatch(head):
        d, m, y = (int(g) for g in match.groups())
        return _date(y, m, d, text)
    if match := _SLASH_DATE.fullmatch(head):
        a, b, y = (int(g) for g in match.groups())
        if a > 12 and b > 12:
            raise CellError(_("“%(value)s” is not a real date.") % {"value": text})
        if order == "mdy" or (order is None and (b > 12 or a == b) and a <= 12):
            return _date(y, a, b, text)
        if order == "dmy" or (order is None and a > 12 >= b):
            return _date(y, b, a, text)
        raise CellError(
            _("“%(value)s” could be day/month or month/day; write it as YYYY-MM-DD or choose the date order.")
            % {"value": text}
        )
    raise CellError(_("“%(value)s” is not a date (use %(formats)s).") % {"value": text, "formats": DATE_HINT})


def parse_datetime(value: Any, order: str | None = None) -> dt.datetime:
    """Return an aware date and time; a date alone is midnight, and times without a zone are local time."""
    moment: dt.datetime | None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        text = as_text(value)
        try:
            moment = django_parse_datetime(text)
        except ValueError:
            raise CellError(_("“%(value)s” is not a real date and time.") % {"value": text}) from None
        if moment is None:
            moment = _parse_loose_datetime(text, order)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _parse_loose_datetime(text: str, order: str | None) -> dt.datetime:
    date_part, _sep, time_part = text.replace("T", " ", 1).partition(" ")
    day = parse_date(date_part, order)
    if not time_part.strip():
        return dt.datetime.combine(day, dt.time())
    match = _TIME.fullmatch(time_part.strip())
    if not match:
        raise CellError(_("“%(value)s” is not a date and time (use YYYY-MM-DD HH:MM).") % {"value": text})
    hour, minute = int(match[1]), int(match[2])
    second = int(match[3] or 0)
    micro = int((match[4] or "0").ljust(6, "0"))
    if match[5]:
        if not 1 <= hour <= 12:
            raise CellError(_("“%(value)s” is not a real time.") % {"value": text})
        hour = hour % 12 + (12 if match[5].lower() == "pm" else 0)
    try:
        moment = dt.datetime.combine(day, dt.time(hour, minute, second, micro))
    except ValueError:
        raise CellError(_("“%(value)s” is not a real time.") % {"value": text}) from None
    zone = match[6]
    if zone:
        if zone in ("Z", "UTC", "GMT"):
            return moment.replace(tzinfo=dt.UTC)
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment.replace(tzinfo=dt.timezone(sign * offset))
    return moment


# Choices and countries


class Choices:
    """Reads a choice by its stored value or its label, loosely ("Closed Won", "closedwon", "closed_won")."""

    def __init__(self, choices: Iterable[tuple[Any, Any]], extra: dict[str, str] | None = None):
        self.values = [str(value) for value, _label in choices]
        self.exact = frozenset(self.values)
        self.lookup: dict[str, str] = {}
        for value, label in choices:
            self.lookup.setdefault(normal(str(label)), str(value))
        for value in self.values:
            self.lookup[normal(value)] = value
        for word, value in (extra or {}).items():
            self.lookup[normal(word)] = value

    def __call__(self, value: Any) -> str:
        """Return the stored value the cell names."""
        text = as_text(value)
        if text in self.exact:
            return text
        found = self.lookup.get(normal(text))
        if found is None:
            raise CellError(
                _("“%(value)s” is not one of: %(choices)s.") % {"value": text, "choices": ", ".join(self.values)}
            )
        return found


def parse_country(value: Any) -> str:
    """Return the two-letter code of a country given by code or name."""
    text = as_text(value)
    code = country_code(text)
    if code is None:
        raise CellError(_("“%(value)s” is not a country Patron knows; use its two-letter ISO code.") % {"value": text})
    return code


def parse_currency(value: Any) -> str:
    """Return a three-letter currency code in capitals."""
    text = as_text(value).upper()
    if len(text) != 3 or not text.isalpha():
        raise CellError(_("“%(value)s” is not a three-letter currency code such as EUR.") % {"value": text})
    return text
