"""Date ranges, intervals and time buckets in the project's time zone.

Events are stored in UTC. Buckets (days, weeks, months) follow the project's
clock, daylight saving included. Converting every row with the engine's time
zone functions is slow, so the UTC offsets in force during the range are
worked out here, in Python, and the SQL adds the right offset per segment
with plain interval arithmetic, which every dialect spells for its engine.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlglot import exp

from magpie.capture.timestamps import parse_timestamp
from magpie.errors import InvalidInput
from magpie.query.dialects.base import Dialect
from magpie.query.errors import TooManyBuckets
from magpie.query.limits import MAX_BUCKETS

_RELATIVE = re.compile(r"^-(\d+)([hdwmqy])(Start)?$")
_START = re.compile(r"^(-\d+)?([dwmqy])Start$")
INTERVALS = ("hour", "day", "week", "month")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}", attr="timezone") from None


def truncate(at: datetime, interval: str, week_start: int = 0) -> datetime:
    """Start of the interval holding ``at`` (a local, naive time). Weeks start on
    Sunday (``week_start=0``) or Monday (1)."""
    if interval == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day
    if interval == "week":
        back = (day.weekday() + 1) % 7 if week_start == 0 else day.weekday()
        return day - timedelta(days=back)
    if interval == "month":
        return day.replace(day=1)
    if interval == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def step(at: datetime, interval: str, count: int = 1) -> datetime:
    if interval == "hour":
        return at + timedelta(hours=count)
    if interval == "day":
        return at + timedelta(days=count)
    if interval == "week":
        return at + timedelta(weeks=count)
    months = at.month - 1 + count * {"month": 1, "quarter": 3, "year": 12}[interval]
    return at.replace(year=at.year + months // 12, month=months % 12 + 1)


_UNIT = {"h": "hour", "d": "day", "w": "week", "m": "month", "q": "quarter", "y": "year"}


@dataclass(frozen=True)
class TimeWindow:
    """A query's range in local (naive) project time, with its buckets."""

    start: datetime
    end: datetime  # exclusive
    interval: str
    tz: ZoneInfo
    week_start: int = 0  # weeks start on Sunday (0) or Monday (1)

    def buckets(self) -> list[datetime]:
        """The buckets' starts, worked out once per window (callers must not change it)."""
        return self._buckets

    @functools.cached_property
    def _buckets(self) -> list[datetime]:
        if self.interval == "hour":
            return self._hours()
        out = []
        at = truncate(self.start, self.interval, self.week_start)
        while at < self.end:
            out.append(at)
            at = step(at, self.interval)
        return out

    def _hours(self) -> list[datetime]:
        """Local hours as the clock shows them: none for the hour skipped when clocks go
        forward, one for the hour lived twice when they go back."""
        out: list[datetime] = []
        at, end = truncate(self.utc_start, "hour"), self.utc_end
        while at < end:
            local = truncate(to_local(at, self.tz), "hour")
            if not out or out[-1] != local:
                out.append(local)
            at += timedelta(hours=1)
        return out

    @property
    def utc_start(self) -> datetime:
        return to_utc(self.start, self.tz)

    @property
    def utc_end(self) -> datetime:
        return to_utc(self.end, self.tz)

    def shifted_back(self) -> TimeWindow:
        """The same length of time just before this one (for comparisons)."""
        length = self.end - self.start
        return TimeWindow(self.start - length, self.start, self.interval, self.tz, self.week_start)


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def to_local(utc: datetime, tz: ZoneInfo) -> datetime:
    return utc.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)


_HAS_ZONE = re.compile(r"(Z|[+-]\d{2}(:?\d{2})?)$")


