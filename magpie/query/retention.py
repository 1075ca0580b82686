"""RetentionQuery: of the actors who did the target event in a period (a cohort),
how many did the returning event 1, 2, … periods later.

One query does it: the cohorts (who started when, under which breakdown
value) and the periods each actor came back in, joined on the actor. Periods
are counted on the project's clock (``periods.py``). Returns after the range's
end are not read, so a young cohort's later cells are zeros.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field
from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.breakdowns import BREAKDOWN_OTHER, Folded, breakdown_of, fold_other
from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow, check_size, parse_point, step, to_local, truncate, zone
from magpie.query.entities import action_id_of
from magpie.query.errors import ResultTooLarge
from magpie.query.filters import field
from magpie.query.limits import MAX_BUCKETS, MAX_POINTS
from magpie.query.models import BreakdownFilter, EventsNode, Properties, _Model
from magpie.query.periods import (
    MASK_PERIODS,
    actor,
    actor_condition,
    has_bit,
    period_bit,
    period_count,
    period_index,
    period_start,
    with_period_numbers,
)
from magpie.query.series import series_filter
from magpie.query.templates import fill_named

PERIODS = {"Hour": "hour", "Day": "day", "Week": "week", "Month": "month"}
# When a query names no totalIntervals, PostHog's runner uses 7 (its schema says 8).
DEFAULT_TOTAL_INTERVALS = 7


class RetentionEntity(_Model):
    id: str | int | None = "$pageview"
    type: Literal["events", "actions"] = "events"
    kind: Literal["EventsNode", "ActionsNode"] | None = None
    name: str | None = None
    custom_name: str | None = None
    properties: Properties = None


class RetentionFilter(_Model):
    targetEntity: RetentionEntity = Field(default_factory=RetentionEntity)
    returningEntity: RetentionEntity = Field(default_factory=RetentionEntity)
    retentionType: Literal[
        "retention_recurring", "retention_first_time", "retention_first_ever_occurrence"
    ] = "retention_recurring"
    period: Literal["Hour", "Day", "Week", "Month"] = "Day"
    totalIntervals: int = Field(DEFAULT_TOTAL_INTERVALS, ge=1, le=MAX_BUCKETS)
    minimumOccurrences: int = Field(1, ge=1)
    cumulative: bool = False
    timeWindowMode: Literal["strict_calendar_dates", "24_hour_windows"] = "strict_calendar_dates"
    # Periods per value after the first: [1, 3] is "Day 1" and "Day 2-4".
    retentionCustomBrackets: list[int] | None = None
    # "sum" or "avg" of aggregationProperty over the events behind each cell, beside
    # the count of actors; "count" (or no property) is plain retention.
    aggregationType: Literal["count", "sum", "avg"] | None = None
    aggregationProperty: str | None = Field(None, max_length=400)
    aggregationPropertyType: Literal["event", "person"] = "event"

    @property
    def aggregating(self) -> bool:
        """Whether each value also carries an ``aggregation_value``."""
        return self.aggregationType in ("sum", "avg") and bool(self.aggregationProperty)

    @property
    def lookahead(self) -> int:
        """Values per row: one per bracket and the cohort, or totalIntervals."""
        brackets = self.retentionCustomBrackets
        return len(brackets) + 1 if brackets else self.totalIntervals

    @property
    def reach(self) -> int:
        """Periods after the cohort's that count: all the brackets', or the values'."""
        brackets = self.retentionCustomBrackets
        return sum(brackets) + 1 if brackets else self.totalIntervals


class RetentionDateRange(_Model):
    date_from: str | None = None
    date_to: str | None = None
    explicitDate: bool = False


class RetentionQuery(_Model):
    kind: Literal["RetentionQuery"]
    retentionFilter: RetentionFilter = Field(
        default_factory=lambda: RetentionFilter.model_validate({})
    )
    dateRange: RetentionDateRange = Field(default_factory=RetentionDateRange)
    properties: Properties = None
    filterTestAccounts: bool = False
    aggregation_group_type_index: int | None = None
    breakdownFilter: BreakdownFilter | None = None


