"""LifecycleQuery: each period's active actors as new, returning or resurrecting,
and those who stopped as dormant (counted negatively).

For an actor's active periods in order, the first is *new* when it is the
period the actor was created in; a later one right after the previous is
*returning*; anything else is *resurrecting* (so a first activity the period
after creation is resurrecting, as in PostHog). The period after an active
one without activity is *dormant*. Events are read from one period before the
range, so its first period knows who was active before.

A person was created at its ``created_at``, a group at its own. Anonymous
visitors have no person: Magpie counts them too (PostHog leaves them out),
created at their distinct id's first event of any kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow, day_text, label, step, window, zone
from magpie.query.entities import Entity, entity_of
from magpie.query.filters import field
from magpie.query.models import DateRange, EventsNode, Properties, _Model
from magpie.query.periods import (
    MASK_PERIODS,
    actor,
    actor_condition,
    first_period,
    has_bit,
    period_bit,
    period_count,
    period_index,
    period_start,
    with_period_numbers,
)
from magpie.query.series import series_filter
from magpie.query.templates import fill_named

STATUSES = ("new", "returning", "resurrecting", "dormant")


class LifecycleFilter(_Model):
    toggledLifecycles: list[Literal["new", "returning", "resurrecting", "dormant"]] | None = None
    showValuesOnSeries: bool | None = None
    showLegend: bool | None = None
    stacked: bool = True


class LifecycleQuery(_Model):
    kind: Literal["LifecycleQuery"]
    series: list[EventsNode] = Field(min_length=1)
    interval: Literal["hour", "day", "week", "month"] = "day"
    dateRange: DateRange = Field(default_factory=DateRange)
    properties: Properties = None
    filterTestAccounts: bool = False
    aggregation_group_type_index: int | None = None
    lifecycleFilter: LifecycleFilter | None = None


# Each actor's active periods with the ones before and after, and its creation period.
_MARKED = """
    SELECT a.actor AS actor, a.active AS active, CREATED_PERIOD AS created,
           lag(a.active) OVER (PARTITION BY a.actor ORDER BY a.active) AS previous,
           lag(a.active) OVER (PARTITION BY a.actor ORDER BY a.active DESC) AS following
    FROM activity AS a"""

# An anonymous visitor's creation: its first event of any kind.
_FIRST_SEEN = """
    SELECT ACTOR AS actor, min(timestamp) AS first_event FROM events WHERE SEEN GROUP BY 1"""

_CTES = """
WITH activity AS (
    SELECT ACTOR AS actor, PERIOD AS active, min(CREATED_AT) AS created_at
    FROM events WHERE ACTIVE_EVENTS GROUP BY 1, 2
){first_seen}, marked AS ({marked}{join}), statuses AS (
    SELECT actor, active, CASE
            WHEN previous IS NULL AND created = active THEN 'new'
            WHEN previous = active - 1 THEN 'returning'
            ELSE 'resurrecting' END AS status,
        following IS NULL OR following > active + 1 AS goes_dormant
    FROM marked
)"""

# Each active period counts once for its status and, if nothing follows it, once
# as dormant in the next: one pass over the statuses (ClickHouse would compute
# them again for a second SELECT).
_COUNTS = """
SELECT CASE WHEN d.dormant = 1 THEN active + 1 ELSE active END AS period,
       CASE WHEN d.dormant = 1 THEN 'dormant' ELSE status END AS bar,
       count() AS actors
FROM statuses CROSS JOIN (SELECT 0 AS dormant UNION ALL SELECT 1 AS dormant) AS d
WHERE d.dormant = 0 OR goes_dormant
GROUP BY 1, 2"""

# The actors of one bar: with a status in a period (dormant: active the period before).
_ACTORS = """
SELECT DISTINCT actor FROM statuses WHERE active = ACTIVE_PERIOD AND STATUS_MATCH"""

_PERSONS = _CTES.format(
    first_seen=f", first_seen AS ({_FIRST_SEEN})",
    marked=_MARKED,
    join=" LEFT JOIN first_seen AS f ON a.actor = f.actor",
)
_GROUPS = _CTES.format(first_seen="", marked=_MARKED, join="")


# The counts alone, when the periods fit a BIGINT's bits: each actor's active
# periods as the bits of one integer (one row per actor instead of one per actor
# and period, and no window over them), each period's status by bit tests on it.
# Bit p - 1 of ``m`` is bit p of ``m * 2``, which needs no shift by -1.
_MASKS = """
WITH activity AS (
    SELECT ACTOR AS actor, groupBitOr(BIT) AS m, min(CREATED_AT) AS created_at
    FROM events WHERE ACTIVE_EVENTS GROUP BY 1
){first_seen}, masks AS (
    SELECT a.actor AS actor, a.m AS m, CREATED_PERIOD AS created FROM activity AS a{join}
)
SELECT p.n + d.dormant AS period,
       CASE WHEN d.dormant = 1 THEN 'dormant'
            WHEN NO_EARLIER AND created = p.n THEN 'new'
            WHEN HAS_PREVIOUS THEN 'returning'
            ELSE 'resurrecting' END AS bar,
       count() AS actors
FROM masks CROSS JOIN periods AS p
     CROSS JOIN (SELECT 0 AS dormant UNION ALL SELECT 1 AS dormant) AS d
