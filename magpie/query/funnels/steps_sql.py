"""Ordered funnels shown as steps, in one query that the engine runs whole.

Most funnels are ordered, without exclusions or optional steps, broken down
by first or last touch if at all. For those the matching of ``matching.py``
has a closed form that window functions compute, so no event leaves the
engine:

- ``s_0`` is the time of each first-step event: an attempt's start.
- ``s_k`` (the event matches step k) is the latest start among the earlier
  events that reached step k-1 within the window: a running maximum over the
  actor's events in time order. Starts only grow, so the latest start is the
  best one, as in the matching rules, and the running maximum is the last start
  set (``last_value … IGNORE NULLS``).
- The actor's furthest step is the highest ``k`` with a start; its best
  attempt is the first to get there (both per actor by plain aggregates), and
  the time it reached each step is the first event carrying that start at that
  step (the actor's events joined to its best start once).

Times are microseconds from the range's start; ties at one instant are
tried in step order (``ord``). Each step adds one window pass; the counts,
average and (discrete) median conversion times per breakdown value come back
as a handful of rows.

Measured at 1M events and kept because faster: the running start as
``last_value … IGNORE NULLS`` (a ``max`` over a frame that ends before the row
keeps a tree of partial maxima), and the best attempt by aggregates and a join
(windows over each actor's events cost more). Slower and not used: a fold over
each actor's sorted events (DuckDB's ``list_reduce``, ClickHouse's
``arrayFold``) carrying the same state.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from magpie.query.breakdowns import Breakdown
from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow
from magpie.query.funnels.models import FunnelsQuery
from magpie.query.funnels.rows import (
    MICROS,
    actor_expression,
    funnel_where,
    micros_since,
    node_condition,
)

# Steps per funnel are at most 30: the step order fits below 32 in ``ord``.
_ORDER_SLOTS = 32


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


def _c(name: str) -> exp.Column:
    return exp.column(name)


def _n(value: int | float) -> exp.Expr:
    return exp.Literal.number(value)


def _null() -> exp.Expr:
    return exp.Null()


def _is_set(value: exp.Expr) -> exp.Expr:
    return exp.not_(exp.Is(this=value, expression=exp.Null()))


def _when(condition: exp.Expr, value: exp.Expr) -> exp.Expr:
    return exp.Case().when(condition, value)


def _sub(query: exp.Select, alias: str) -> exp.Expr:
    return exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _valid(start: str, window_us: int) -> exp.Expr:
    """An event's start, if the event is within the window from it."""
    within = exp.LTE(this=exp.Sub(this=_c("us"), expression=_c(start)), expression=_n(window_us))
    return _when(within, _c(start))


def _running_max(value: exp.Expr) -> exp.Expr:
    """The largest value over the actor's earlier events. The values that are set
    only grow along the actor's events, so the largest is the last one set: engines
    carry that forward in one pass, where a running ``max`` over a frame that ends
    before the row keeps a tree of partial maxima."""
    return exp.Window(
        this=exp.IgnoreNulls(this=exp.LastValue(this=value)),
        partition_by=[_c("actor")],
        order=exp.Order(expressions=[exp.Ordered(this=_c("ord"))]),
        spec=exp.WindowSpec(
            kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end=_n(1), end_side="PRECEDING"
        ),
    )