# -- SQL ---------------------------------------------------------------------------

# How each retention type finds an actor's cohorts (actor, cohort, breakdown_value).
_STARTS = {
    # Every period with a target event in the range.
    "retention_recurring": """
        SELECT ACTOR AS actor, PERIOD AS cohort, BREAKDOWN_VALUE AS breakdown_value
        FROM events WHERE TARGET_EVENTS GROUP BY 1, 2""",
    # The same, when actors return with the target event itself: one pass over the
    # events gives both the cohorts and the returns.
    "retention_recurring_itself": """
        SELECT actor, cohort, breakdown_value FROM activity""",
    # The period of the first matching target event ever, if it lies in the range.
    "retention_first_time": """
        SELECT ACTOR AS actor, FIRST_PERIOD AS cohort,
               BREAKDOWN_VALUE AS breakdown_value
        FROM events WHERE TARGET_EVENTS GROUP BY 1 HAVING min(timestamp) >= RANGE_START""",
    # The first target event ever, whatever its properties, if it also matches them.
    "retention_first_ever_occurrence": """
        SELECT ACTOR AS actor, FIRST_PERIOD AS cohort,
               BREAKDOWN_VALUE AS breakdown_value
        FROM events WHERE TARGET_EVENTS GROUP BY 1
        HAVING min(timestamp) >= RANGE_START AND argMin(MATCHES, timestamp) = 1""",
}

# 24-hour windows: each cohort's first start event, and the returns counted from it.
_WINDOW_STARTS = {
    "retention_recurring": """
        SELECT ACTOR AS actor, PERIOD AS cohort, BREAKDOWN_VALUE AS breakdown_value,
               min(timestamp) AS first_at
        FROM events WHERE TARGET_EVENTS GROUP BY 1, 2""",
    "retention_first_time": """
        SELECT ACTOR AS actor, FIRST_PERIOD AS cohort,
               BREAKDOWN_VALUE AS breakdown_value, min(timestamp) AS first_at
        FROM events WHERE TARGET_EVENTS GROUP BY 1 HAVING min(timestamp) >= RANGE_START""",
    "retention_first_ever_occurrence": """
        SELECT ACTOR AS actor, FIRST_PERIOD AS cohort,
               BREAKDOWN_VALUE AS breakdown_value, min(timestamp) AS first_at
        FROM events WHERE TARGET_EVENTS GROUP BY 1
        HAVING min(timestamp) >= RANGE_START AND argMin(MATCHES, timestamp) = 1""",
}
# A return in the k-th window after the cohort's first start event counts as
# "came back k periods later" for that cohort alone (hence the cohort column).
_WINDOW_RETURNS = """
    returns_at AS (SELECT ACTOR AS actor, timestamp AS at FROM events WHERE RETURN_EVENTS),
    comebacks AS (
        SELECT actor, cohort, cohort + k AS came_back FROM (
            SELECT s.actor AS actor, s.cohort AS cohort, WINDOW_INDEX AS k
            FROM starts AS s JOIN returns_at AS r ON s.actor = r.actor
            WHERE r.at > s.first_at
        ) AS in_windows GROUP BY 1, 2, 3 HAVING count() >= MINIMUM
    )"""
# Per period: the unit its windows are counted in, and how many of those a window is.
WINDOW_UNITS = {"Hour": ("hour", 1), "Day": ("hour", 24), "Week": ("day", 7), "Month": ("day", 30)}

_RETURNS = """
    SELECT ACTOR AS actor, PERIOD AS came_back FROM events WHERE RETURN_EVENTS
    GROUP BY 1, 2 HAVING count() >= MINIMUM"""

