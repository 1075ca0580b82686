"""A cohort's definition: PostHog's ``filters.properties``, read and checked.

The definition is a tree of AND/OR groups whose leaves are person properties
(``type: person``), other cohorts (``type: cohort``) or behaviour
(``type: behavioral``, one of the kinds in ``behaviour.py``). Any leaf may be
negated, but a negation must be paired with a positive condition in an AND
group, so that no cohort is "everyone but …" (compat-2 §9.3).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from magpie.errors import InvalidInput
from magpie.query.filters import cohort_id_of
from magpie.query.models import PropertyFilter

LeafType = Literal["person", "cohort", "behavioral"]
TimeInterval = Literal["hour", "day", "week", "month", "year"]
MAX_DEPTH = 8


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CohortProperty(_Model):
    """One leaf. Which of the optional fields a leaf needs depends on its type and,
    for behaviour, on its ``value`` (the kind of behaviour)."""

    type: LeafType
    key: str | int
    value: Any = None
    operator: str | None = None
    negation: bool = False
    # behavioural leaves
    event_type: Literal["events", "actions"] | None = "events"
    time_value: int | None = Field(default=None, ge=1, le=100_000)
    time_interval: TimeInterval | None = None
    explicit_datetime: str | None = None
    operator_value: int | None = Field(default=None, ge=0, le=10**9)
    seq_event: str | int | None = None  # an event name, or an action id
    seq_event_type: Literal["events", "actions"] | None = "events"
    seq_time_value: int | None = Field(default=None, ge=1, le=100_000)
    seq_time_interval: TimeInterval | None = None
    min_periods: int | None = Field(default=None, ge=1, le=100)
    total_periods: int | None = Field(default=None, ge=1, le=100)
    event_filters: list[PropertyFilter] | None = None


class CohortGroup(_Model):
    type: Literal["AND", "OR"] = "AND"
    values: list[CohortGroup | CohortProperty] = Field(default_factory=list)


CohortGroup.model_rebuild()


def parse_definition(filters: Any) -> CohortGroup:
    """The definition in ``filters``, or InvalidInput naming what is wrong."""
    if not isinstance(filters, dict):
        raise InvalidInput("filters must be an object with properties", attr="filters")
    properties = filters.get("properties")
    if properties is None and filters.get("groups"):
        raise InvalidInput(
            "the legacy groups form is not supported: send filters.properties", attr="groups"
        )
    if not isinstance(properties, dict):
        raise InvalidInput(
            'filters.properties must be a group: {"type": "OR", "values": [...]}',
            attr="filters",
        )
    try:
        group = CohortGroup.model_validate(properties)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"] if not _is_union_branch(p))
        raise InvalidInput(f"filters.properties.{path}: {first['msg']}", attr="filters") from None
    if _depth(group) > MAX_DEPTH:
        raise InvalidInput(f"filters nest more than {MAX_DEPTH} groups deep", attr="filters")
    if not any(True for _ in leaves(group)):
        raise InvalidInput("a cohort needs at least one filter", attr="filters")
    pending_negation, _ = _negations(group)
    if pending_negation:
        raise InvalidInput(
            "a negated filter must be paired with a filter that is not negated, in an AND"
            " group: a cohort cannot be everyone but someone",
            attr="filters",
        )
    return group


def leaves(group: CohortGroup) -> Iterator[CohortProperty]:
    for item in group.values:
        if isinstance(item, CohortGroup):
            yield from leaves(item)
        else:
            yield item


def nested_cohort_ids(group: CohortGroup) -> list[int]:
    return [cohort_id(leaf) for leaf in leaves(group) if leaf.type == "cohort"]


def cohort_id(leaf: CohortProperty) -> int:
    return cohort_id_of(leaf.value, "filters")


def is_person_properties_only(group: CohortGroup) -> bool:
    """Whether membership follows from person properties alone (no behaviour, no other
    cohort): such a cohort can be evaluated where the properties are, e.g. by an SDK."""
    return all(leaf.type == "person" for leaf in leaves(group))


def _negations(group: CohortGroup) -> tuple[bool, bool]:
    """(a negation not yet paired, a positive condition) for ``group``. An AND group
    holding both pairs them; an OR group passes both on (PostHog's rule)."""
    negated = positive = False
    for item in group.values:
        if isinstance(item, CohortGroup):
            inner_negated, inner_positive = _negations(item)
            negated, positive = negated or inner_negated, positive or inner_positive
        elif item.negation:
            negated = True
        else:
            positive = True
    if group.type == "AND" and negated and positive:
        return False, True
    return negated, positive


def _depth(group: CohortGroup) -> int:
    inner = [_depth(item) for item in group.values if isinstance(item, CohortGroup)]
    return 1 + max(inner, default=0)


def _is_union_branch(part: int | str) -> bool:
    return isinstance(part, str) and ("[" in part or part[:1].isupper())
