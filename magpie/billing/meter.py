"""The usage meter: a project's billable events in a calendar month (UTC), by class.

An event is identified when it was ingested with a person profile (person_mode
``full`` or ``force_upgrade``) and anonymous otherwise; the class is fixed at
ingestion, so events sent before an ``identify`` stay anonymous. Counts come
from counters written in the same transaction as the events (see
docs/billing.md), so reading a month costs the same at any volume.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime

from magpie.errors import InvalidInput
from magpie.store.model import UsageRow

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)


@dataclass(frozen=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise InvalidInput(f"period must look like 2026-01, not {text[:40]!r}", attr="period")
        year, month = int(match.group(1)), int(match.group(2))
        # A period ends where the next month starts, so that month must exist too.
        if year < MINYEAR or (year, month) >= (MAXYEAR, 12):
            raise InvalidInput(
                f"period must be a month from {MINYEAR:04d}-01 to {MAXYEAR}-11", attr="period"
            )
        return cls(year, month)

    @classmethod
    def containing(cls, at: datetime) -> Period:
        utc = at.astimezone(UTC) if at.tzinfo else at
        return cls(utc.year, utc.month)

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass
class Usage:
    period: Period
    anonymous: int = 0
    identified: int = 0
    excluded: int = 0
    dropped: int = 0
    by_day: dict[date, dict[str, int]] = field(default_factory=dict)
    by_lib: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    excluded_by_event: dict[str, int] = field(default_factory=dict)

    @property
    def billable(self) -> int:
        return self.anonymous + self.identified


def tally(period: Period, rows: list[UsageRow], dropped: int) -> Usage:
    usage = Usage(period, dropped=dropped)
    by_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_lib: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    excluded: dict[str, int] = defaultdict(int)
    for row in rows:
        by_day[row.day][row.event_class] += row.events
        by_lib[(row.lib, row.lib_version)][row.event_class] += row.events
        if row.event_class == "anonymous":
            usage.anonymous += row.events
        elif row.event_class == "identified":
            usage.identified += row.events
        else:
            usage.excluded += row.events
            excluded[row.excluded_event] += row.events
    usage.by_day = {d: dict(v) for d, v in sorted(by_day.items())}
    usage.by_lib = {k: dict(v) for k, v in by_lib.items()}
    usage.excluded_by_event = dict(excluded)
    return usage


def projected(usage: Usage, now: datetime) -> tuple[int, int]:
    """(anonymous, identified) at month end, extrapolating the month so far linearly."""
    current = Period.containing(now)
    if (usage.period.year, usage.period.month) != (current.year, current.month):
        return usage.anonymous, usage.identified
    start = datetime(usage.period.year, usage.period.month, 1, tzinfo=UTC)
    elapsed_days = max((now.astimezone(UTC) - start).total_seconds() / 86400, 1 / 24)
    factor = usage.period.days / elapsed_days
    return round(usage.anonymous * factor), round(usage.identified * factor)