_ACTIVITY = """
    SELECT ACTOR AS actor, PERIOD AS cohort, BREAKDOWN_VALUE AS breakdown_value,
           count() AS occurrences
    FROM events WHERE TARGET_EVENTS GROUP BY 1, 2"""
_RETURNS_ITSELF = "SELECT actor, cohort AS came_back FROM activity WHERE occurrences >= MINIMUM"

# cohort, breakdown value, interval, actors: one row per cell; interval 0 is the cohort.
_CELLS = """
    SELECT s.cohort AS cohort, s.breakdown_value AS breakdown_value,
           VALUE_INDEX AS k, ACTORS AS actors
    FROM starts AS s JOIN comebacks AS r ON ACTOR_MATCH
    WHERE r.came_back > s.cohort AND r.came_back < s.cohort + LOOKAHEAD
    GROUP BY 1, 2, 3"""

# Cumulative: the last interval each actor came back in (counted in every one before).
_LAST_RETURNS = """
    SELECT cohort, breakdown_value, k, count() AS actors FROM (
        SELECT s.actor AS actor, s.cohort AS cohort, s.breakdown_value AS breakdown_value,
               max(VALUE_INDEX) AS k
        FROM starts AS s JOIN comebacks AS r ON ACTOR_MATCH
        WHERE r.came_back > s.cohort AND r.came_back < s.cohort + LOOKAHEAD
        GROUP BY 1, 2, 3
    ) AS last_returns GROUP BY 1, 2, 3"""

_COHORTS = "SELECT cohort, breakdown_value, 0 AS k, count() AS actors FROM starts GROUP BY 1, 2"

# Recurring retention of one event with nothing kept per cohort (no breakdown,
# brackets, cumulative counts or minimum): each actor's active periods as the bits
# of one integer, from one pass over the events and one row per actor, and every
# cell by two bit tests. Joining the (actor, period) rows to themselves gives the
# same counts in about twice the time. ``periods`` (0, 1, …) is added as a CTE
# (periods.py); longer windows take the join.
_MASKS = """
WITH masks AS (
    SELECT ACTOR AS actor, groupBitOr(BIT) AS m FROM events WHERE TARGET_EVENTS GROUP BY 1
)
SELECT starts.n AS cohort, '' AS breakdown_value, returns.n AS k, count() AS actors
FROM masks CROSS JOIN periods AS starts CROSS JOIN periods AS returns
WHERE starts.n + returns.n < PERIOD_COUNT AND returns.n < LOOKAHEAD
  AND HAS_COHORT AND HAS_RETURN
GROUP BY 1, 2, 3"""


# The actors behind one cell: the cohort's members, or those of them who came back
# that many periods later (or later still, when cumulative).
_CELL_ACTORS = """
    SELECT DISTINCT s.actor AS actor FROM starts AS s
    WHERE s.cohort = COHORT AND BREAKDOWN_MATCH"""
_RETURNED_ACTORS = """
    SELECT DISTINCT s.actor AS actor FROM starts AS s JOIN comebacks AS r ON ACTOR_MATCH
    WHERE s.cohort = COHORT AND BREAKDOWN_MATCH AND RETURNED"""


# With aggregationType: every cell's actors and the sum of the property over its
# events (``valued``: the returning events). The cohort's own value comes from its
# start events when they are the returning events too, else from the returns in
# the cohort's period after its first start event.
_VALUED = """
    valued AS (SELECT ACTOR AS actor, PERIOD AS period, timestamp AS at, VALUE AS value
               FROM events WHERE RETURN_EVENTS)"""
_START_VALUED = """
    start_valued AS (SELECT ACTOR AS actor, PERIOD AS period, VALUE AS value
                     FROM events WHERE START_VALUE_EVENTS)"""
_AGGREGATE_COHORTS = """
    SELECT cohort, breakdown_value, 0 AS k, count() AS actors, 0.0 AS total
    FROM starts GROUP BY 1, 2"""