def parse_point(value: str, now_local: datetime, tz: ZoneInfo, *, is_end: bool) -> datetime:
    """A date-range bound: ``-7d``, ``-1mStart``, ``mStart``, ``yStart``, a date or a time.

    Dates and times without a zone are the project's local time; an end date
    covers that whole day."""
    raw = value.strip()
    start_only = _START.match(raw)
    if start_only:
        count = int(start_only.group(1) or 0)
        unit = _UNIT[start_only.group(2)]
        at = step(truncate(now_local, unit), unit, count) if count else truncate(now_local, unit)
        return at
    relative = _RELATIVE.match(raw)
    if relative:
        count, unit = -int(relative.group(1)), _UNIT[relative.group(2)]
        at = (
            step(now_local, unit, count)
            if unit not in ("hour", "day", "week")
            else (
                now_local
                + {
                    "hour": timedelta(hours=count),
                    "day": timedelta(days=count),
                    "week": timedelta(weeks=count),
                }[unit]
            )
        )
        return truncate(at, unit) if relative.group(3) else at
    parsed = parse_timestamp(raw)
    if parsed is None:
        raise InvalidInput(
            f"{raw!r} is not a date: use -7d, mStart, yStart, all or a date", attr="dateRange"
        )
    if "T" in raw and _HAS_ZONE.search(raw):
        return parsed.astimezone(tz).replace(tzinfo=None)
    local = parsed.replace(tzinfo=None)
    if len(raw) <= 10 and is_end:
        return local + timedelta(days=1)
    return local


def window(
    date_from: str | None,
    date_to: str | None,
    interval: str,
    tz: ZoneInfo,
    now: datetime,
    earliest: datetime | None = None,
    week_start: int = 0,
) -> TimeWindow:
    """The range a query covers. Relative starts snap to the start of their bucket
    (``-7d`` by day covers seven whole days and today so far), as insight tools do.

    A range must lie between the years 1000 and 9000, span at most 500 years and
    hold at most 50,000 buckets: wide enough for any real question, and narrow
    enough that comparing with the period before, bucketing and time-zone
    offsets stay inside the calendar and inside a second's work."""
    if interval not in INTERVALS:
        raise InvalidInput(f"interval must be one of {', '.join(INTERVALS)}", attr="interval")
    if earliest is not None:
        earliest = max(earliest, EARLIEST)
    try:
        found = _window(date_from, date_to, interval, tz, now, earliest, week_start)
    except (OverflowError, ValueError):
        # -99999999d, 9999-12-31T23:59-05:00 and the like: past the calendar's ends.
        raise InvalidInput(
            f"the date range must lie between the years {EARLIEST.year} and {LATEST.year}",
            attr="dateRange",
        ) from None
    check_size(found)
    return found


EARLIEST, LATEST = datetime(1000, 1, 1), datetime(9000, 1, 1)
MAX_SPAN = timedelta(days=500 * 366)


def check_size(found: TimeWindow) -> None:
    if found.start < EARLIEST or found.end > LATEST:
        raise InvalidInput(
            f"the date range must lie between the years {EARLIEST.year} and {LATEST.year}",
            attr="dateRange",
        )
    if found.end - found.start > MAX_SPAN:
        raise InvalidInput("a date range spans at most 500 years", attr="dateRange")
    count = bucket_count(found)
    if count > MAX_BUCKETS:
        raise TooManyBuckets(
            f"the date range holds {count:,} {found.interval}s and a query at most "
            f"{MAX_BUCKETS:,} (the bucket limit): choose a longer interval or a shorter range",
            attr="dateRange",
        )


def bucket_count(found: TimeWindow) -> int:
    """How many buckets the range holds, without listing them (give or take one)."""
    span = found.end - found.start
    if found.interval == "month":
        return (found.end.year - found.start.year) * 12 + found.end.month - found.start.month + 1
    size = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
    return span // size[found.interval] + 1


