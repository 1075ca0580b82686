"""period_index on both engines: hours, days and weeks counted by integer arithmetic
give the period the calendar's truncation gives, and the one worked out in Python.

The events sit on either side (one microsecond apart) of local midnights, of local
hours around clock changes, and of the changes themselves, in zones with daylight
saving (New York; Lord Howe, which moves by half an hour), a half-hour offset
(Kolkata) and a 45-minute one with daylight saving (Chatham); others lie long
before and after the window, where the window's first or last offset applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlglot import exp

from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow, offsets, to_local, to_utc
from magpie.query.filters import field
from magpie.query.periods import calendar_period_index, first_period, period_index
from tests.golden.conftest import Engines, engines_over
from tests.harness import Ingest

ZONES = ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"]
# Local (naive) window: US clocks go forward on 8 March 2026, Lord Howe's and
# Chatham's go back on 5 April.
START, END = datetime(2026, 3, 1), datetime(2026, 4, 12)
TICK = timedelta(microseconds=1)
# Outside the window (and inside ClickHouse's DateTime64 range, 1900 to 2299).
FAR = [datetime(1900, 1, 2, 3, 4, 5), datetime(2025, 12, 31, 23, 59, 59), datetime(2299, 12, 30)]


def instants() -> list[datetime]:
    """UTC instants (naive) next to every boundary the periods could get wrong."""
    found: set[datetime] = set(FAR)
    for name in ZONES:
        tz = ZoneInfo(name)
        day = START - timedelta(days=2)
        while day < END + timedelta(days=2):
            found.add(to_utc(day, tz))
            day += timedelta(days=1)
        changes = [at for at, _ in offsets(tz, to_utc(START, tz), to_utc(END, tz))[1:]]
        for change in changes:
            # Every hour of the day around a change, and the change itself.
            for hours in range(-14, 15):
                found.add(change + timedelta(hours=hours))
    return sorted({at + delta for at in found for delta in (-TICK, timedelta(0), TICK)})


def fill(ingest: Ingest) -> None:
    events = []
    for at in instants():
        event = ingest.event("tick", "someone")
        event["timestamp"] = at.replace(tzinfo=UTC).isoformat()
        events.append(event)
    ingest.clock = max(instants()).replace(tzinfo=UTC)
    ingest.send(*events)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


def expected(at: datetime, window: TimeWindow, length: timedelta) -> int:
    """The period in Python: whole lengths of wall-clock time from the first period's
    start, at the offset in force (the window's first or last one outside it)."""
    segments = offsets(window.tz, window.utc_start, window.utc_end)
    offset = segments[0][1]
    for since, seconds in segments:
        if at >= since:
            offset = seconds
    local = at + timedelta(seconds=offset)
    if window.utc_start <= at < window.utc_end:
        assert local == to_local(at, window.tz)
    return (local - first_period(window)) // length


LENGTHS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
@pytest.mark.parametrize("name", ZONES)
def test_periods_by_arithmetic_match_truncation(engines: Engines, engine: str, name: str) -> None:
    runner = engines.runners[engine]
    project = engines.ingest.magpie.projects.get(engines.ingest.project_id)
    assert project is not None
    context = QueryContext(project, runner, datetime(2026, 4, 12, tzinfo=UTC))
    windows = [
        TimeWindow(START, END, interval, ZoneInfo(name), week_start)
        for interval in LENGTHS
        for week_start in ((0, 1) if interval == "week" else (0,))
    ]
    columns: list[exp.Expr] = [field("timestamp")]
    for index, window in enumerate(windows):
        column = field("timestamp")
        columns.append(exp.alias_(period_index(column, window, runner.dialect), f"fast_{index}"))
        slow = calendar_period_index(column, window, runner.dialect)
        columns.append(exp.alias_(slow, f"slow_{index}"))
    tree = exp.select(*columns).from_("events").order_by("timestamp")
    rows = context.run(context.compile(tree))
    assert len(rows) == len(instants())
    for row in rows:
        at = row[0].replace(tzinfo=None) if row[0].tzinfo is None else _naive_utc(row[0])
        for index, window in enumerate(windows):
            fast, slow = row[1 + 2 * index], row[2 + 2 * index]
            want = expected(at, window, LENGTHS[window.interval])
            assert (fast, slow) == (want, want), (at, window.interval, window.week_start)


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


# Capture keeps instants of the years 1 to 9999, which DuckDB stores as they are
# (ClickHouse's DateTime64 starts in 1900): the arithmetic neither overflows nor
# rounds the wrong way at either end.
EXTREMES = [
    datetime(1, 1, 1, 12) - TICK,
    datetime(1, 1, 1, 12),
    datetime(9999, 12, 31, 12) - TICK,
    datetime(9999, 12, 31, 12),
]


@pytest.mark.parametrize("interval", list(LENGTHS))
def test_periods_at_the_ends_of_the_calendar(engines: Engines, interval: str) -> None:
    runner = engines.runners["duckdb"]
    project = engines.ingest.magpie.projects.get(engines.ingest.project_id)
    assert project is not None
    context = QueryContext(project, runner, datetime(2026, 4, 12, tzinfo=UTC))
    window = TimeWindow(START, END, interval, ZoneInfo("America/New_York"))
    dialect = runner.dialect
    columns = [period_index(dialect.timestamp(at), window, dialect) for at in EXTREMES]
    columns += [calendar_period_index(dialect.timestamp(at), window, dialect) for at in EXTREMES]
    named = [exp.alias_(column, f"p{index}") for index, column in enumerate(columns)]
    [row] = context.run(context.compile(exp.select(*named)))
    want = [expected(at, window, LENGTHS[interval]) for at in EXTREMES]
    assert list(row) == want + want
