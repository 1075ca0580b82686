"""What a funnel shows (``funnelVizType``), from the actors' outcomes (compat-2 §2.5)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from magpie.errors import InvalidInput
from magpie.query.breakdowns import breakdown_of
from magpie.query.context import QueryContext
from magpie.query.dates import TimeWindow, day_text, label, to_local, truncate
from magpie.query.entities import entity_of
from magpie.query.funnels import steps_sql
from magpie.query.funnels.compute import (
    NULL_VALUE,
    OTHER_VALUE,
    ActorOutcome,
    Computed,
    Restrict,
    compute,
    period_of,
    rules_of,
)
from magpie.query.funnels.matching import Event
from magpie.query.funnels.models import FunnelsQuery
from magpie.query.funnels.rows import MICROS

# -- steps ---------------------------------------------------------------------------


def _step_name(query: FunnelsQuery, i: int, context: QueryContext) -> tuple[Any, str, str]:
    """The step's ``action_id``, ``name`` and ``type`` (``events`` or ``actions``)."""
    if query.funnelsFilter.funnelOrderType == "unordered":
        return None, f"Completed {i + 1} step{'s' if i else ''}", "events"
    entity = entity_of(query.series[i], context)
    return entity.id, entity.name, entity.type


def conversion_times(outcomes: Sequence[ActorOutcome], step: int) -> list[float]:
    """Seconds from the step before (the last one the actor went through) to ``step``."""
    out = []
    for o in outcomes:
        times = o.outcome.times
        if step not in times:
            continue
        before = [s for s in times if s < step]
        if before:
            out.append((times[step] - times[max(before)]) / MICROS)
    return out


