"""From a FunnelsQuery to each actor's outcome under each breakdown value.

The engine picks the events and evaluates every filter (``rows.py``); the
matching rules run here over each actor's events (``matching.py``), so every
order type, exclusion, optional step and attribution behaves the same on
every engine. Past ``breakdown_limit`` the values with the fewest actors at
the furthest steps are renamed "Other" and the funnel is matched again, so an
actor counted under several values (``all_events``) still counts once there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from magpie.errors import InvalidInput
from magpie.query.breakdowns import Breakdown, breakdown_of
from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow, window, zone
from magpie.query.funnels.attribution import ATTRIBUTIONS
from magpie.query.funnels.matching import MATCHERS, Event, Exclusion, Outcome, Rules
from magpie.query.funnels.models import FunnelsQuery
from magpie.query.funnels.rows import ActorEvents, actor_events, check_exclusions, funnel_select

# What a funnel's breakdown values are called (PostHog's, so dashboards carry over).
NULL_VALUE = ""
OTHER_VALUE = "Other"
# Rows matched between deadline checks.
_CHECK_EVERY = 2_000


@dataclass(frozen=True)
class ActorOutcome:
    actor: str
    value: Any  # the breakdown value (None without a breakdown)
    outcome: Outcome
    distinct_id: str | None = None


@dataclass(frozen=True)
class Computed:
    query: FunnelsQuery
    period: TimeWindow
    rules: Rules
    outcomes: list[ActorOutcome]
    breakdown: Breakdown | None


# An actor's events → the runs to match, each (a key, the events it sees): the
# trends view runs the funnel once per period the actor entered in.
Restrict = Callable[[Sequence[Event]], Iterator[tuple[Any, Sequence[Event]]]]


def rules_of(query: FunnelsQuery) -> Rules:
    f = query.funnelsFilter
    steps = len(query.series)
    check_exclusions(query)
    optional = frozenset(i for i, s in enumerate(query.series) if s.optionalInFunnel)
    if optional:
        if 0 in optional:
            raise InvalidInput("the first step cannot be optional", attr="series.0")
        if f.funnelOrderType == "unordered" or f.funnelVizType != "steps":
            raise InvalidInput(
                "optional steps need an ordered or strict funnel shown as steps", attr="series"
            )
    if f.funnelOrderType == "unordered":
        for i, ex in enumerate(f.exclusions):
            if (ex.funnelFromStep, ex.funnelToStep) != (0, steps - 1):
                raise InvalidInput(
                    "an unordered funnel's exclusions must span the whole funnel",
                    attr=f"funnelsFilter.exclusions.{i}",
                )
    value_step = None
    if query.breakdownFilter and f.breakdownAttributionType == "step":
        value_step = f.breakdownAttributionValue or 0
        if not 0 <= value_step < steps:
            raise InvalidInput(
                "breakdownAttributionValue must be a step of the funnel",
                attr="funnelsFilter.breakdownAttributionValue",
            )
        if f.funnelOrderType == "unordered" and value_step != 0:
            raise InvalidInput(
                "an unordered funnel attributes by step 0 only",
                attr="funnelsFilter.breakdownAttributionValue",
            )
    for node in query.series:
        if node.math not in ("total",):
            raise InvalidInput(f"funnel steps do not take math {node.math!r}", attr="math")
    return Rules(
        steps=steps,
        window=f.window_seconds * 1_000_000,
        order=f.funnelOrderType,
        optional=optional,
        exclusions=tuple(Exclusion(e.funnelFromStep, e.funnelToStep) for e in f.exclusions),
        value_step=value_step,
    )


def period_of(query: FunnelsQuery, context: QueryContext) -> TimeWindow:
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


def compute(
    query: FunnelsQuery,
    context: QueryContext,
    *,
    with_distinct_id: bool = False,
    restrict: Restrict | None = None,
) -> Computed:
    rules = rules_of(query)
    period = period_of(query, context)
    breakdown = breakdown_of(query.breakdownFilter)
    select = funnel_select(query, period, context, breakdown, with_distinct_id=with_distinct_id)
    rows = context.run(context.compile(select))
    context.check_deadline()
    actors = list(
        actor_events(rows, breakdown=breakdown is not None, with_distinct_id=with_distinct_id)
    )
    outcomes = _match(query, rules, actors, context, restrict)
    if breakdown is not None:
        kept = _kept_values(outcomes, rules.steps, breakdown.limit)
        if kept is not None:
            folded = [_folded(a, kept) for a in actors]
            outcomes = _match(query, rules, folded, context, restrict)
    return Computed(query, period, rules, outcomes, breakdown)


def _match(
    query: FunnelsQuery,
    rules: Rules,
    actors: list[ActorEvents],
    context: QueryContext,
    restrict: Restrict | None,
) -> list[ActorOutcome]:
    matcher = MATCHERS[rules.order]
    attribution = (
        ATTRIBUTIONS[query.funnelsFilter.breakdownAttributionType]
        if query.breakdownFilter and query.breakdownFilter.breakdown is not None
        else None
    )
    out = []
    seen = 0
    for actor in actors:
        runs = (
            attribution(actor.events, rules.value_step) if attribution else [(None, actor.events)]
        )
        for value, events in runs:
            for key, seen_events in restrict(events) if restrict else [(None, events)]:
                outcome = matcher(seen_events, rules, value)
                if outcome is not None and outcome.reached > 0:
                    shown = _shown(value) if attribution else None
                    out.append(
                        ActorOutcome(
                            actor.actor,
                            shown if key is None else (shown, key),
                            outcome,
                            actor.distinct_id,
                        )
                    )
        seen += len(actor.events)
        if seen >= _CHECK_EVERY:
            context.check_deadline()
            seen = 0
    return out


def _shown(value: Any) -> Any:
    return NULL_VALUE if value is None else str(value)


def _kept_values(outcomes: list[ActorOutcome], steps: int, limit: int) -> set[Any] | None:
    """The values within the limit, ranked by how many actors reached the last step,
    then the one before …; None when all of them fit."""
    counts: dict[Any, list[int]] = defaultdict(lambda: [0] * steps)
    for o in outcomes:
        value = o.value[0] if isinstance(o.value, tuple) else o.value
        for i in range(o.outcome.reached):
            counts[value][i] += 1
    if len(counts) <= limit:
        return None
    ranked = sorted(counts, key=lambda v: ([-c for c in reversed(counts[v])], str(v)))
    return set(ranked[:limit])


def _folded(actor: ActorEvents, kept: set[Any]) -> ActorEvents:
    def fold(value: Any) -> Any:
        return value if _shown(value) in kept else OTHER_VALUE

    return replace(actor, events=[replace(e, value=fold(e.value)) for e in actor.events])