_AGGREGATE_RETURNS = """
    SELECT s.cohort AS cohort, s.breakdown_value AS breakdown_value, r.period - s.cohort AS k,
           count(DISTINCT s.actor) AS actors, sum(r.value) AS total
    FROM starts AS s JOIN valued AS r ON s.actor = r.actor
    WHERE r.period > s.cohort AND r.period < s.cohort + LOOKAHEAD
    GROUP BY 1, 2, 3"""
_AGGREGATE_FIRST = {
    # The same events start and return: the cohort period's start events.
    True: """
        SELECT s.cohort AS cohort, s.breakdown_value AS breakdown_value, 0 AS k,
               0 AS actors, sum(e.value) AS total
        FROM starts AS s JOIN start_valued AS e ON s.actor = e.actor AND e.period = s.cohort
        GROUP BY 1, 2""",
    # Other returning events: those of the cohort's period after its first start.
    False: """
        SELECT s.cohort AS cohort, s.breakdown_value AS breakdown_value, 0 AS k,
               0 AS actors, sum(r.value) AS total
        FROM starts AS s JOIN valued AS r ON s.actor = r.actor AND r.period = s.cohort
        WHERE r.at > s.first_at
        GROUP BY 1, 2""",
}


def _aggregate_template(kind: str, same: bool) -> str:
    ctes = f"starts AS ({_WINDOW_STARTS[kind]}), {_VALUED}"
    if same:
        ctes += f", {_START_VALUED}"
    parts = [_AGGREGATE_COHORTS, _AGGREGATE_FIRST[same], _AGGREGATE_RETURNS]
    return f"WITH {ctes} " + " UNION ALL ".join(parts)


def _ctes(starts: str) -> str:
    if starts.startswith("windows:"):
        kind = starts.removeprefix("windows:")
        return f"starts AS ({_WINDOW_STARTS[kind]}), {_WINDOW_RETURNS}"
    if starts == "retention_recurring_itself":
        ctes = f"activity AS ({_ACTIVITY}), starts AS ({_STARTS[starts]}), "
        return ctes + f"comebacks AS ({_RETURNS_ITSELF})"
    return f"starts AS ({_STARTS[starts]}), comebacks AS ({_RETURNS})"


def _template(starts: str, cumulative: bool) -> str:
    returned = _LAST_RETURNS if cumulative else _CELLS
    return f"WITH {_ctes(starts)} {returned} UNION ALL {_COHORTS}"


def _same_events(a: RetentionEntity, b: RetentionEntity) -> bool:
    return (a.id, a.type, a.kind, a.properties) == (b.id, b.type, b.kind, b.properties)


def _node(entity: RetentionEntity, name: str) -> EventsNode:
    if entity.type == "actions" or entity.kind == "ActionsNode":
        return EventsNode(
            kind="ActionsNode", id=action_id_of(entity.id, name), properties=entity.properties
        )
    event = None if entity.id is None else str(entity.id)
    return EventsNode(event=event, properties=entity.properties)


def _window(query: RetentionQuery, context: QueryContext) -> TimeWindow:
    """Whole periods: the one holding date_to is the last (PostHog pads date_to by a
    period); without date_from, totalIntervals periods up to it."""
    tz = zone(context.project.timezone)
    interval = PERIODS[query.retentionFilter.period]
    week_start = context.week_start
    now_local = to_local(context.now_naive, tz)
    dates = query.dateRange
    try:
        last_moment = (
            parse_point(dates.date_to, now_local, tz, is_end=True) - timedelta(microseconds=1)
            if dates.date_to
            else now_local
        )
        end = step(truncate(last_moment, interval, week_start), interval)
        if dates.date_from:
            start = parse_point(dates.date_from, now_local, tz, is_end=False)
            start = truncate(start, interval, week_start)
        else:
            start = step(end, interval, -query.retentionFilter.totalIntervals)
    except (OverflowError, ValueError):
        raise InvalidInput("the date range lies outside the calendar", attr="dateRange") from None
    if end <= start:
        raise InvalidInput("date_to must come after date_from", attr="dateRange")
    found = TimeWindow(start, end, interval, tz, week_start)
    check_size(found)
    return found