def median(values: list[float]) -> float:
    """The discrete median (a conversion time that happened), as the SQL computes it."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * 0.5)) - 1]


# Per step: (actors, average seconds from the step before, median seconds).
StepStats = list[tuple[int, float | None, float | None]]


def _stats(computed: Computed, outcomes: Sequence[ActorOutcome]) -> StepStats:
    stats: StepStats = []
    for i in range(computed.rules.steps):
        optional = i in computed.rules.optional
        count = sum(
            1 for o in outcomes if o.outcome.reached > i and (not optional or i in o.outcome.times)
        )
        times = conversion_times(outcomes, i) if i else []
        stats.append(
            (count, statistics.fmean(times) if times else None, median(times) if times else None)
        )
    return stats


def _steps(
    query: FunnelsQuery, context: QueryContext, stats: StepStats, value: Any, by: bool
) -> list[dict[str, Any]]:
    result = []
    for i, (count, average, middle) in enumerate(stats):
        action_id, name, kind = _step_name(query, i, context)
        step: dict[str, Any] = {
            "action_id": action_id,
            "name": name,
            "custom_name": query.series[i].custom_name,
            "order": i,
            "people": [],
            "count": count,
            "type": kind,
            "average_conversion_time": average,
            "median_conversion_time": middle,
        }
        if by:
            step["breakdown"] = [value]
            step["breakdown_value"] = [value]
        result.append(step)
    return result


def by_value(outcomes: Sequence[ActorOutcome]) -> dict[Any, list[ActorOutcome]]:
    groups: dict[Any, list[ActorOutcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.value].append(o)
    return groups


def ranked(stats: dict[Any, StepStats]) -> list[Any]:
    """Values by actors at the last step, then the one before …, "Other" last."""

    def key(value: Any) -> tuple[Any, ...]:
        return (value == OTHER_VALUE, [-s[0] for s in reversed(stats[value])], str(value))

    return sorted(stats, key=key)


def steps_view(query: FunnelsQuery, context: QueryContext) -> dict[str, Any]:
    stats = (_sql_stats if steps_sql.fits(query) else _matched_stats)(query, context)
    if query.breakdownFilter is None or query.breakdownFilter.breakdown is None:
        results: Any = _steps(query, context, stats[None], None, False)
    else:
        results = [_steps(query, context, stats[v], v, True) for v in ranked(stats)]
    return {"results": results, "isUdf": False}


def _matched_stats(query: FunnelsQuery, context: QueryContext) -> dict[Any, StepStats]:
    computed = compute(query, context)
    if computed.breakdown is None:
        return {None: _stats(computed, computed.outcomes)}
    return {v: _stats(computed, group) for v, group in by_value(computed.outcomes).items()}


def _sql_stats(query: FunnelsQuery, context: QueryContext) -> dict[Any, StepStats]:
    rules_of(query)  # the same checks as every funnel
    period = period_of(query, context)
    breakdown = breakdown_of(query.breakdownFilter)
    stats = steps_sql.step_stats(query, period, context, breakdown)
    if breakdown is None:
        return stats or {None: [(0, None, None)] * len(query.series)}
    kept = kept_values(stats, breakdown.limit)
    if kept is not None:
        stats = steps_sql.step_stats(query, period, context, breakdown, kept)
    return stats


def kept_values(stats: dict[Any, StepStats], limit: int) -> list[str] | None:
    """The values within the breakdown limit, or None when all of them fit."""
    if len(stats) <= limit:
        return None
    return [str(v) for v in ranked(stats)[:limit]]


# -- time to convert --------------------------------------------------------------------


def from_to(query: FunnelsQuery) -> tuple[int, int]:
    f, steps = query.funnelsFilter, len(query.series)
    start = f.funnelFromStep or 0
    end = steps - 1 if f.funnelToStep is None else f.funnelToStep
    if not 0 <= start < end < steps:
        raise InvalidInput(
            "funnelFromStep and funnelToStep must be steps of the funnel, the first before the"
            " second",
            attr="funnelsFilter.funnelToStep",
        )
    return start, end


def time_to_convert_view(query: FunnelsQuery, context: QueryContext) -> dict[str, Any]:
    start, end = from_to(query)
    if steps_sql.fits(query):
        rules_of(query)
        samples = steps_sql.conversion_seconds(
            query, period_of(query, context), context, None, start, end
        )
    else:
        samples = [
            seconds for _, seconds in conversions(compute(query, context).outcomes, start, end)
        ]
    if not samples:
        return {"results": {"bins": [], "average_conversion_time": None}, "isUdf": False}
    binning = Bins.of(samples, query.funnelsFilter.binCount)
    counts = [0] * (binning.count + 1)
    for sample in samples:
        counts[binning.index(sample)] += 1
    bins = [[binning.start(i), n] for i, n in enumerate(counts)]
    average = statistics.fmean(samples)
    return {"results": {"bins": bins, "average_conversion_time": average}, "isUdf": False}


def conversions(
    outcomes: Sequence[ActorOutcome], start: int, end: int
) -> list[tuple[ActorOutcome, float]]:
    """Each outcome that went from step ``start`` to ``end``, with its seconds between."""
    return [
        (o, (o.outcome.times[end] - o.outcome.times[start]) / MICROS)
        for o in outcomes
        if end in o.outcome.times and start in o.outcome.times
    ]


@dataclass(frozen=True)
class Bins:
    """Time-to-convert bins: ``count + 1`` of them, ``width`` seconds from ``first``."""

    first: int
    width: int
    count: int

    @classmethod
    def of(cls, samples: Sequence[float], given: int | None) -> Bins:
        count = (
            min(90, max(1, given))
            if given is not None
            else min(60, max(1, math.ceil(len(samples) ** (1 / 3) - 1e-9)))
        )
        low, high = min(samples), max(samples)
        return cls(math.floor(low), math.ceil((high - low) / count) or 60, count)

    def index(self, sample: float) -> int:
        return min(self.count, int((sample - self.first) // self.width))

    def start(self, index: int) -> int:
        return self.first + index * self.width


# -- trends (conversion over time) ---------------------------------------------------------


def entry_periods(window: TimeWindow) -> Restrict:
    """One run per period the actor entered the funnel in, where only that period's
    step-1 events may start an attempt."""

    def bucket(at: int) -> datetime:
        local = to_local(window.utc_start + timedelta(microseconds=at), window.tz)
        return truncate(local, window.interval, window.week_start)

    def runs(events: Sequence[Event]) -> Iterator[tuple[Any, Sequence[Event]]]:
        for period in dict.fromkeys(bucket(e.at) for e in events if e.steps & 1):
            yield (
                period,
                [
                    e
                    if not e.steps & 1 or bucket(e.at) == period
                    else replace(e, steps=e.steps & ~1)
                    for e in events
                ],
            )

    return runs


def trends_view(query: FunnelsQuery, context: QueryContext) -> dict[str, Any]:
    start, end = from_to(query)
    window = period_of(query, context)
    computed = compute(query, context, restrict=entry_periods(window))
    buckets = window.buckets()
    # value → period → [actors who reached the from step, … the to step]
    series: dict[Any, dict[datetime, list[int]]] = {}
    for o in computed.outcomes:
        value, period = o.value
        counts = series.setdefault(value, {b: [0, 0] for b in buckets}).get(period)
        if counts is not None:
            counts[0] += o.outcome.reached >= start + 1
            counts[1] += o.outcome.reached >= end + 1
    if not series:
        series[None if computed.breakdown is None else NULL_VALUE] = {b: [0, 0] for b in buckets}
    results = []
    for value, periods in series.items():
        item: dict[str, Any] = {
            "count": len(buckets),
            "data": [
                round(to / reached * 100, 2) if reached else 0
                for reached, to in (periods[b] for b in buckets)
            ],
            "days": [day_text(b, window.interval) for b in buckets],
            "labels": [label(b, window.interval) for b in buckets],
        }
        if computed.breakdown is not None:
            item["breakdown_value"] = [value]
        results.append(item)
    return {"results": results, "isUdf": False}


VIEWS: dict[str, Callable[[FunnelsQuery, QueryContext], dict[str, Any]]] = {
    "steps": steps_view,
    "time_to_convert": time_to_convert_view,
    "trends": trends_view,
}


def run_funnels(query: FunnelsQuery, context: QueryContext) -> dict[str, Any]:
    answer = VIEWS[query.funnelsFilter.funnelVizType](query, context)
    answer["timings"] = context.timings
    return answer
