"""Query request models, named as in PostHog's query schema so scripts carry over."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PropertyFilter(_Model):
    key: str
    value: Any = None
    operator: str | None = "exact"
    type: str = "event"
    group_type_index: int | None = None
    negation: bool = False


class PropertyGroup(_Model):
    type: Literal["AND", "OR"] = "AND"
    values: list[PropertyFilter | PropertyGroup] = Field(default_factory=list)


Properties = list[PropertyFilter | PropertyGroup] | PropertyGroup | None


class DateRange(_Model):
    date_from: str | None = "-7d"
    date_to: str | None = None
    explicitDate: bool = False


class HogQLFilters(_Model):
    """What a query's ``{filters}`` placeholder stands for."""

    properties: Properties = None
    dateRange: DateRange | None = None
    filterTestAccounts: bool = False


class HogQLQuery(_Model):
    kind: Literal["HogQLQuery"]
    query: str
    values: dict[str, Any] = Field(default_factory=dict)
    filters: HogQLFilters | None = None


MathName = Literal[
    "total",
    "dau",
    "weekly_active",
    "monthly_active",
    "unique_session",
    "unique_group",
    "sum",
    "avg",
    "min",
    "max",
    "median",
    "p90",
    "p95",
    "p99",
]


class EventsNode(_Model):
    """A series' events: PostHog's EventsNode (``event``, None for all events) or its
    ActionsNode (``kind: "ActionsNode"``, the action's ``id``), which take the same
    math and property fields. ``magpie/query/entities.py`` turns either into the
    events it stands for and the name results give it."""

    kind: Literal["EventsNode", "ActionsNode"] = "EventsNode"
    event: str | None = None
    id: int | None = Field(default=None, ge=0, lt=2**63)  # an ActionsNode's action
    name: str | None = None
    custom_name: str | None = None
    math: MathName = "total"
    math_property: str | None = None
    math_group_type_index: int | None = None
    properties: Properties = None

    @model_validator(mode="after")
    def _action_has_id(self) -> EventsNode:
        if self.kind == "ActionsNode" and self.id is None:
            raise ValueError("an ActionsNode names its action by id")
        return self


class BreakdownFilter(_Model):
    # A cohort breakdown names cohort ids (or "all"); the others one property or expression.
    breakdown: str | int | list[str | int] | None = None
    breakdown_type: Literal["event", "person", "group", "session", "hogql", "cohort"] | None = (
        "event"
    )
    breakdown_group_type_index: int | None = None
    breakdown_limit: int = 25


class CompareFilter(_Model):
    compare: bool = False


class TrendsFilter(_Model):
    formula: str | None = None


class TrendsQuery(_Model):
    kind: Literal["TrendsQuery"]
    series: list[EventsNode] = Field(min_length=1)
    interval: Literal["hour", "day", "week", "month"] = "day"
    dateRange: DateRange = Field(default_factory=DateRange)
    breakdownFilter: BreakdownFilter | None = None
    properties: Properties = None
    filterTestAccounts: bool = False
    compareFilter: CompareFilter | None = None
    trendsFilter: TrendsFilter | None = None


PropertyGroup.model_rebuild()