def _query(query: RetentionQuery, window: TimeWindow, context: QueryContext) -> exp.Query:
    starts, slots = _slots(query, window, context)
    settings = query.retentionFilter
    if settings.aggregating:
        same = _same_events(settings.targetEntity, settings.returningEntity)
        return fill_named(_aggregate_template(settings.retentionType, same), slots)
    periods = period_count(window)
    if _by_masks(query, starts, periods):
        return _masks_query(slots, periods)
    return fill_named(_template(starts, settings.cumulative), slots)


def _by_masks(query: RetentionQuery, starts: str, periods: int) -> bool:
    """Whether the cells need only the periods each actor was active in."""
    settings = query.retentionFilter
    return (
        starts == "retention_recurring_itself"
        and breakdown_of(query.breakdownFilter) is None
        and not settings.cumulative
        and not settings.retentionCustomBrackets
        and settings.minimumOccurrences == 1
        and periods <= MASK_PERIODS
    )


def _masks_query(slots: dict[str, exp.Expr], periods: int) -> exp.Query:
    cohort, back = exp.column("n", "starts"), exp.column("n", "returns")
    mask = exp.column("m", "masks")
    tree = fill_named(
        _MASKS,
        {
            **slots,
            "BIT": period_bit(slots["PERIOD"]),
            "PERIOD_COUNT": exp.Literal.number(periods),
            "HAS_COHORT": has_bit(mask, cohort),
            "HAS_RETURN": has_bit(mask.copy(), exp.Add(this=cohort.copy(), expression=back)),
        },
    )
    return with_period_numbers(tree, periods)


def _value(settings: RetentionFilter) -> exp.Expr:
    """The property summed, as a number (0 where missing or not a number)."""
    key = settings.aggregationProperty or ""
    person = settings.aggregationPropertyType == "person"
    prop = field("person", "properties", key) if person else field("properties", key)
    number = exp.TryCast(this=prop, to=exp.DataType.build("DOUBLE"))
    return exp.func("coalesce", number, exp.Literal.number(0.0))


