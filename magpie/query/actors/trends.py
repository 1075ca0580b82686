"""The actors behind a trend's point: one series, one bucket, one breakdown value."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.actors.actor_set import ActorSet, actor_set
from magpie.query.actors.models import InsightActorsQuery
from magpie.query.breakdowns import BREAKDOWN_NULL, BREAKDOWN_OTHER, breakdown_of
from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow, step, window, zone
from magpie.query.filters import field
from magpie.query.models import EventsNode, TrendsQuery
from magpie.query.series import series_filter
from magpie.query.trends import ACTIVE_DAYS, run_trends


def _period(trends: TrendsQuery, actors: InsightActorsQuery, context: QueryContext) -> TimeWindow:
    earliest = context.earliest_event() if trends.dateRange.date_from == "all" else None
    period = window(
        trends.dateRange.date_from,
        trends.dateRange.date_to,
        trends.interval,
        zone(context.project.timezone),
        context.now,
        earliest,
        week_start=context.week_start,
    )
    return period.shifted_back() if actors.compare == "previous" else period


def _bucket(day: str | int, period: TimeWindow) -> datetime:
    try:
        at = datetime.fromisoformat(str(day))
    except ValueError:
        raise InvalidInput("day must be the date (or time) of a bucket", attr="day") from None
    at = at.replace(tzinfo=None)
    if at not in period.buckets():
        raise InvalidInput(f"{day!r} is not a bucket of this insight's range", attr="day")
    return at


def _span(node: EventsNode, day: str | int | None, period: TimeWindow) -> TimeWindow:
    """The local time a point counts events over: its bucket (clipped to the range),
    or for weekly and monthly active users the days up to the bucket's end."""
    if day is None:
        return period
    bucket = _bucket(day, period)
    end = min(step(bucket, period.interval), period.end)
    start = max(bucket, period.start)
    if node.math in ACTIVE_DAYS:
        start = end - timedelta(days=ACTIVE_DAYS[node.math])
    return TimeWindow(start, end, period.interval, period.tz, period.week_start)


def _actor(node: EventsNode) -> tuple[exp.Expr, int | None]:
    if node.math == "unique_group":
        index = node.math_group_type_index
        if index is None or not 0 <= index <= 4:
            raise InvalidInput("unique_group needs math_group_type_index 0-4", attr="series")
        return exp.Nullif(this=field(f"$group_{index}"), expression=exp.Literal.string("")), index
    return field("person_id"), None


def _in_value(
    trends: TrendsQuery, value: Any, series: int, context: QueryContext
) -> exp.Expr | None:
    breakdown = breakdown_of(trends.breakdownFilter)
    if breakdown is None or value is None:
        return None
    expression = breakdown.expression
    text = str(value[0] if isinstance(value, list) and len(value) == 1 else value)
    if text == BREAKDOWN_NULL:
        return _is_null(expression)
    if text != BREAKDOWN_OTHER:
        return exp.EQ(this=expression, expression=exp.Literal.string(text))
    # "Other" is what the trend did not keep: ask the trend which values it kept.
    kept = {
        item["breakdown_value"]
        for item in run_trends(trends, context)["results"]
        if item["action"] and item["action"]["order"] == series
    } - {BREAKDOWN_OTHER}
    named = [exp.Literal.string(str(k)) for k in kept if k != BREAKDOWN_NULL]
    not_kept = exp.not_(exp.In(this=expression.copy(), expressions=named)) if named else None
    present = exp.and_(_not_null(expression), not_kept) if not_kept else _not_null(expression)
    if BREAKDOWN_NULL in kept:
        return present
    return exp.or_(_is_null(expression), present)


def _is_null(expression: exp.Expr) -> exp.Expr:
    return exp.Is(this=expression.copy(), expression=exp.Null())


def _not_null(expression: exp.Expr) -> exp.Expr:
    return exp.not_(_is_null(expression))


def trends_actors(
    trends: TrendsQuery, actors: InsightActorsQuery, context: QueryContext
) -> ActorSet:
    index = actors.series or 0
    if not 0 <= index < len(trends.series):
        raise InvalidInput("series must be the index of one of the trend's series", attr="series")
    node = trends.series[index]
    span = _span(node, actors.day, _period(trends, actors, context))
    conditions = series_filter(
        node,
        span,
        context,
        properties=trends.properties,
        filter_test_accounts=trends.filterTestAccounts,
    ).conditions
    actor, group_index = _actor(node)
    where = [
        *(c.copy() for c in conditions),
        _not_null(actor),
    ]
    in_value = _in_value(trends, actors.breakdown, index, context)
    if in_value is not None:
        where.append(exp.paren(in_value))
    select = (
        exp.select(exp.alias_(actor, "actor"), exp.Min(this=field("distinct_id")))
        .from_("events")
        .where(exp.and_(*where))
        .group_by(exp.column("actor"))
    )
    rows = context.run(context.compile(select))
    return actor_set([str(r[0]) for r in rows], {str(r[0]): str(r[1]) for r in rows}, group_index)
