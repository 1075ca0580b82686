"""The ordered plan by window functions, for engines that compute a CTE again at
each reference (ClickHouse inlines them): ``s_k`` (the event matches step k) is
the latest start among the earlier events that reached step k-1 within the
window, carried forward in one window pass per step (``last_value … IGNORE
NULLS``: starts only grow, so the last one set is the largest); the actor's
furthest step and best attempt by aggregates, the times of that attempt by one
join. ``steps_sql.py`` has the rules both plans follow.
"""

from __future__ import annotations

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
from magpie.query.funnels.sql_parts import ORDER_SLOTS
from magpie.query.funnels.sql_parts import c as _c
from magpie.query.funnels.sql_parts import is_set as _is_set
from magpie.query.funnels.sql_parts import last_touch as _last_touch
from magpie.query.funnels.sql_parts import n as _n
from magpie.query.funnels.sql_parts import sub as _sub
from magpie.query.funnels.sql_parts import when as _when


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
    *,
    with_times: bool = True,
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
    order = exp.Add(this=exp.Mul(this=_c("us"), expression=_n(ORDER_SLOTS)), expression=first_step)
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
