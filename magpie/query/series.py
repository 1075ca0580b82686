"""Which events a series counts: shared by every insight kind built on series.

A series is an event, an action (or all events) with its own property filters, within a
time window, under the query's filters and, when asked, without test
accounts. The conditions are HogQL over ``events``, so they compile for any
dialect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow, utc_bound
from magpie.query.entities import node_events
from magpie.query.filters import field, properties_condition
from magpie.query.models import EventsNode, Properties


@dataclass(frozen=True)
class SeriesFilter:
    conditions: tuple[exp.Expr, ...]

    def where(self) -> exp.Expr:
        return exp.and_(*(c.copy() for c in self.conditions))


def series_filter(
    node: EventsNode,
    period: TimeWindow,
    context: QueryContext,
    *,
    properties: Properties = None,
    filter_test_accounts: bool = False,
    since: datetime | None = None,
    bounded_below: bool = True,
) -> SeriesFilter:
    """``node``'s events from ``since`` (the window's start by default; from the
    first event ever without ``bounded_below``) to the window's end, under the
    query-wide ``properties``."""
    dialect = context.dialect
    conditions: list[exp.Expr] = [
        exp.LT(this=field("timestamp"), expression=utc_bound(period.utc_end, dialect)),
    ]
    if bounded_below:
        start = utc_bound(since or period.utc_start, dialect)
        conditions.insert(0, exp.GTE(this=field("timestamp"), expression=start))
    events = node_events(node, context)
    if events is not None:
        conditions.append(events)
    for filters in (node.properties, properties):
        condition = properties_condition(filters, context.now_naive)
        if condition is not None:
            conditions.append(condition)
    if filter_test_accounts:
        test_filters: Properties = list(context.test_account_filters)
        condition = properties_condition(test_filters, context.now_naive, exclusion=True)
        if condition is not None:
            conditions.append(condition)
    return SeriesFilter(tuple(conditions))
