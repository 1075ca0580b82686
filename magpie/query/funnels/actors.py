"""FunnelsActorsQuery: who reached a step, or dropped off before it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.actors.actor_set import ActorSet, actor_set
from magpie.query.actors.models import FunnelsActorsQuery
from magpie.query.breakdowns import breakdown_of
from magpie.query.context import QueryContext
from magpie.query.funnels import steps_sql
from magpie.query.funnels.compute import ActorOutcome, compute, period_of, rules_of
from magpie.query.funnels.views import Bins, conversions, entry_periods, from_to, kept_values


def _custom_steps(source: FunnelsActorsQuery, steps: int) -> list[int] | None:
    """``funnelCustomSteps``: the actors whose furthest step is one of these (1-based),
    instead of ``funnelStep``."""
    custom = source.funnelCustomSteps
    if custom is None:
        return None
    if not custom or any(not 1 <= s <= steps for s in custom):
        raise InvalidInput(
            f"funnelCustomSteps must list steps 1 to {steps}", attr="funnelCustomSteps"
        )
    return sorted(set(custom))


def _step_filter(source: FunnelsActorsQuery, steps: int) -> Callable[[ActorOutcome], bool]:
    custom = _custom_steps(source, steps)
    if custom is not None:
        return lambda o: o.outcome.reached in custom
    step = source.funnelStep
    if step is None or step == 0 or abs(step) > steps or step == -1:
        raise InvalidInput(
            f"funnelStep must be 1 to {steps} (reached it) or -2 to -{steps} (dropped off"
            " before it)",
            attr="funnelStep",
        )
    if step > 0:
        return lambda o: o.outcome.reached >= step
    return lambda o: o.outcome.reached == -step - 1


def _breakdown_filter(value: Any) -> Callable[[Any], bool]:
    if value is None:
        return lambda shown: True
    wanted = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return lambda shown: [shown] == wanted


def funnel_actors(source: FunnelsActorsQuery, context: QueryContext) -> ActorSet:
    query = source.source
    steps = len(query.series)
    in_value = _breakdown_filter(source.funnelStepBreakdown)
    if query.funnelsFilter.funnelVizType == "trends":
        return _trends_actors(source, context, in_value)
    if source.funnelTimeToConvertBin is not None:
        return _bin_actors(source, context)
    keep = _step_filter(source, steps)
    if steps_sql.fits(query):
        return _planned_actors(source, context)
    computed = compute(query, context, with_distinct_id=True)
    chosen = [o for o in computed.outcomes if keep(o) and in_value(o.value)]
    return _actors(query.aggregation_group_type_index, chosen)


def _planned_actors(source: FunnelsActorsQuery, context: QueryContext) -> ActorSet:
    """The actors straight from the one-query plan: no event leaves the engine."""
    query = source.source
    rules_of(query)
    period = period_of(query, context)
    breakdown = breakdown_of(query.breakdownFilter)
    condition = _reached_condition(source)
    value, kept = None, None
    if breakdown is not None:
        wanted = source.funnelStepBreakdown
        if wanted is not None:
            value = str(wanted[0] if isinstance(wanted, list) and wanted else wanted)
        kept = kept_values(steps_sql.step_stats(query, period, context, breakdown), breakdown.limit)
    select = steps_sql.actors_query(query, period, context, breakdown, condition, value, kept)
    rows = context.run(context.compile(select))
    return actor_set([r[0] for r in rows], None, query.aggregation_group_type_index)


def _reached_condition(source: FunnelsActorsQuery) -> exp.Expr:
    """``_step_filter`` (already checked) on the plan's ``reached`` column."""
    reached = exp.column("reached")
    custom = _custom_steps(source, len(source.source.series))
    if custom is not None:
        return exp.In(this=reached, expressions=[exp.Literal.number(s) for s in custom])
    step = source.funnelStep or 0
    if step > 0:
        return exp.GTE(this=reached, expression=exp.Literal.number(step))
    return exp.EQ(this=reached, expression=exp.Literal.number(-step - 1))


def _trends_actors(
    source: FunnelsActorsQuery, context: QueryContext, in_value: Callable[[Any], bool]
) -> ActorSet:
    """Who entered in one period (``funnelTrendsEntrancePeriodStart``) and converted,
    or, with ``funnelTrendsDropOff``, did not."""
    query = source.source
    start, end = from_to(query)
    window = period_of(query, context)
    text = source.funnelTrendsEntrancePeriodStart
    try:
        period = datetime.fromisoformat(text) if text else None
    except ValueError:
        raise InvalidInput(
            "funnelTrendsEntrancePeriodStart must be a date", attr="funnelTrendsEntrancePeriodStart"
        ) from None
    if period is not None and period.tzinfo is not None:
        period = period.replace(tzinfo=None)
    computed = compute(query, context, with_distinct_id=True, restrict=entry_periods(window))
    dropped = bool(source.funnelTrendsDropOff)
    chosen = [
        o
        for o in computed.outcomes
        if (period is None or o.value[1] == period)
        and in_value(o.value[0])
        and o.outcome.reached >= start + 1
        and (o.outcome.reached < end + 1 if dropped else o.outcome.reached >= end + 1)
    ]
    return _actors(query.aggregation_group_type_index, chosen)


def _bin_actors(source: FunnelsActorsQuery, context: QueryContext) -> ActorSet:
    """The actors of one time-to-convert bin: binned as the chart bins them, from the
    same conversions (``funnelFromStep`` to ``funnelToStep``)."""
    query = source.source
    attr = "funnelTimeToConvertBin"
    if query.funnelsFilter.funnelVizType != "time_to_convert":
        raise InvalidInput(f"{attr} needs a time_to_convert funnel", attr=attr)
    start, end = from_to(query)
    converted = conversions(compute(query, context, with_distinct_id=True).outcomes, start, end)
    if not converted:
        return _actors(query.aggregation_group_type_index, [])
    binning = Bins.of([seconds for _, seconds in converted], query.funnelsFilter.binCount)
    starts = [binning.start(i) for i in range(binning.count + 1)]
    wanted = next((i for i, at in enumerate(starts) if at == source.funnelTimeToConvertBin), None)
    if wanted is None:
        raise InvalidInput(f"{attr} must be the start of a bin: {starts[:5]}...", attr=attr)
    chosen = [o for o, seconds in converted if binning.index(seconds) == wanted]
    return _actors(query.aggregation_group_type_index, chosen)


def _actors(group_type_index: int | None, chosen: list[ActorOutcome]) -> ActorSet:
    names = {o.actor: o.distinct_id for o in chosen if o.distinct_id is not None}
    return actor_set({o.actor for o in chosen}, names, group_type_index)
