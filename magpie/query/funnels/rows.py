"""The events a funnel reads, one row each, grouped by actor (compat-2 §2.2).

One query over ``events`` gives every event that matches a step or an
exclusion (every event, for a strict funnel or one with an "all events"
step), with the steps and exclusions it matches as bit masks, so the engine
evaluates each step's filters once per event and sends only small integers.
The actor is the event's person (an anonymous event's stand-in person is its
distinct id's, and a visitor who identified later is their person from the
first event, through the merge overrides), a group, or an expression.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.breakdowns import Breakdown
from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow, utc_bound
from magpie.query.entities import is_action, node_events, same_events
from magpie.query.filters import field, hogql_expression, properties_condition, valid_group_index
from magpie.query.funnels.matching import Event
from magpie.query.funnels.models import FunnelsQuery
from magpie.query.models import EventsNode, Properties

MICROS = 1_000_000


@dataclass(frozen=True)
class ActorEvents:
    actor: str
    events: list[Event]
    distinct_id: str | None = None  # one of the actor's distinct ids, when asked for


def node_condition(node: EventsNode, context: QueryContext) -> exp.Expr:
    parts: list[exp.Expr] = []
    events = node_events(node, context)
    if events is not None:
        parts.append(exp.paren(events))
    condition = properties_condition(node.properties, context.now_naive)
    if condition is not None:
        parts.append(exp.paren(condition))
    return exp.and_(*parts) if parts else exp.true()


def mask(conditions: list[exp.Expr]) -> exp.Expr:
    """Bit i set where condition i holds: one integer per event."""
    if not conditions:
        return exp.Literal.number(0)
    terms = [
        exp.If(this=c, true=exp.Literal.number(1 << i), false=exp.Literal.number(0))
        for i, c in enumerate(conditions)
    ]
    total: exp.Expr = terms[0]
    for term in terms[1:]:
        total = exp.Add(this=total, expression=term)
    return total


def _by_person(query: FunnelsQuery) -> exp.Expr:
    return field("person_id")


def _by_group(query: FunnelsQuery) -> exp.Expr:
    index = valid_group_index(
        query.aggregation_group_type_index,
        "aggregation_group_type_index must be 0-4",
        "aggregation_group_type_index",
    )
    # Events without the group (anonymous ones never carry groups) are left out.
    return exp.Nullif(this=field(f"$group_{index}"), expression=exp.Literal.string(""))


def _by_expression(query: FunnelsQuery) -> exp.Expr:
    text = query.funnelsFilter.funnelAggregateByHogQL or ""
    return exp.Nullif(
        this=exp.cast(hogql_expression(text), exp.DataType.build("VARCHAR")),
        expression=exp.Literal.string(""),
    )


def _aggregation(query: FunnelsQuery) -> str:
    if query.funnelsFilter.funnelAggregateByHogQL:
        return "hogql"
    return "group" if query.aggregation_group_type_index is not None else "person"


# How a funnel tells its actors apart → the actor of each event.
ACTORS: dict[str, Callable[[FunnelsQuery], exp.Expr]] = {
    "person": _by_person,
    "group": _by_group,
    "hogql": _by_expression,
}


def actor_expression(query: FunnelsQuery) -> exp.Expr:
    return ACTORS[_aggregation(query)](query)


def reads_every_event(query: FunnelsQuery) -> bool:
    """Strict funnels are broken by any event, and an all-events step matches any."""
    return query.funnelsFilter.funnelOrderType == "strict" or any(
        s.event is None and not is_action(s) for s in query.series
    )


def funnel_where(
    query: FunnelsQuery,
    period: TimeWindow,
    context: QueryContext,
    matches: list[exp.Expr],
    actor: exp.Expr,
) -> exp.Expr:
    """The events in range with an actor, under the query's filters, that match a
    step or an exclusion (``matches``) unless the funnel reads every event."""
    dialect = context.dialect
    where: list[exp.Expr] = [
        exp.GTE(this=field("timestamp"), expression=utc_bound(period.utc_start, dialect)),
        exp.LT(this=field("timestamp"), expression=utc_bound(period.utc_end, dialect)),
        exp.Not(this=exp.Is(this=actor.copy(), expression=exp.Null())),
    ]
    where.extend(global_filter(query.properties, query.filterTestAccounts, context))
    if not reads_every_event(query):
        where.append(exp.paren(exp.or_(*(c.copy() for c in matches))))
    return exp.and_(*where)


def funnel_select(
    query: FunnelsQuery,
    period: TimeWindow,
    context: QueryContext,
    breakdown: Breakdown | None,
    *,
    with_distinct_id: bool = False,
) -> exp.Select:
    steps = [node_condition(node, context) for node in query.series]
    exclusions = [node_condition(node, context) for node in query.funnelsFilter.exclusions]
    actor = actor_expression(query)
    projections = [
        # Text and whole microseconds: cheaper to bring into Python than UUIDs and times.
        exp.alias_(exp.cast(actor, exp.DataType.build("VARCHAR")), "actor"),
        exp.alias_(micros_since(period.utc_start, context), "at"),
        exp.alias_(mask([s.copy() for s in steps]), "steps"),
        exp.alias_(mask([e.copy() for e in exclusions]), "exclusions"),
    ]
    if breakdown is not None:
        projections.append(exp.alias_(breakdown.expression.copy(), "breakdown_value"))
    if with_distinct_id:
        projections.append(exp.alias_(field("distinct_id"), "distinct_id"))
    return (
        exp.select(*projections)
        .from_("events")
        .where(funnel_where(query, period, context, steps + exclusions, actor))
        .order_by(exp.column("actor"), exp.column("at"))
    )


def global_filter(
    properties: Properties, test_accounts: bool, context: QueryContext
) -> list[exp.Expr]:
    out: list[exp.Expr] = []
    condition = properties_condition(properties, context.now_naive)
    if condition is not None:
        out.append(exp.paren(condition))
    if test_accounts:
        test = properties_condition(
            list(context.test_account_filters), context.now_naive, exclusion=True
        )
        if test is not None:
            out.append(exp.paren(test))
    return out


def micros_since(start: datetime, context: QueryContext) -> exp.Expr:
    """Each event's time as whole microseconds after ``start`` (naive UTC)."""
    return exp.DateDiff(
        this=field("timestamp"),
        expression=context.dialect.timestamp(start),
        unit=exp.var("MICROSECOND"),
    )


