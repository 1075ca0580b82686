"""``funnelPathsFilter``: the paths of a funnel's actors, cut at one step's time.

The funnel is matched as the funnel insight matches it (``compute``), which gives
every actor's furthest step and the time of each step it went through. Each chosen
actor then gets a span of time, in microseconds after the start of the funnel's
range, and the paths query keeps only that actor's events inside it:

- ``funnel_path_after_step``: from step N on (at or after its time); for those who
  dropped off at step N (a negative ``funnelStep``), from the end of the conversion
  window that started at their last step on;
- ``funnel_path_before_step``: up to step N (or, for a drop-off, their last step);
- ``funnel_path_between_steps``: from step N-1 to step N.

The paths are cut into sessions by the funnel's conversion window instead of the
usual 30 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.context import QueryContext
from magpie.query.funnels.compute import ActorOutcome, compute
from magpie.query.funnels.models import FunnelsQuery
from magpie.query.funnels.rows import micros_since
from magpie.query.models import _Model

FunnelPathType = Literal[
    "funnel_path_before_step", "funnel_path_after_step", "funnel_path_between_steps"
]
# An open end of a span (microseconds, far beyond any event).
_FOREVER = 2**62
_ATTR = "funnelPathsFilter"


class FunnelPathsFilter(_Model):
    funnelPathType: FunnelPathType = "funnel_path_after_step"
    funnelSource: FunnelsQuery
    funnelStep: int


@dataclass(frozen=True)
class Spans:
    """Each chosen actor's span (low, high), both ends in, in microseconds after
    ``start``; and the gap that starts a new session."""

    start: datetime
    spans: dict[str, tuple[int, int]]
    session_gap_seconds: int

    def micros(self, context: QueryContext) -> exp.Expr:
        """An event's time on the spans' scale."""
        return micros_since(self.start, context)

    def values(self) -> exp.Values:
        """The spans as a table ``spans(actor, low, high)``."""
        rows = [
            exp.Tuple(
                expressions=[
                    exp.Literal.string(actor),
                    exp.Literal.number(low),
                    exp.Literal.number(high),
                ]
            )
            for actor, (low, high) in sorted(self.spans.items())
        ]
        return exp.Values(
            expressions=rows,
            alias=exp.TableAlias(
                this=exp.to_identifier("s"),
                columns=[exp.to_identifier(c) for c in ("actor", "low", "high")],
            ),
        )


def _checked(settings: FunnelPathsFilter) -> int:
    funnel = settings.funnelSource
    steps = len(funnel.series)
    step = settings.funnelStep
    if (
        funnel.aggregation_group_type_index is not None
        or funnel.funnelsFilter.funnelAggregateByHogQL
    ):
        raise InvalidInput(
            "paths follow persons: the funnel must aggregate by person",
            attr=f"{_ATTR}.funnelSource",
        )
    if step == 0 or abs(step) > steps or step == -1:
        raise InvalidInput(
            f"funnelStep must be 1 to {steps} (reached it) or -2 to -{steps} (dropped off at it)",
            attr=f"{_ATTR}.funnelStep",
        )
    if settings.funnelPathType == "funnel_path_between_steps" and step < 2:
        raise InvalidInput(
            "paths between steps need a funnelStep of 2 or more (from the step before it)",
            attr=f"{_ATTR}.funnelStep",
        )
    return step


def _time_at(outcome: ActorOutcome, step: int) -> int:
    """When the actor went through ``step`` (0-indexed), or, past a skipped optional
    step, through the last step before it."""
    times = outcome.outcome.times
    return max(at for s, at in times.items() if s <= step)


def _span(settings: FunnelPathsFilter, o: ActorOutcome, step: int) -> tuple[int, int] | None:
    reached = o.outcome.reached
    kind = settings.funnelPathType
    if step < 0:
        if reached != -step - 1:
            return None
        last = _time_at(o, -step - 2)
        if kind == "funnel_path_before_step":
            return -_FOREVER, last
        window = settings.funnelSource.funnelsFilter.window_seconds * 1_000_000
        return last + window, _FOREVER
    if reached < step:
        return None
    at = _time_at(o, step - 1)
    if kind == "funnel_path_after_step":
        return at, _FOREVER
    if kind == "funnel_path_before_step":
        return -_FOREVER, at
    return _time_at(o, step - 2), at


def funnel_spans(settings: FunnelPathsFilter, context: QueryContext) -> Spans:
    step = _checked(settings)
    computed = compute(settings.funnelSource, context)
    spans: dict[str, tuple[int, int]] = {}
    for outcome in computed.outcomes:
        span = _span(settings, outcome, step)
        # With a breakdown an actor can be matched under several values: the first wins.
        if span is not None and outcome.actor not in spans:
            spans[outcome.actor] = span
    return Spans(
        computed.period.utc_start,
        spans,
        settings.funnelSource.funnelsFilter.window_seconds,
    )