def per_actor_query(
    query: FunnelsQuery,
    period: TimeWindow,
    context: QueryContext,
    breakdown: Breakdown | None,
    kept: list[str] | None = None,
) -> exp.Select:
    """One row per actor in the funnel: ``actor``, ``reached`` (steps), ``t0`` … (when
    its best attempt reached each step) and ``value`` (its breakdown value, "" without
    one; ``kept``: the values to keep, the others named "Other", None: all)."""
    n = len(query.series)
    window_us = query.funnelsFilter.window_seconds * MICROS
    conditions = [node_condition(node, context) for node in query.series]
    actor = actor_expression(query)
    us = micros_since(period.utc_start, context)
    steps = [f"b{i}" for i in range(n)]
    carried = ["actor", "us", "ord", *steps] + (["bv"] if breakdown else [])
    events = (
        exp.select(
            exp.alias_(actor, "actor"),
            exp.alias_(us, "us"),
            *(exp.alias_(c, s) for c, s in zip(conditions, steps, strict=True)),
            *([exp.alias_(breakdown.expression.copy(), "bv")] if breakdown else []),
        )
        .from_("events")
        .where(funnel_where(query, period, context, conditions, actor))
    )
    first_step = exp.Case()
    for i, name in enumerate(steps):
        first_step = first_step.when(_c(name), _n(i))
    first_step = first_step.else_(_n(n))
    order = exp.Add(this=exp.Mul(this=_c("us"), expression=_n(_ORDER_SLOTS)), expression=first_step)
    base = exp.select(
        *(_c(c) for c in carried if c != "ord"),
        exp.alias_(order, "ord"),
        exp.alias_(_when(_c("b0"), _c("us")), "s0"),
    ).from_(_sub(events, "e"))
    level: exp.Select = base
    starts = ["s0"]
    for k in range(1, n):
        start = f"s{k}"
        level = exp.select(
            *(_c(c) for c in carried + starts),
            exp.alias_(_when(_c(f"b{k}"), _running_max(_valid(f"s{k - 1}", window_us))), start),
        ).from_(_sub(level, f"l{k}"))
        starts.append(start)
    # Each event's valid starts and the furthest step it reached.
    reached = exp.Case()
    for k in reversed(range(n)):
        reached = reached.when(_is_set(_valid(f"s{k}", window_us)), _n(k + 1))
    reached = reached.else_(_n(0))
    rows = exp.select(
        *(_c(c) for c in carried),
        *(exp.alias_(_valid(f"s{k}", window_us), f"v{k}") for k in range(n)),
        exp.alias_(reached, "r"),
    ).from_(_sub(level, "lw"))
    # Per actor: the furthest step and the start of the first event that got there
    # (its best attempt), as aggregates (cheaper than windows over each actor).
    furthest = [
        exp.alias_(exp.Max(this=_c("r")), "k"),
        *(
            exp.alias_(
                exp.ArgMin(this=_c(f"v{k}"), expression=_when(_is_set(_c(f"v{k}")), _c("ord"))),
                f"f{k}",
            )
            for k in range(n)
        ),
    ]
    if breakdown is not None:
        pick = exp.ArgMax if _last_touch(query) else exp.ArgMin
        furthest.append(
            exp.alias_(pick(this=_c("bv"), expression=_when(_is_set(_c("bv")), _c("ord"))), "touch")
        )
    best_start = exp.Case()
    for k in range(n):
        best_start = best_start.when(exp.EQ(this=_c("k"), expression=_n(k + 1)), _c(f"f{k}"))
    grouped = exp.select(_c("actor"), *furthest).from_("actor_events").group_by(_c("actor"))
    best = exp.select(
        _c("actor"),
        _c("k"),
        exp.alias_(best_start, "best"),
        *([_c("touch")] if breakdown is not None else []),
    ).from_(_sub(grouped, "g"))
    best = best.where(exp.GT(this=_c("k"), expression=_n(0)))
    # Then when that attempt reached each step: the first event carrying its start.
    per_actor = [
        exp.alias_(exp.Max(this=exp.column("k", "b")), "reached"),
        *(
            exp.alias_(
                exp.Min(
                    this=_when(
                        exp.EQ(this=exp.column(f"v{k}", "x"), expression=exp.column("best", "b")),
                        exp.column("us", "x"),
                    )
                ),
                f"t{k}",
            )
            for k in range(n)
        ),
    ]
    if breakdown is not None:
        per_actor.append(exp.alias_(exp.Max(this=exp.column("touch", "b")), "touch"))
    per_actor.append(exp.alias_(exp.column("actor", "b"), "actor"))
    actors = (
        exp.select(*per_actor)
        .from_(exp.to_table("actor_events", alias="x"))
        .join(
            exp.to_table("best_attempts", alias="b"),
            on=exp.EQ(this=exp.column("actor", "x"), expression=exp.column("actor", "b")),
        )
        .group_by(exp.column("actor", "b"))
        .with_("actor_events", as_=rows)
        .with_("best_attempts", as_=best)
    )
    value: exp.Expr = exp.Literal.string("")
    if breakdown is not None:
        value = exp.func("coalesce", exp.cast(_c("touch"), "VARCHAR"), exp.Literal.string(""))
        if kept is not None:
            is_kept = exp.In(this=value.copy(), expressions=[exp.Literal.string(v) for v in kept])
            value = exp.If(this=is_kept, true=value, false=exp.Literal.string("Other"))
    return exp.select(
        _c("actor"), _c("reached"), *(_c(f"t{k}") for k in range(n)), exp.alias_(value, "value")
    ).from_(_sub(actors, "la"))


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
        .from_(_sub(per_actor_query(query, period, context, breakdown, kept), "pa"))
        .where(exp.and_(*where))
        .order_by(_c("actor_id"))
    )


def _reached(step: int) -> exp.Expr:
    return exp.GT(this=_c("reached"), expression=_n(step))


def _last_touch(query: FunnelsQuery) -> bool:
    return query.funnelsFilter.breakdownAttributionType == "last_touch"


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