WHERE HAS_ACTIVE AND (d.dormant = 0 OR NOT HAS_NEXT)
GROUP BY 1, 2"""
_MASKS_PERSONS = _MASKS.format(
    first_seen=f", first_seen AS ({_FIRST_SEEN})",
    join=" LEFT JOIN first_seen AS f ON a.actor = f.actor",
)
_MASKS_GROUPS = _MASKS.format(first_seen="", join="")


def _query(query: LifecycleQuery, read: TimeWindow, context: QueryContext) -> exp.Query:
    ctes, slots = _slots(query, read, context)
    periods = period_count(read)
    if periods > MASK_PERIODS:
        return fill_named(ctes + _COUNTS, slots)
    template = _MASKS_PERSONS if query.aggregation_group_type_index is None else _MASKS_GROUPS
    filled = fill_named(template, {**slots, **_bit_slots(slots["PERIOD"])})
    return with_period_numbers(filled, periods)


def _bit_slots(period: exp.Expr) -> dict[str, exp.Expr]:
    mask, at = exp.column("m", "masks"), exp.column("n", "p")
    below = exp.Paren(this=period_bit(at.copy()))
    doubled = exp.Paren(this=exp.Mul(this=mask.copy(), expression=exp.Literal.number(2)))
    return {
        "BIT": period_bit(period),
        "HAS_ACTIVE": has_bit(mask.copy(), at.copy()),
        "HAS_PREVIOUS": has_bit(doubled, at.copy()),
        "HAS_NEXT": has_bit(mask.copy(), exp.Add(this=at.copy(), expression=exp.Literal.number(1))),
        "NO_EARLIER": exp.EQ(
            this=exp.Mod(this=mask.copy(), expression=below), expression=exp.Literal.number(0)
        ),
    }


def _slots(
    query: LifecycleQuery, read: TimeWindow, context: QueryContext
) -> tuple[str, dict[str, exp.Expr]]:
    group = query.aggregation_group_type_index
    conditions = [
        series_filter(
            query.series[0],
            read,
            context,
            properties=query.properties,
            filter_test_accounts=query.filterTestAccounts,
        ).where()
    ]
    condition = actor_condition(group)
    if condition is not None:
        conditions.append(condition)
    created_at = (
        field("person", "created_at") if group is None else field(f"group_{group}", "created_at")
    )
    slots: dict[str, exp.Expr] = {
        "ACTOR": actor(group),
        "PERIOD": period_index(field("timestamp"), read, context.dialect),
        "CREATED_AT": created_at,
        "ACTIVE_EVENTS": exp.and_(*conditions),
    }
    created: exp.Expr = exp.column("created_at", "a")
    if group is None:
        created = exp.func("coalesce", created, exp.column("first_event", "f"))
        slots["SEEN"] = exp.and_(
            exp.LT(this=field("timestamp"), expression=context.dialect.timestamp(read.utc_end)),
            exp.EQ(this=field("person_mode"), expression=exp.Literal.string("propertyless")),
        )
    slots["CREATED_PERIOD"] = period_index(created, read, context.dialect)
    return (_PERSONS if group is None else _GROUPS), slots


def _read_window(query: LifecycleQuery, context: QueryContext) -> TimeWindow:
    """The range shown, from one period before it: period 0 is the one before."""
    tz = zone(context.project.timezone)
    earliest = context.earliest_event() if query.dateRange.date_from == "all" else None
    shown = window(
        query.dateRange.date_from,
        query.dateRange.date_to,
        query.interval,
        tz,
        context.now,
        earliest,
        week_start=context.week_start,
    )
    start = step(first_period(shown), shown.interval, -1)
    return TimeWindow(start, shown.end, shown.interval, tz, shown.week_start)


def run_lifecycle(query: LifecycleQuery, context: QueryContext) -> dict[str, Any]:
    read = _read_window(query, context)
    periods = period_count(read) - 1
    counts = {status: [0] * periods for status in STATUSES}
    for period, status, actors in context.run(context.compile(_query(query, read, context))):
        if 1 <= period <= periods:
            counts[status][int(period) - 1] += int(actors)
    context.check_deadline()
    starts = [period_start(read, k) for k in range(1, periods + 1)]
    node = query.series[0]
    entity = entity_of(node, context)
    results = [
        _series(
            node,
            entity,
            status,
            [-c if status == "dormant" else c for c in counts[status]],
            starts,
            read,
        )
        for status in STATUSES
    ]
    return {"results": results, "timings": context.timings}


def _series(
    node: EventsNode,
    entity: Entity,
    status: str,
    data: list[int],
    starts: list[datetime],
    read: TimeWindow,
) -> dict[str, Any]:
    name = entity.name
    action: dict[str, Any] = {
        "id": entity.id,
        "name": name,
        "type": entity.type,
        "order": 0,
        "math": "total",
    }
    if node.custom_name:
        action["custom_name"] = node.custom_name
    return {
        "action": action,
        "data": [float(v) for v in data],
        "count": float(sum(data)),
        "labels": [label(s, read.interval) for s in starts],
        "days": [day_text(s, read.interval) for s in starts],
        "label": f"{node.custom_name or name} - {status}",
        "status": status,
    }


def lifecycle_actors(
    query: LifecycleQuery, context: QueryContext, day: str, status: str
) -> list[str]:
    """The actors of one bar: ``status`` in the period starting ``day`` (as ``days``
    names it)."""
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", attr="status")
    read = _read_window(query, context)
    days = [day_text(period_start(read, k), read.interval) for k in range(period_count(read))]
    if day not in days[1:]:
        raise InvalidInput(f"{day[:40]!r} is not a period of this lifecycle", attr="day")
    period = days.index(day)
    ctes, slots = _slots(query, read, context)
    dormant = status == "dormant"
    slots["ACTIVE_PERIOD"] = exp.Literal.number(period - 1 if dormant else period)
    slots["STATUS_MATCH"] = (
        exp.column("goes_dormant")
        if dormant
        else exp.EQ(this=exp.column("status"), expression=exp.Literal.string(status))
    )
    rows = context.run(context.compile(fill_named(ctes + _ACTORS, slots)))
    return [str(row[0]) for row in rows]