def _slots(
    query: RetentionQuery, window: TimeWindow, context: QueryContext
) -> tuple[str, dict[str, exp.Expr]]:
    """Which cohorts template the query uses, and the slots its templates take."""
    settings = query.retentionFilter
    group = query.aggregation_group_type_index
    target = _node(settings.targetEntity, "targetEntity")
    kind = settings.retentionType
    first_ever = kind == "retention_first_ever_occurrence"

    def events(node: EventsNode, *, bounded: bool) -> exp.Expr:
        where = series_filter(
            node,
            window,
            context,
            properties=query.properties,
            filter_test_accounts=query.filterTestAccounts,
            bounded_below=bounded,
        ).where()
        condition = actor_condition(group)
        return where if condition is None else exp.and_(where, condition)

    recurring = kind == "retention_recurring"
    windows = settings.timeWindowMode == "24_hour_windows"
    aggregating = settings.aggregating
    itself = (
        recurring
        and not windows
        and not aggregating
        and _same_events(settings.targetEntity, settings.returningEntity)
    )
    target_events = target.model_copy(update={"properties": None}) if first_ever else target
    breakdown = breakdown_of(query.breakdownFilter)
    # The value on the actor's first target event of the cohort period.
    breakdown_value = (
        exp.ArgMin(
            this=exp.func("coalesce", breakdown.expression.copy(), exp.Literal.string("")),
            expression=field("timestamp"),
        )
        if breakdown
        else exp.Literal.string("")
    )
    slots: dict[str, exp.Expr] = {
        "ACTOR": actor(group),
        "PERIOD": period_index(field("timestamp"), window, context.dialect),
        "TARGET_EVENTS": events(target_events, bounded=recurring),
        "BREAKDOWN_VALUE": breakdown_value,
        # Aggregating, every return counts (minimumOccurrences is ignored, as in PostHog).
        "MINIMUM": exp.Literal.number(1 if aggregating else settings.minimumOccurrences),
        "LOOKAHEAD": exp.Literal.number(settings.reach),
        "VALUE_INDEX": _value_index(settings.retentionCustomBrackets),
        # With brackets an actor may come back in several periods of one value.
        "ACTORS": exp.Count(
            this=exp.Distinct(expressions=[exp.column("actor", "s")])
            if settings.retentionCustomBrackets
            else exp.Star()
        ),
    }
    if not itself:
        returning = _node(settings.returningEntity, "returningEntity")
        slots["RETURN_EVENTS"] = events(returning, bounded=True)
    if not recurring:
        first = exp.Min(this=field("timestamp"))
        slots["FIRST_PERIOD"] = period_index(first, window, context.dialect)
        slots["RANGE_START"] = context.dialect.timestamp(window.utc_start)
    if first_ever:
        matches = series_filter(target, window, context, bounded_below=False).where()
        one, zero = exp.Literal.number(1), exp.Literal.number(0)
        slots["MATCHES"] = exp.If(this=matches, true=one, false=zero)
    slots["ACTOR_MATCH"] = _match(windows)
    if aggregating:
        slots["VALUE"] = _value(settings)
        slots["START_VALUE_EVENTS"] = events(target, bounded=True)
    if windows:
        slots["WINDOW_INDEX"] = _window_index(settings.period, window, context)
        return f"windows:{kind}", slots
    return ("retention_recurring_itself" if itself else kind), slots


def _value_index(brackets: list[int] | None) -> exp.Expr:
    """Which value of its cohort's row a return counts in: the periods since the
    cohort's, or with brackets, the bracket those fall in."""
    since = exp.Sub(this=exp.column("came_back", "r"), expression=exp.column("cohort", "s"))
    if not brackets:
        return since
    case = exp.Case()
    edge = 0
    for index, size in enumerate(brackets, start=1):
        edge += size
        condition = exp.LTE(this=since.copy(), expression=exp.Literal.number(edge))
        case = case.when(condition, exp.Literal.number(index))
    return case


def _match(windows: bool) -> exp.Expr:
    """How a cohort's members meet their returns: by actor, and with 24-hour
    windows (counted from each cohort's own first event) by cohort too."""
    same_actor = exp.EQ(this=exp.column("actor", "s"), expression=exp.column("actor", "r"))
    if not windows:
        return same_actor
    same_cohort = exp.EQ(this=exp.column("cohort", "s"), expression=exp.column("cohort", "r"))
    return exp.and_(same_actor, same_cohort)


def _window_index(period: str, window: TimeWindow, context: QueryContext) -> exp.Expr:
    """Which window after the first start event (``s.first_at``) a return (``r.at``)
    falls in: the hours (or, for weeks and months, the days) between them on the
    project's clock, as boundaries crossed, in windows of 1, 24, 7 or 30."""
    unit, size = WINDOW_UNITS[period]
    units = TimeWindow(window.start, window.end, unit, window.tz, window.week_start)
    between = exp.Sub(
        this=period_index(exp.column("at", "r"), units, context.dialect),
        expression=period_index(exp.column("first_at", "s"), units, context.dialect),
    )
    windows = exp.Floor(
        this=exp.Div(this=exp.Paren(this=between), expression=exp.Literal.number(size))
    )
    return exp.cast(windows, exp.DataType.build("BIGINT"))


# -- results ------------------------------------------------------------------------

Cell = tuple[int, int]  # (cohort, interval)


