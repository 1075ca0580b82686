"""Actor query models, named as in PostHog's query schema."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from magpie.query.funnels.models import FunnelsQuery
from magpie.query.models import _Model

# Actors in one page, at most (PostHog's largest page).
MAX_ACTORS_PAGE = 10_000


class InsightActorsQuery(_Model):
    """The actors behind one value of an insight: ``source`` is the insight (its own
    kind validates it), the other fields name the value."""

    kind: Literal["InsightActorsQuery"]
    source: dict[str, Any]
    day: str | int | None = None  # the bucket (trends), or the interval (retention …)
    series: int | None = None
    breakdown: str | int | list[str | int] | None = None
    compare: Literal["current", "previous"] | None = None
    status: str | None = None  # lifecycle
    interval: int | None = None  # retention: the cohort's row


class FunnelsActorsQuery(_Model):
    kind: Literal["FunnelsActorsQuery"]
    source: FunnelsQuery
    # 1-based; negative: those who reached the step before and dropped off before this one.
    funnelStep: int | None = None
    # The actors whose furthest step (1-based) is one of these; overrides funnelStep.
    funnelCustomSteps: list[int] | None = None
    funnelStepBreakdown: str | int | list[str | int] | None = None
    funnelTrendsDropOff: bool | None = None
    funnelTrendsEntrancePeriodStart: str | None = None
    # Magpie's: for a time_to_convert funnel, the actors of the bin that starts at
    # this many seconds (a bin of the result's "bins").
    funnelTimeToConvertBin: float | None = None


class ActorsQuery(_Model):
    kind: Literal["ActorsQuery"]
    source: InsightActorsQuery | FunnelsActorsQuery = Field(discriminator="kind")
    limit: int = Field(default=100, ge=1, le=MAX_ACTORS_PAGE)
    offset: int = Field(default=0, ge=0, le=10**9)
    select: list[str] | None = None
