"""Who did something, and in which period: what retention, lifecycle and
stickiness count.

An actor is the event's person (a personless event stands for its distinct
id, so anonymous traffic counts one actor per visitor) or, when a query
aggregates by group, the event's group of that type. A period is an integer:
the number of whole periods between the window's first period and the one
the event falls in, on the project's clock (days change at local midnight,
daylight saving included). Period ``k`` starts at ``period_start(window, k)``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlglot import exp

from magpie.query.dates import (
    TimeWindow,
    bucket_expression,
    by_offset,
    local_time,
    step,
    truncate,
)
from magpie.query.dialects.base import Dialect, EpochMicros
from magpie.query.filters import field, valid_group_index

# period → (the unit its buckets are counted in, how many of them make one)
_UNITS: dict[str, tuple[str, int]] = {
    "hour": ("HOUR", 1),
    "day": ("DAY", 1),
    "week": ("DAY", 7),
    "month": ("MONTH", 1),
}


def actor(group_type_index: int | None = None) -> exp.Expr:
    if group_type_index is None:
        return field("person_id")
    index = valid_group_index(
        group_type_index,
        "aggregation_group_type_index must be 0-4",
        "aggregation_group_type_index",
    )
    return field(f"$group_{index}")


def actor_condition(group_type_index: int | None = None) -> exp.Expr | None:
    """Events an actor of this kind did: with groups, only those in a group of the type."""
    if group_type_index is None:
        return None
    key = actor(group_type_index)
    return exp.NEQ(
        this=exp.func("coalesce", key, exp.Literal.string("")), expression=exp.Literal.string("")
    )


def first_period(window: TimeWindow) -> datetime:
    return truncate(window.start, window.interval, window.week_start)


def period_start(window: TimeWindow, index: int) -> datetime:
    """Local (naive) start of period ``index`` of the window."""
    return step(first_period(window), window.interval, index)


def period_count(window: TimeWindow) -> int:
    count, at = 0, first_period(window)
    while at < window.end:
        count, at = count + 1, step(at, window.interval)
    return count


def period_index(column: exp.Expr, window: TimeWindow, dialect: Dialect) -> exp.Expr:
    """The period ``column`` (a UTC instant) falls in, counted from the window's first."""
    length = _FIXED_LENGTHS.get(window.interval)
    if length is not None:
        return _fixed_period_index(column, window, dialect, length)
    return calendar_period_index(column, window, dialect)


def calendar_period_index(column: exp.Expr, window: TimeWindow, dialect: Dialect) -> exp.Expr:
    """The period by the calendar: the row's local time truncated to its period, and
    the periods from the first to that. Months need it; for the others it gives
    what ``period_index`` gives, at a higher cost per row."""
    local = local_time(column, window.tz, window.utc_start, window.utc_end, dialect)
    bucket = bucket_expression(local, window.interval, dialect, window.week_start)
    unit, size = _UNITS[window.interval]
    diff: exp.Expr = exp.DateDiff(
        this=bucket, expression=dialect.timestamp(first_period(window)), unit=exp.var(unit)
    )
    if size != 1:
        # Buckets are whole weeks apart: the division is exact.
        diff = exp.Floor(this=exp.Div(this=diff, expression=exp.Literal.number(size)))
    return exp.cast(diff, exp.DataType.build("BIGINT"))


# Periods that last as long on the local clock whatever the date, in microseconds:
# the clock's wall time is the UTC instant plus the offset in force, so the
# period is the whole number of lengths from the first period's start to it.
# (Months differ in length: they take the calendar's truncation above.)
_FIXED_LENGTHS = {"hour": 3_600_000_000, "day": 86_400_000_000, "week": 604_800_000_000}
# Added to every dividend (rounded up to whole periods) to keep it positive, so that
# integer division, which truncates on both engines, rounds down: instants lie in
# the years 1 to 9999 (capture refuses others) and windows in 1000 to 9000, so a
# dividend never falls below -3e17 µs, and once shifted none rises above 1.3e18,
# far inside 64 bits (9.2e18).
_POSITIVE = 10**18


def _fixed_period_index(
    column: exp.Expr, window: TimeWindow, dialect: Dialect, length: int
) -> exp.Expr:
    """The same period as the truncation would give, by integer arithmetic on the
    instant's microseconds: per row one addition (of a constant, or a CASE of them
    when the offset changes in the window), one division and one subtraction, where
    truncating a shifted timestamp and counting the days to it cost several times that."""
    origin = _micros(first_period(window))  # local wall time, read as if on UTC
    ahead = -(-_POSITIVE // length)  # whole periods in the shift

    def constant(offset: int) -> exp.Expr:
        return exp.Literal.number(offset * 1_000_000 - origin + ahead * length)

    shift = by_offset(column, window.tz, window.utc_start, window.utc_end, dialect, constant)
    micros = exp.Add(this=EpochMicros(this=column.copy()), expression=shift)
    lengths = exp.IntDiv(this=exp.Paren(this=micros), expression=exp.Literal.number(length))
    index = exp.Sub(this=lengths, expression=exp.Literal.number(ahead))
    return exp.cast(index, exp.DataType.build("BIGINT"))


def _micros(at: datetime) -> int:
    """Microseconds from 1970 to ``at`` (naive), on a clock without offsets."""
    return (at - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1)


# Active periods as the bits of one BIGINT (period p is bit p), so that one row per
# actor says when it was active: up to this many periods, leaving the sign bit
# alone and room to double the mask (bit p - 1 of ``m`` is bit p of ``m * 2``).
MASK_PERIODS = 61


def period_bit(period: exp.Expr) -> exp.Expr:
    """The mask of one period: 1 shifted left by it."""
    one = exp.cast(exp.Literal.number(1), exp.DataType.build("BIGINT"))
    return exp.BitwiseLeftShift(this=one, expression=period)


def has_bit(mask: exp.Expr, index: exp.Expr) -> exp.Expr:
    """Whether bit ``index`` of ``mask`` is set (a bitwise and, which DuckDB does
    faster than the remainder by 2; ClickHouse's dialect spells it ``bitAnd``)."""
    shifted = exp.Paren(this=exp.BitwiseRightShift(this=mask, expression=index))
    lowest = exp.Paren(this=exp.BitwiseAnd(this=shifted, expression=exp.Literal.number(1)))
    return exp.EQ(this=lowest, expression=exp.Literal.number(1))


def with_period_numbers(tree: exp.Query, count: int) -> exp.Query:
    """``tree`` with a CTE ``periods`` holding the numbers 0 … count - 1 as ``n``."""
    numbers = [exp.select(exp.alias_(exp.Literal.number(n), "n")) for n in range(count)]
    table: exp.Query = numbers[0]
    for number in numbers[1:]:
        table = exp.union(table, number, distinct=False)
    assert isinstance(tree, exp.Select)
    return tree.with_("periods", as_=table)