def _window(
    date_from: str | None,
    date_to: str | None,
    interval: str,
    tz: ZoneInfo,
    now: datetime,
    earliest: datetime | None,
    week_start: int,
) -> TimeWindow:
    now_local = to_local(
        now.replace(tzinfo=None)
        if now.tzinfo is None
        else now.astimezone(UTC).replace(tzinfo=None),
        tz,
    )
    if date_from in (None, "all"):
        start = (
            to_local(earliest, tz)
            if earliest and date_from == "all"
            else (now_local - timedelta(days=7))
        )
    else:
        start = parse_point(date_from, now_local, tz, is_end=False)
    start = truncate(start, interval, week_start)
    end = (
        parse_point(date_to, now_local, tz, is_end=True)
        if date_to
        else step(truncate(now_local, interval, week_start), interval)
    )
    if end <= start:
        raise InvalidInput("date_to must come after date_from", attr="dateRange")
    return TimeWindow(start, end, interval, tz, week_start)


def offsets(tz: ZoneInfo, utc_start: datetime, utc_end: datetime) -> list[tuple[datetime, int]]:
    """[(UTC instant from which it applies, offset in seconds)], covering the range."""

    def offset_at(at: datetime) -> int:
        delta = at.replace(tzinfo=UTC).astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta else 0

    segments = [(utc_start, offset_at(utc_start))]
    probe = utc_start
    while probe < utc_end:
        nxt = min(probe + timedelta(days=1), utc_end)
        if offset_at(nxt) != segments[-1][1]:
            low, high = probe, nxt  # find the changeover to the minute
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                if offset_at(mid) == segments[-1][1]:
                    low = mid
                else:
                    high = mid
            segments.append((high.replace(second=0, microsecond=0), offset_at(high)))
        probe = nxt
    return segments


def local_time(
    column: exp.Expr, tz: ZoneInfo, utc_start: datetime, utc_end: datetime, dialect: Dialect
) -> exp.Expr:
    """``column`` (UTC) moved to the project's clock, offset by offset."""

    def shifted(seconds: int) -> exp.Expr:
        if seconds == 0:
            return column.copy()
        return dialect.add_seconds(column.copy(), seconds)

    return by_offset(column, tz, utc_start, utc_end, dialect, shifted)


def by_offset(
    column: exp.Expr,
    tz: ZoneInfo,
    utc_start: datetime,
    utc_end: datetime,
    dialect: Dialect,
    value: Callable[[int], exp.Expr],
) -> exp.Expr:
    """``value(offset)`` for the UTC offset (in seconds) in force at ``column`` (UTC):
    one expression when the range has one offset, else a CASE on the changeovers
    (before the range, its first offset; after it, its last)."""
    segments = offsets(tz, utc_start, utc_end)
    if len(segments) == 1:
        return value(segments[0][1])
    case = exp.Case()
    for (_, seconds), (until, _) in zip(segments, segments[1:], strict=False):
        case = case.when(
            exp.LT(this=column.copy(), expression=dialect.timestamp(until)), value(seconds)
        )
    return case.else_(value(segments[-1][1]))


def bucket_expression(
    local: exp.Expr, interval: str, dialect: Dialect, week_start: int = 0
) -> exp.Expr:
    """Start of each row's bucket; weeks start on Sunday unless ``week_start`` is 1."""
    if interval == "week" and week_start == 0:
        # The Monday-based week of the next day, less that day.
        monday = dialect.truncate(dialect.add_seconds(local, _DAY), "week")
        return dialect.add_seconds(monday, -_DAY)
    return dialect.truncate(local, interval)


_DAY = 86_400


def utc_bound(at: datetime, dialect: Dialect) -> exp.Expr:
    return dialect.timestamp(at)


def label(at: datetime, interval: str) -> str:
    if interval == "hour":
        return f"{at.day}-{at:%b-%Y %H:%M}"
    return f"{at.day}-{at:%b-%Y}"


def day_text(at: datetime | date, interval: str) -> str:
    if interval == "hour" and isinstance(at, datetime):
        return at.isoformat(sep=" ")
    return at.strftime("%Y-%m-%d")
