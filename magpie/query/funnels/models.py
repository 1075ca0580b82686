"""FunnelsQuery's request models, named as in PostHog's query schema (compat-2 §2.1)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from magpie.query.models import BreakdownFilter, DateRange, EventsNode, Properties, _Model

IntervalUnit = Literal["second", "minute", "hour", "day", "week", "month"]

# A funnel's conversion window unit in seconds; a month is 31 days, as in PostHog.
WINDOW_UNITS: dict[str, int] = {
    "second": 1,
    "minute": 60,
    "hour": 3_600,
    "day": 86_400,
    "week": 7 * 86_400,
    "month": 31 * 86_400,
}


class FunnelStepNode(EventsNode):
    """A step: an event (``None``: any event) with its own filters."""

    optionalInFunnel: bool = False


class FunnelExclusion(EventsNode):
    """An event that, between two steps, takes the actor out of the funnel."""

    funnelFromStep: int = 0
    funnelToStep: int = 1


class FunnelsFilter(_Model):
    funnelOrderType: Literal["ordered", "strict", "unordered"] = "ordered"
    funnelVizType: Literal["steps", "time_to_convert", "trends"] = "steps"
    funnelWindowInterval: int = Field(default=14, ge=1, le=100_000)
    funnelWindowIntervalUnit: IntervalUnit = "day"
    breakdownAttributionType: Literal["first_touch", "last_touch", "all_events", "step"] = (
        "first_touch"
    )
    breakdownAttributionValue: int | None = None
    exclusions: list[FunnelExclusion] = Field(default_factory=list)
    funnelFromStep: int | None = None
    funnelToStep: int | None = None
    funnelStepReference: Literal["total", "previous"] = "total"
    binCount: int | None = None
    funnelAggregateByHogQL: str | None = None
    layout: str | None = None

    @property
    def window_seconds(self) -> int:
        return self.funnelWindowInterval * WINDOW_UNITS[self.funnelWindowIntervalUnit]


class FunnelsQuery(_Model):
    kind: Literal["FunnelsQuery"]
    series: list[FunnelStepNode] = Field(min_length=2, max_length=30)
    interval: Literal["hour", "day", "week", "month"] = "day"
    dateRange: DateRange = Field(default_factory=DateRange)
    properties: Properties = None
    filterTestAccounts: bool = False
    aggregation_group_type_index: int | None = None
    breakdownFilter: BreakdownFilter | None = None
    funnelsFilter: FunnelsFilter = Field(default_factory=FunnelsFilter)
