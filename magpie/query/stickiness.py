"""StickinessQuery: how many actors did the event on exactly 1, 2, … N intervals of
the range (or on at least that many, cumulatively).

An interval is ``intervalCount`` periods of the project's clock; with
``stickinessCriteria`` it counts for an actor only if the actor's events in
it pass the test (``count() >= 3``). Actors are people (anonymous visitors
one per distinct id) or, with ``math: unique_group``, groups of a type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field
from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow, window, zone
from magpie.query.entities import Entity, entity_of
from magpie.query.filters import field
from magpie.query.models import CompareFilter, DateRange, EventsNode, Properties, _Model
from magpie.query.periods import actor, actor_condition, period_count, period_index
from magpie.query.series import series_filter
from magpie.query.templates import fill


class StickinessCriteria(_Model):
    operator: Literal["gte", "lte", "exact"] = "gte"
    value: int = 1


class StickinessFilter(_Model):
    stickinessCriteria: StickinessCriteria | None = None
    computedAs: Literal["non_cumulative", "cumulative"] = "non_cumulative"


class StickinessQuery(_Model):
    kind: Literal["StickinessQuery"]
    series: list[EventsNode] = Field(min_length=1)
    interval: Literal["hour", "day", "week", "month"] = "day"
    intervalCount: int = Field(1, ge=1, le=1000)
    dateRange: DateRange = Field(default_factory=DateRange)
    properties: Properties = None
    filterTestAccounts: bool = False
    compareFilter: CompareFilter | None = None
    stickinessFilter: StickinessFilter | None = None


# stickinessCriteria operator → the test an interval's event count must pass
CRITERIA: dict[str, Callable[[exp.Expr, exp.Expr], exp.Expr]] = {
    "gte": lambda count, value: exp.GTE(this=count, expression=value),
    "lte": lambda count, value: exp.LTE(this=count, expression=value),
    "exact": lambda count, value: exp.EQ(this=count, expression=value),
}

# Each actor's number of active intervals.
_PER_ACTOR = """
    SELECT actor, count() AS intervals FROM (
        SELECT ACTOR AS actor, SLOT AS slot FROM events WHERE SERIES_EVENTS
        GROUP BY 1, 2 HAVING CRITERION
    ) AS active GROUP BY 1"""
_TEMPLATE = f"SELECT intervals, count() AS actors FROM ({_PER_ACTOR}) AS per_actor GROUP BY 1"
# The actors of one bar: on exactly that many intervals (or at least, cumulatively).
_ACTORS = f"SELECT actor FROM ({_PER_ACTOR}) AS per_actor WHERE INTERVALS_MATCH"


def _group_index(node: EventsNode) -> int | None:
    return node.math_group_type_index if node.math == "unique_group" else None


def _query(
    query: StickinessQuery,
    node: EventsNode,
    period: TimeWindow,
    context: QueryContext,
    template: str = _TEMPLATE,
    **extra: exp.Expr,
) -> exp.Query:
    group = _group_index(node)
    conditions = [
        series_filter(
            node,
            period,
            context,
            properties=query.properties,
            filter_test_accounts=query.filterTestAccounts,
        ).where()
    ]
    condition = actor_condition(group)
    if condition is not None:
        conditions.append(condition)
    slot = period_index(field("timestamp"), period, context.dialect)
    if query.intervalCount > 1:
        size = exp.Literal.number(query.intervalCount)
        slot = exp.cast(exp.Floor(this=exp.Div(this=slot, expression=size)), "BIGINT")
    criteria = (query.stickinessFilter and query.stickinessFilter.stickinessCriteria) or (
        StickinessCriteria()
    )
    test = CRITERIA[criteria.operator](
        exp.Count(this=exp.Star()), exp.Literal.number(criteria.value)
    )
    return fill(
        template,
        **extra,
        ACTOR=actor(group),
        SLOT=slot,
        SERIES_EVENTS=exp.and_(*conditions),
        CRITERION=test,
    )


def _current(query: StickinessQuery, context: QueryContext) -> TimeWindow:
    tz = zone(context.project.timezone)
    earliest = context.earliest_event() if query.dateRange.date_from == "all" else None
    return window(
        query.dateRange.date_from,
        query.dateRange.date_to,
        query.interval,
        tz,
        context.now,
        earliest,
        week_start=context.week_start,
    )


def run_stickiness(query: StickinessQuery, context: QueryContext) -> dict[str, Any]:
    current = _current(query, context)
    periods = [("current", current)]
    if query.compareFilter and query.compareFilter.compare:
        periods.append(("previous", current.shifted_back()))
    cumulative = bool(query.stickinessFilter and query.stickinessFilter.computedAs == "cumulative")
    results = []
    for compare_label, period in periods:
        buckets = math.ceil(period_count(period) / query.intervalCount)
        for order, node in enumerate(query.series):
            histogram = [0] * buckets
            for intervals, actors in context.run(
                context.compile(_query(query, node, period, context))
            ):
                if 1 <= intervals <= buckets:
                    histogram[int(intervals) - 1] = int(actors)
            context.check_deadline()
            item = _series(node, entity_of(node, context), order, histogram, query, cumulative)
            if len(periods) > 1:
                item["compare"] = True
                item["compare_label"] = compare_label
            results.append(item)
    return {"results": results, "timings": context.timings}


def _series(
    node: EventsNode,
    entity: Entity,
    order: int,
    histogram: list[int],
    query: StickinessQuery,
    cumulative: bool,
) -> dict[str, Any]:
    data = [sum(histogram[i:]) for i in range(len(histogram))] if cumulative else histogram
    unit = query.interval
    suffix = " or more" if cumulative else ""
    labels = [f"{k} {unit}{'' if k == 1 else 's'}{suffix}" for k in range(1, len(data) + 1)]
    name = entity.name
    return {
        "action": {
            "order": order,
            "type": entity.type,
            "name": name,
            "id": entity.id,
            "custom_name": node.custom_name,
        },
        "label": node.custom_name or name,
        "count": sum(histogram),
        "data": data,
        "days": list(range(1, len(data) + 1)),
        "labels": labels,
    }


def stickiness_actors(
    query: StickinessQuery,
    context: QueryContext,
    intervals: int,
    series: int = 0,
    compare: str | None = None,
) -> list[str]:
    """The actors of one bar: those active on ``intervals`` intervals (at least that
    many when cumulative), for series ``series`` of the current or previous range."""
    if not 0 <= series < len(query.series):
        raise InvalidInput(f"series must be 0 to {len(query.series) - 1}", attr="series")
    period = _current(query, context)
    if compare == "previous":
        period = period.shifted_back()
    cumulative = bool(query.stickinessFilter and query.stickinessFilter.computedAs == "cumulative")
    count, wanted = exp.column("intervals"), exp.Literal.number(intervals)
    match = (
        exp.GTE(this=count, expression=wanted)
        if cumulative
        else exp.EQ(this=count, expression=wanted)
    )
    tree = _query(query, query.series[series], period, context, _ACTORS, INTERVALS_MATCH=match)
    return [str(row[0]) for row in context.run(context.compile(tree))]
