"""Bulgarian date and time formats that Django's ``bg`` locale leaves to its US-English defaults.

Without them a Bulgarian page shows date-times as "ное. 23, 2026, 2:55 след обяд", a week starting on
Sunday, and date fields that accept "11/23/2026" but reject "23.11.2026". Bulgarian writes day.month.year
with a 24-hour clock, and the week starts on Monday (БДС ISO 8601).
"""

DATETIME_FORMAT = "d F Y H:i"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
YEAR_MONTH_FORMAT = "F Y"
FIRST_DAY_OF_WEEK = 1  # Monday
DATE_INPUT_FORMATS = [
    "%d.%m.%Y",  # '25.10.2006'
    "%d.%m.%y",  # '25.10.06'
    "%Y-%m-%d",  # '2006-10-25'
]
DATETIME_INPUT_FORMATS = [
    "%d.%m.%Y %H:%M:%S",  # '25.10.2006 14:30:59'
    "%d.%m.%Y %H:%M:%S.%f",  # '25.10.2006 14:30:59.000200'
    "%d.%m.%Y %H:%M",  # '25.10.2006 14:30'
    "%d.%m.%y %H:%M",  # '25.10.06 14:30'
    "%Y-%m-%d %H:%M:%S",  # '2006-10-25 14:30:59'
    "%Y-%m-%d %H:%M",  # '2006-10-25 14:30'
]
