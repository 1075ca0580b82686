"""Time spans of cohort definitions: ``time_value`` × ``time_interval`` back from now.

Windows that end now are counted in calendar units (a month back from 31 March
is 28 or 29 February), as PostHog's ``now() - INTERVAL n MONTH`` does. The gap
between two events of a sequence has no calendar of its own, so it is a fixed
length: a month is 30 days, a year 365.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from magpie.errors import InvalidInput

_FIXED = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
_MONTHS = {"month": 1, "year": 12}
# Windows reaching further back start here: no engine stores events before it.
EARLIEST = datetime(1970, 1, 1)


def back(now: datetime, value: int, interval: str) -> datetime:
    """``value`` intervals before ``now``."""
    if interval not in _FIXED:
        raise InvalidInput(f"unknown time_interval {interval!r}", attr="time_interval")
    if interval not in _MONTHS:
        try:
            return max(now - value * _FIXED[interval], EARLIEST)
        except OverflowError:
            return EARLIEST
    months = now.year * 12 + now.month - 1 - value * _MONTHS[interval]
    year, month = divmod(months, 12)
    if year < EARLIEST.year:
        return EARLIEST
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day)


def length_seconds(value: int, interval: str) -> int:
    if interval not in _FIXED:
        raise InvalidInput(f"unknown time_interval {interval!r}", attr="time_interval")
    return int((value * _FIXED[interval]).total_seconds())
