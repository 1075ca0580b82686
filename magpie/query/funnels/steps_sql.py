"""Ordered funnels shown as steps, in one query that the engine runs whole.

Most funnels are ordered, without exclusions or optional steps, broken down
by first or last touch if at all. For those the matching of ``matching.py``
has a closed form the engine computes, so no event leaves it:

- An attempt starts at each first-step event, at its time.
- A step-k event takes the latest start among the earlier events that reached
  step k-1 (and keeps it if it lies within the window of it). Starts only grow
  along an actor's events, so the latest start is the one of the closest such
  event before it, and the latest start is the best one, as in the matching
  rules. An event advances one step: it never takes its own start.
- The actor's furthest step is the highest with a kept start; its best
  attempt is the first to get there (per actor by plain aggregates), and the
  time it reached each step is the first event carrying that start at that
  step (the later steps' events joined to its best start once). The first
  step's events, most of a funnel's, are read by one aggregate per actor (who
  is in the funnel at all), and an attempt's start is the time of its
  first-step event.

Times are microseconds from the range's start; ties at one instant are tried
in step order (``o``: the time, then the first step the event matches). The
counts, average and (discrete) median conversion times per breakdown value
come back as a handful of rows.

The closest earlier event comes from an as-of join of each step's events to
the kept starts of the step before (one sort, or on ClickHouse one hash table,
per step's events). The CTEs read more than once are marked ``MATERIALIZED``,
so every engine computes them once: DuckDB does so anyway, and ClickHouse, which
otherwise inlines a CTE at every reference, does so with
``enable_materialized_cte`` (part of its dialect's settings). Measured at 10M
events this plan took half the time of a running last value over each actor's
events (one window pass per step) on ClickHouse, and 36% less CPU at 1M on
DuckDB; slower still and not used: a fold over each actor's sorted events
(DuckDB's ``list_reduce``, ClickHouse's ``arrayFold``) carrying the same state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from magpie.query.breakdowns import Breakdown
from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow
from magpie.query.entities import is_action
from magpie.query.filters import field
from magpie.query.funnels.models import FunnelsQuery
from magpie.query.funnels.rows import (
    MICROS,
    actor_expression,
    funnel_where,
    micros_since,
    node_condition,
)
from magpie.query.funnels.sql_parts import ORDER_SLOTS
from magpie.query.funnels.sql_parts import c as _c
from magpie.query.funnels.sql_parts import is_set as _is_set
from magpie.query.funnels.sql_parts import last_touch as _last_touch
from magpie.query.funnels.sql_parts import n as _n
from magpie.query.funnels.sql_parts import sub as _sub
from magpie.query.funnels.sql_parts import when as _when

# Places for the events of one instant: more than a funnel's events.
_EVENT_SLOTS = 1 << 40
# The bits of ``o`` below the time where it holds only time and step.
_STEP_BITS = ORDER_SLOTS.bit_length() - 1


def fits(query: FunnelsQuery) -> bool:
    """Whether this closed form answers the query exactly."""
    f = query.funnelsFilter
    by_touch = (
        query.breakdownFilter is None
        or query.breakdownFilter.breakdown is None
        or (f.breakdownAttributionType in ("first_touch", "last_touch"))
    )
    return (
        f.funnelOrderType == "ordered"
        and f.funnelVizType in ("steps", "time_to_convert")
        and not f.exclusions
        and not any(s.optionalInFunnel for s in query.series)
        and by_touch
    )


def _reached_step(
    step_rows: exp.Select, previous: exp.Expr, start: exp.Expr, window_us: int, places: _Places
) -> exp.Select:
    """A step's events, each with the latest start among the earlier events that
    reached the step before (``previous``: their ``actor``, ``o`` and what gives
    their ``start``; an as-of join: the closest such event before it), kept as
    ``v`` if the event lies within the window from it. The join's sides carry no
    more than it needs (times are read from places after it): the sort of the
    first step's events is most of a funnel's time."""
    us = places.time("x")
    within = exp.LTE(
        this=exp.Sub(this=us.copy(), expression=start.copy()), expression=_n(window_us)
    )
    on = exp.and_(
        exp.EQ(this=exp.column("actor", "x"), expression=exp.column("actor", "p")),
        exp.GT(this=exp.column("o", "x"), expression=exp.column("o", "p")),
    )
    return (
        exp.select(
            exp.alias_(exp.column("actor", "x"), "actor"),
            exp.alias_(us, "us"),
            exp.alias_(exp.column("o", "x"), "o"),
            exp.alias_(_when(within, start), "v"),
        )
        .from_(_sub(step_rows, "x"))
        .join(previous, on=on, join_type="ASOF")
    )


def _one_step_per_event(query: FunnelsQuery) -> bool:
    """Whether no event can match two steps: each step names one event, each step
    a different one (a step's property filters only narrow it)."""
    names = [node.event for node in query.series]
    plain = all(not is_action(node) and node.event is not None for node in query.series)
    return plain and len(set(names)) == len(names)


@dataclass(frozen=True)
class _Places:
    """How the funnel's events carry their time and steps. Where no event matches
    two steps, ``o`` holds both (time × 32 + step): the events keep no other column
    for them, a quarter less to hold for every funnel event (3-step funnel at 10M
    events: 9% less CPU). Otherwise a column ``us`` (the time) and one flag
    ``b{i}`` per step."""

    one_step_per_event: bool

    def order(self, us: exp.Expr, conditions: list[exp.Expr]) -> exp.Expr:
        """``o``: an event's place among the actor's events, by time, then the first
        step it matches, then (where an event may match several steps) a place of
        its own.

        Where no event matches two steps, time and step tell apart every pair of
        events the plan compares: an event is compared only with events of the step
        before, and two events of one step at one instant find the same closest
        earlier event, so either may stand for the other. Then ``o`` is a 64-bit
        integer and no event id is read.

        Otherwise events at one instant matching the same steps come one after the
        other (two views at once are two views, and a view never takes its own
        start): the place is the low 40 bits of a hash of the event's uuid, not its
        row number (numbering the rows is a window over all of them that took a
        third of a 10M-event funnel's time). Two events of one actor at the same
        microsecond and first step would share a place only if those bits agree
        (about one pair in 10^12); they would then count as one event. 128-bit
        integers, so that no range overflows."""
        n = len(conditions)
        first_step = exp.Case()
        for i, c in enumerate(conditions):
            first_step = first_step.when(c.copy(), _n(i))
        first_step = first_step.else_(_n(n))
        order = exp.Add(
            this=exp.Mul(this=us.copy(), expression=_n(ORDER_SLOTS)), expression=first_step
        )
        if self.one_step_per_event:
            return order
        tiebreak = exp.Mod(
            this=exp.CityHash64(expressions=[field("uuid")]), expression=_n(_EVENT_SLOTS)
        )
        return exp.Add(
            this=exp.Mul(
                this=exp.cast(order, exp.DataType.build("INT128")), expression=_n(_EVENT_SLOTS)
            ),
            expression=tiebreak,
        )

    def columns(self, us: exp.Expr, conditions: list[exp.Expr]) -> list[exp.Expr]:
        if self.one_step_per_event:
            return []
        flags = [exp.alias_(c, f"b{i}") for i, c in enumerate(conditions)]
        return [exp.alias_(us.copy(), "us"), *flags]

    def time(self, table: str | None = None) -> exp.Expr:
        if self.one_step_per_event:  # bit operations: cheaper than // and % per row
            return exp.BitwiseRightShift(this=exp.column("o", table), expression=_n(_STEP_BITS))
        return exp.column("us", table)

    def step_columns(self) -> list[exp.Expr]:
        """What a step's events carry into the as-of join: the actor, the place and
        (where the place holds no time) the time."""
        return [_c("actor"), _c("o"), *([] if self.one_step_per_event else [_c("us")])]

    def on_step(self, k: int) -> exp.Expr:
        if self.one_step_per_event:
            step = exp.BitwiseAnd(this=_c("o"), expression=_n(ORDER_SLOTS - 1))
            return exp.EQ(this=exp.paren(step), expression=_n(k))
        return _c(f"b{k}")


def per_actor_query(
    query: FunnelsQuery,
    period: TimeWindow,
    context: QueryContext,
    breakdown: Breakdown | None,
    kept: list[str] | None = None,
    *,
    with_times: bool = True,
    named: bool = False,
) -> exp.Select:
    """One row per actor in the funnel: ``actor``, ``reached`` (steps), ``t0`` … (when
    its best attempt reached each step; NULL for an actor who got no further than the
    first step, whose times no number reads) and ``value`` (its breakdown value, ""
    without one; ``kept``: the values to keep, the others named "Other", None: all).
    Without ``with_times`` no ``t`` columns: who got how far needs no best attempt.

    The plan tells actors apart by a 64-bit hash of their id (``actor``): joins,
    sorts and groups on it take a quarter less time than on a 128-bit person id
    (3-step funnel at 10M events, DuckDB: 29% less wall time), more so on text
    ids. Two actors of a funnel share a hash with a chance of about n²/3.7×10¹⁹
    (n actors: one in 37 million queries of a million actors); they would then
    count as one. ``actor`` is the actor's own id only where asked for
    (``named``): the ids ride along to the per-actor rows.

    The first step's events are most of a funnel's (every page view, say) and are
    read by plain aggregates only: one pass tells who is in the funnel (and gives
    the breakdown touch), and the start of any attempt is the time of its
    first-step event. Only the later steps' events are kept and grouped per
    attempt, which keeps a 10M-event funnel within DuckDB's memory limit."""
    n = len(query.series)
    window_us = query.funnelsFilter.window_seconds * MICROS
    conditions = [node_condition(node, context) for node in query.series]
    actor = actor_expression(query)
    us = micros_since(period.utc_start, context)
    places = _Places(_one_step_per_event(query))
    events = (
        exp.select(
            exp.alias_(exp.CityHash64(expressions=[actor.copy()]), "actor"),
            *([exp.alias_(actor, "who")] if named else []),
            exp.alias_(places.order(us, conditions), "o"),
            *places.columns(us, conditions),
            *([exp.alias_(breakdown.expression.copy(), "bv")] if breakdown else []),
        )
        .from_("events")
        .where(funnel_where(query, period, context, conditions, actor))
    )
    reached_ctes = _reached_ctes(n, window_us, places)
    starters = _actor_starts(query, breakdown, places, named)
    outer = exp.select(
        exp.alias_(exp.column("who" if named else "actor", "s"), "actor"),
        *([exp.alias_(exp.column("touch", "s"), "touch")] if breakdown else []),
    ).from_(exp.to_table("actor_starts", alias="s"))
    # (name, query, read more than once: computed once, see the module's notes)
    ctes: list[tuple[str, exp.Query, bool]] = [
        ("funnel_events", events, True),
        ("actor_starts", starters, False),
        *((name, cte, k < n - 1) for k, (name, cte) in enumerate(reached_ctes, start=1)),
        ("valid_rows", _valid_rows(n), with_times),
    ]
    time_columns = [f"t{k}" for k in range(n)] if with_times else []
    if with_times:
        ctes += _best_attempt_ctes(n)
        outer = (
            outer.select(
                exp.alias_(_coalesce(exp.column("reached", "b"), _n(1)), "reached"),
                exp.alias_(exp.column("best", "b"), "t0"),
                *(exp.alias_(exp.column(f"t{k}", "t"), f"t{k}") for k in range(1, n)),
            )
            .join(exp.to_table("best_attempts", alias="b"), on=_same_actor("b"), join_type="left")
            .join(exp.to_table("attempt_times", alias="t"), on=_same_actor("t"), join_type="left")
        )
    else:
        furthest = (
            exp.select(_c("actor"), exp.alias_(exp.Max(this=_c("k")), "reached"))
            .from_("valid_rows")
            .group_by(_c("actor"))
        )
        outer = outer.select(
            exp.alias_(_coalesce(exp.column("reached", "f"), _n(1)), "reached")
        ).join(_sub(furthest, "f"), on=_same_actor("f"), join_type="left")
    value: exp.Expr = exp.Literal.string("")
    if breakdown is not None:
        value = exp.func("coalesce", exp.cast(_c("touch"), "VARCHAR"), exp.Literal.string(""))
        if kept is not None:
            is_kept = exp.In(this=value.copy(), expressions=[exp.Literal.string(v) for v in kept])
            value = exp.If(this=is_kept, true=value, false=exp.Literal.string("Other"))
    result = exp.select(
        _c("actor"), _c("reached"), *(_c(t) for t in time_columns), exp.alias_(value, "value")
    ).from_(_sub(outer, "pa"))
    for name, cte, shared in ctes:
        result = result.with_(name, as_=cte, materialized=shared or None, copy=False)
    return result


def _reached_ctes(n: int, window_us: int, places: _Places) -> list[tuple[str, exp.Select]]:
    """Step k's events with their valid starts (``v``), one CTE per step from the
    second (``reached_k``): the first step's events start attempts at their own time."""
    # A first-step event starts an attempt at its own time.
    previous = exp.select(*places.step_columns()).from_("funnel_events").where(places.on_step(0))
    start = places.time("p")
    ctes: list[tuple[str, exp.Select]] = []
    for k in range(1, n):
        rows = exp.select(*places.step_columns()).from_("funnel_events").where(places.on_step(k))
        step = _reached_step(rows, _sub(previous, "p"), start, window_us, places)
        ctes.append((f"reached_{k}", step))
        previous = (
            exp.select(_c("actor"), _c("o"), _c("v")).from_(f"reached_{k}").where(_is_set(_c("v")))
        )
        start = exp.column("v", "p")
    return ctes


def _actor_starts(
    query: FunnelsQuery, breakdown: Breakdown | None, places: _Places, named: bool
) -> exp.Select:
    """The actors in the funnel (those with a first-step event), once each, in one
    pass over their funnel events: with its breakdown value (``touch``, from all of
    them) and, if ``named``, its id (``who``). Without a breakdown only the first
    step's events are grouped (3-step funnel at 10M events: a third less CPU for
    this pass)."""
    columns: list[exp.Expr] = [_c("actor")]
    if named:
        columns.append(exp.alias_(exp.Min(this=_c("who")), "who"))
    starters = exp.select(*columns).from_("funnel_events")
    if breakdown is None:
        return starters.where(places.on_step(0)).group_by(_c("actor"))
    pick = exp.ArgMax if _last_touch(query) else exp.ArgMin
    touch = pick(this=_c("bv"), expression=_when(_is_set(_c("bv")), _c("o")))
    return (
        starters.select(exp.alias_(touch, "touch"))
        .group_by(_c("actor"))
        .having(_is_set(exp.Min(this=_when(places.on_step(0), _c("o")))))
    )


def _valid_rows(n: int) -> exp.Query:
    """The events of the second step on that reached it within the window: actor,
    time, place, start and the steps reached (``k``)."""
    union: exp.Query | None = None
    for k in range(1, n):
        part = (
            exp.select("actor", "us", "o", "v", exp.alias_(_n(k + 1), "k"))
            .from_(f"reached_{k}")
            .where(_is_set(_c("v")))
        )
        union = part if union is None else exp.union(union, part, distinct=False)
    assert union is not None
    return union


def _best_attempt_ctes(n: int) -> list[tuple[str, exp.Select, bool]]:
    """Per actor that got past the first step: the furthest step and, as its best
    attempt, the start of the first to get there (``best_attempts``); then when that
    attempt reached each later step, the first event carrying its start
    (``attempt_times``)."""
    firsts = (
        exp.select(
            _c("actor"), _c("k"), exp.alias_(exp.ArgMin(this=_c("v"), expression=_c("o")), "f")
        )
        .from_("valid_rows")
        .group_by(_c("actor"), _c("k"))
    )
    best = (
        exp.select(
            _c("actor"),
            exp.alias_(exp.Max(this=_c("k")), "reached"),
            exp.alias_(exp.ArgMax(this=_c("f"), expression=_c("k")), "best"),
        )
        .from_(_sub(firsts, "fk"))
        .group_by(_c("actor"))
    )
    times = [
        exp.alias_(
            exp.Min(
                this=_when(
                    exp.EQ(this=exp.column("k", "r"), expression=_n(k + 1)),
                    exp.column("us", "r"),
                )
            ),
            f"t{k}",
        )
        for k in range(1, n)
    ]
    attempt_times = (
        exp.select(exp.alias_(exp.column("actor", "b"), "actor"), *times)
        .from_(exp.to_table("valid_rows", alias="r"))
        .join(
            exp.to_table("best_attempts", alias="b"),
            on=exp.and_(
                exp.EQ(this=exp.column("actor", "r"), expression=exp.column("actor", "b")),
                exp.EQ(this=exp.column("v", "r"), expression=exp.column("best", "b")),
            ),
        )
        .group_by(exp.column("actor", "b"))
    )
    return [("best_attempts", best, True), ("attempt_times", attempt_times, False)]


def _same_actor(alias: str) -> exp.Expr:
    return exp.EQ(this=exp.column("actor", "s"), expression=exp.column("actor", alias))


def _coalesce(value: exp.Expr, fallback: exp.Expr) -> exp.Expr:
    return exp.func("coalesce", value, fallback)


def steps_query(
    query: FunnelsQuery,
    period: TimeWindow,
    context: QueryContext,
    breakdown: Breakdown | None,
    kept: list[str] | None = None,
) -> exp.Select:
    """Rows of (breakdown value, count per step, average and median seconds per step)."""
    n = len(query.series)
    totals: list[exp.Expr] = [_c("value")]
    for i in range(n):
        totals.append(
            exp.alias_(exp.Sum(this=exp.If(this=_reached(i), true=_n(1), false=_n(0))), f"c{i}")
        )
    for i in range(1, n):
        elapsed = exp.paren(exp.Sub(this=_c(f"t{i}"), expression=_c(f"t{i - 1}")))
        seconds = exp.Div(this=elapsed, expression=_n(float(MICROS)))
        totals.append(exp.alias_(exp.Avg(this=_when(_reached(i), seconds)), f"a{i}"))
        totals.append(
            exp.alias_(
                exp.Quantile(this=_when(_reached(i), seconds.copy()), quantile=_n(0.5)), f"m{i}"
            )
        )
    actors = per_actor_query(query, period, context, breakdown, kept)
    return exp.select(*totals).from_(_sub(actors, "pa")).group_by(_n(1))


def conversion_seconds(
    query: FunnelsQuery,
    period: TimeWindow,
    context: QueryContext,
    breakdown: Breakdown | None,
    start: int,
    end: int,
) -> list[float]:
    """Seconds from step ``start`` to step ``end`` of every actor who reached ``end``."""
    elapsed = exp.paren(exp.Sub(this=_c(f"t{end}"), expression=_c(f"t{start}")))
    select = (
        exp.select(exp.Div(this=elapsed, expression=_n(float(MICROS))))
        .from_(_sub(per_actor_query(query, period, context, breakdown), "pa"))
        .where(_reached(end))
    )
    return [float(r[0]) for r in context.run(context.compile(select))]


def actors_query(
    query: FunnelsQuery,
    period: TimeWindow,
    context: QueryContext,
    breakdown: Breakdown | None,
    reached: exp.Expr,
    value: str | None,
    kept: list[str] | None = None,
) -> exp.Select:
    """The actors (as text, sorted) whose ``reached`` condition holds, of one value."""
    where = [reached]
    if value is not None:
        where.append(exp.EQ(this=_c("value"), expression=exp.Literal.string(value)))
    return (
        exp.select(exp.alias_(exp.cast(_c("actor"), "VARCHAR"), "actor_id"))
        .from_(
            _sub(
                per_actor_query(
                    query, period, context, breakdown, kept, with_times=False, named=True
                ),
                "pa",
            )
        )
        .where(exp.and_(*where))
        .order_by(_c("actor_id"))
    )


def _reached(step: int) -> exp.Expr:
    return exp.GT(this=_c("reached"), expression=_n(step))


def step_stats(
    query: FunnelsQuery,
    period: TimeWindow,
    context: QueryContext,
    breakdown: Breakdown | None,
    kept: list[str] | None = None,
) -> dict[Any, list[tuple[int, float | None, float | None]]]:
    """Breakdown value → (count, average, median seconds) per step."""
    n = len(query.series)
    rows = context.run(context.compile(steps_query(query, period, context, breakdown, kept)))
    out = {}
    for row in rows:
        counts = [int(c or 0) for c in row[1 : n + 1]]
        timing = row[n + 1 :]
        stats: list[tuple[int, float | None, float | None]] = [(counts[0], None, None)]
        for i in range(1, n):
            average, median = timing[2 * (i - 1)], timing[2 * (i - 1) + 1]
            stats.append(
                (
                    counts[i],
                    None if average is None or not counts[i] else float(average),
                    None if median is None or not counts[i] else float(median),
                )
            )
        out[row[0] if breakdown is not None else None] = stats
    return out