def run_retention(query: RetentionQuery, context: QueryContext) -> dict[str, Any]:
    settings = query.retentionFilter
    _check(settings)
    window = _window(query, context)
    rows = period_count(window)
    if rows * settings.lookahead > MAX_POINTS:
        raise ResultTooLarge(
            f"this retention table would have more than {MAX_POINTS:,} cells (the result size "
            "limit): use fewer intervals or a shorter range"
        )
    found = context.run(context.compile(_query(query, window, context)))
    context.check_deadline()
    totals: dict[Any, dict[Cell, float]] | None = None
    if settings.aggregating:
        values, totals = _aggregated_cells(found, rows)
    else:
        values = _cells(found, rows, settings.cumulative)
    breakdown = breakdown_of(query.breakdownFilter)
    if breakdown is not None:
        folded = fold_other(values, breakdown, additive=True)
        assert isinstance(folded, Folded)
        if totals is not None:
            totals = _folded_like(totals, folded.values)
        values = folded.values
    ordered = sorted(
        values,
        key=lambda k: (k == BREAKDOWN_OTHER, -_cohort_total(values[k]), str(k)),
    )
    results = [
        _row(
            window,
            settings,
            cohort,
            values.get(value, {}),
            value if breakdown else None,
            None if totals is None else totals.get(value, {}),
        )
        for value in (ordered or [""])
        for cohort in range(rows)
    ]
    return {"results": results, "timings": context.timings}


def _labels(settings: RetentionFilter) -> list[str]:
    """Each value's label: "Day 3", or with brackets the periods one covers, "Day 2-4"."""
    name = settings.period
    brackets = settings.retentionCustomBrackets
    if not brackets:
        return [f"{name} {k}" for k in range(settings.totalIntervals)]
    labels, first = [f"{name} 0"], 1
    for size in brackets:
        last = first + size - 1
        labels.append(f"{name} {first}" if first == last else f"{name} {first}-{last}")
        first = last + 1
    return labels


def _check(settings: RetentionFilter) -> None:
    if settings.aggregating:
        # PostHog's own runner has no defined result for these combinations.
        clashes = {
            "cumulative": settings.cumulative,
            "retentionCustomBrackets": bool(settings.retentionCustomBrackets),
            "timeWindowMode": settings.timeWindowMode == "24_hour_windows",
        }
        for name, clash in clashes.items():
            if clash:
                raise InvalidInput(
                    f"aggregationType {settings.aggregationType!r} cannot be combined with {name}",
                    attr="retentionFilter.aggregationType",
                )
    brackets = settings.retentionCustomBrackets
    if brackets is not None and (not brackets or min(brackets) < 1 or sum(brackets) >= MAX_BUCKETS):
        raise InvalidInput(
            f"retentionCustomBrackets must be periods of 1 or more, fewer than {MAX_BUCKETS}"
            " in all",
            attr="retentionFilter.retentionCustomBrackets",
        )
    if settings.timeWindowMode == "24_hour_windows" and settings.cumulative:
        raise InvalidInput(
            "24-hour windows cannot be cumulative (as in PostHog)", attr="timeWindowMode"
        )


def _cells(found: list[list[Any]], rows: int, cumulative: bool) -> dict[Any, dict[Cell, float]]:
    """breakdown value → (cohort, interval) → actors."""
    values: dict[Any, dict[Cell, float]] = defaultdict(lambda: defaultdict(float))
    for cohort, value, k, actors in found:
        if 0 <= cohort < rows:
            values[value][(int(cohort), int(k))] += float(actors)
    if cumulative:
        for cells in values.values():
            last = dict(cells)
            for (cohort, k), actors in last.items():
                for earlier in range(1, k):
                    cells[(cohort, earlier)] += actors
    return {value: dict(cells) for value, cells in values.items()}