def actor_events(
    rows: list[list[Any]], *, breakdown: bool, with_distinct_id: bool
) -> Iterator[ActorEvents]:
    """The rows (ordered by actor and time) as each actor's events."""
    value_at = 4 if breakdown else None
    distinct_at = 4 + int(breakdown) if with_distinct_id else None
    index = 0
    for actor, group in groupby(rows, key=lambda r: r[0]):
        events = []
        distinct_id = None
        for row in group:
            events.append(
                Event(
                    int(row[1]),
                    int(row[2] or 0),
                    int(row[3] or 0),
                    index,
                    row[value_at] if value_at is not None else None,
                )
            )
            if distinct_at is not None and distinct_id is None:
                distinct_id = row[distinct_at]
            index += 1
        yield ActorEvents(str(actor), events, distinct_id)


def check_exclusions(query: FunnelsQuery) -> None:
    steps = len(query.series)
    for i, ex in enumerate(query.funnelsFilter.exclusions):
        attr = f"funnelsFilter.exclusions.{i}"
        if not 0 <= ex.funnelFromStep < ex.funnelToStep <= steps - 1:
            raise InvalidInput(
                "an exclusion needs 0 <= funnelFromStep < funnelToStep <= the last step", attr=attr
            )
        for node in query.series[ex.funnelFromStep : ex.funnelToStep + 1]:
            if same_events(node, ex) and not node.properties and not ex.properties:
                raise InvalidInput(
                    "an exclusion cannot be the same event as a step it spans", attr=attr
                )