def _aggregated_cells(
    found: list[list[Any]], rows: int
) -> tuple[dict[Any, dict[Cell, float]], dict[Any, dict[Cell, float]]]:
    """breakdown value → (cohort, interval) → actors, and → the property's sum."""
    counts: dict[Any, dict[Cell, float]] = defaultdict(lambda: defaultdict(float))
    sums: dict[Any, dict[Cell, float]] = defaultdict(lambda: defaultdict(float))
    for cohort, value, k, actors, total in found:
        if 0 <= cohort < rows:
            cell = (int(cohort), int(k))
            counts[value][cell] += float(actors)
            sums[value][cell] += float(total or 0)
    return (
        {v: dict(c) for v, c in counts.items()},
        {v: dict(c) for v, c in sums.items()},
    )


def _folded_like(
    sums: dict[Any, dict[Cell, float]], kept: dict[Any, dict[Cell, float]]
) -> dict[Any, dict[Cell, float]]:
    """The sums folded into "Other" as the counts were (``kept`` is their result)."""
    out = {v: c for v, c in sums.items() if v in kept and v != BREAKDOWN_OTHER}
    if BREAKDOWN_OTHER in kept:
        other: dict[Cell, float] = defaultdict(float)
        for value, cells in sums.items():
            if value not in out:
                for cell, total in cells.items():
                    other[cell] += total
        out[BREAKDOWN_OTHER] = dict(other)
    return out


def _cohort_total(cells: dict[Cell, float]) -> float:
    return sum(v for (_, k), v in cells.items() if k == 0)


def _row(
    window: TimeWindow,
    settings: RetentionFilter,
    cohort: int,
    cells: dict[Cell, float],
    breakdown_value: Any,
    totals: dict[Cell, float] | None = None,
) -> dict[str, Any]:
    name = settings.period
    start: datetime = period_start(window, cohort)
    values: list[dict[str, Any]] = []
    for k, label in enumerate(_labels(settings)):
        count = int(cells.get((cohort, k), 0))
        value: dict[str, Any] = {"count": count, "label": label}
        if totals is not None:
            total = totals.get((cohort, k), 0.0)
            # avg: per actor counted in the cell.
            if settings.aggregationType == "avg":
                total = total / count if count else 0.0
            value["aggregation_value"] = total
        values.append(value)
    return {
        "label": f"{name} {cohort}",
        "date": start.replace(tzinfo=window.tz).isoformat(),
        "breakdown_value": breakdown_value,
        "values": values,
    }


def retention_actors(
    query: RetentionQuery,
    context: QueryContext,
    cohort: int,
    interval: int = 0,
    breakdown_value: str | None = None,
) -> list[str]:
    """The actors counted in one cell: row ``cohort``, value ``interval``."""
    settings = query.retentionFilter
    _check(settings)
    if not 0 <= interval < settings.lookahead:
        raise InvalidInput(f"the interval must be 0 to {settings.lookahead - 1}", attr="interval")
    window = _window(query, context)
    starts, slots = _slots(query, window, context)
    slots["COHORT"] = exp.Literal.number(cohort)
    slots["BREAKDOWN_MATCH"] = (
        exp.EQ(
            this=exp.column("breakdown_value", "s"), expression=exp.Literal.string(breakdown_value)
        )
        if breakdown_value is not None
        else exp.true()
    )
    value = slots["VALUE_INDEX"]
    wanted = exp.Literal.number(interval)
    # Later still, when cumulative; in the row's reach either way.
    in_value = (exp.GTE if settings.cumulative else exp.EQ)(this=value, expression=wanted)
    slots["RETURNED"] = exp.and_(
        exp.GT(this=exp.column("came_back", "r"), expression=exp.column("cohort", "s")),
        exp.LT(
            this=exp.column("came_back", "r"),
            expression=exp.Add(this=exp.column("cohort", "s"), expression=slots["LOOKAHEAD"]),
        ),
        in_value,
    )
    final = _CELL_ACTORS if interval == 0 else _RETURNED_ACTORS
    rows = context.run(context.compile(fill_named(f"WITH {_ctes(starts)} {final}", slots)))
    return [str(row[0]) for row in rows]
