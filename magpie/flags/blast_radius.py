"""Who a release condition reaches: PostHog's ``user_blast_radius``.

``{"condition": {"properties": [...], "rollout_percentage": 50}, "group_type_index":
null}`` is answered with how many stored persons (or groups of that type) match
the condition's properties, and how many there are. As in PostHog the rollout
percentage is not applied: it picks a share of those who match, by hash, so the
editor shows it beside the count.

The subjects are read through the query layer (the ``persons``,
``person_distinct_ids`` and ``groups`` tables, so the same on DuckDB and
ClickHouse) and each is matched by flag evaluation itself (``FlagSet.reaches``), so the
count follows exactly the rules ``/flags`` applies: the flag operators,
cohorts from their stored membership, dependencies on other flags. Like
``/flags``, only stored properties count (no client sends any here). A person
with several distinct ids is reached when the condition matches under any of
them; the ids matter only to a ``distinct_id`` property or a flag dependency
(whose rollout buckets by the id), so they are read only then.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from magpie.errors import InvalidFlagFilters
from magpie.flags.cohorts import CohortMembership
from magpie.flags.evaluation import FlagSet
from magpie.flags.filters import check_filters
from magpie.flags.subject import Subject
from magpie.query.hogql.compiler import compile_hogql
from magpie.query.runner import QueryRunner
from magpie.store.model import FeatureFlag

# The condition is evaluated as a flag of its own, beside the project's flags
# (which its dependencies name); no stored flag has a negative id.
_PROBE_ID = -1
_PROBE_KEY = "$blast-radius"

# Ids as text: a person's uuid is needed only for a cohort's stored membership,
# and making 100,000 UUID objects costs more than matching their properties.
_PERSONS = "SELECT toString(id), properties FROM persons"
_DISTINCT_IDS = "SELECT toString(person_id), distinct_id FROM person_distinct_ids"
_GROUPS = "SELECT group_key, properties FROM groups WHERE group_type_index = {index}"
_GROUP_TYPES = "SELECT DISTINCT group_type_index, group_type FROM groups"


@dataclass(frozen=True)
class BlastRadius:
    affected: int
    total: int


def checked_condition(
    condition: object, group_type_index: int | None, project_flags: Mapping[int, FeatureFlag]
) -> dict[str, Any]:
    """The condition as a probe flag's filters, checked as a saved flag's would be
    (errors name ``condition…`` rather than ``filters.groups[0]…``)."""
    if not isinstance(condition, dict):
        raise InvalidFlagFilters("condition: must be an object", attr="condition")
    # Only the properties decide who matches: the rollout is applied by hash and
    # a variant override picks a value, neither changes who is reached.
    group = {k: v for k, v in condition.items() if k not in ("variant", "rollout_percentage")}
    filters = {"groups": [group], "aggregation_group_type_index": group_type_index}
    try:
        return check_filters(filters, _PROBE_ID, project_flags)
    except InvalidFlagFilters as exc:
        attr = (exc.attr or "condition").replace("filters.groups[0]", "condition", 1)
        attr = attr.replace("filters.aggregation_group_type_index", "group_type_index", 1)
        message = exc.message.replace("filters.groups[0]", "condition", 1).replace(
            "filters.aggregation_group_type_index", "group_type_index", 1
        )
        raise InvalidFlagFilters(message, attr=attr) from None


def blast_radius(
    runner: QueryRunner,
    project_id: int,
    flags: Iterable[FeatureFlag],
    cohorts: CohortMembership,
    condition: object,
    group_type_index: int | None,
    now: datetime,
) -> BlastRadius:
    project_flags = {f.id: f for f in flags if not f.deleted}
    filters = checked_condition(condition, group_type_index, project_flags)
    probe = FeatureFlag(
        id=_PROBE_ID,
        project_id=project_id,
        key=_PROBE_KEY,
        name="",
        filters=filters,
        active=True,
        ensure_experience_continuity=False,
        version=0,
        created_at=now,
        updated_at=now,
    )
    flag_set = FlagSet([*project_flags.values(), probe])

    def matches(subject: Subject) -> bool:
        return flag_set.reaches(probe, subject, cohorts, now)

    if group_type_index is None:
        return _persons(runner, project_id, filters, matches)
    return _groups(runner, project_id, group_type_index, matches)


def _persons(
    runner: QueryRunner, project_id: int, filters: dict[str, Any], matches: Any
) -> BlastRadius:
    persons = _rows(runner, project_id, _PERSONS)
    ids: dict[str, list[str]] = defaultdict(list)
    if _has_leaf(filters, lambda p: p.get("type") == "flag" or p.get("key") == "distinct_id"):
        for person_id, distinct_id in _rows(runner, project_id, _DISTINCT_IDS):
            ids[str(person_id)].append(str(distinct_id))
    in_cohorts = _has_leaf(filters, lambda p: p.get("type") == "cohort")
    affected = 0
    for person_id, properties in persons:
        stored = _properties(properties)
        person = uuid.UUID(str(person_id)) if in_cohorts else None
        # Without a distinct id in play, any id gives the same answer: one is enough.
        candidates = sorted(ids[person_id]) if person_id in ids else [str(person_id)]
        if any(
            matches(
                Subject(
                    project_id=project_id,
                    distinct_id=distinct_id,
                    person_properties={"distinct_id": distinct_id, **stored},
                    person_id=person,
                )
            )
            for distinct_id in candidates
        ):
            affected += 1
    return BlastRadius(affected, len(persons))


def _groups(runner: QueryRunner, project_id: int, index: int, matches: Any) -> BlastRadius:
    types = {int(i): str(name) for i, name in _rows(runner, project_id, _GROUP_TYPES)}
    name = types.get(index)
    if name is None:
        return BlastRadius(0, 0)  # the project has no group of this type yet
    groups = _rows(runner, project_id, _GROUPS, {"index": index})
    affected = sum(
        1
        for key, properties in groups
        if matches(
            Subject(
                project_id=project_id,
                distinct_id=str(key),
                groups={name: str(key)},
                group_properties={name: _properties(properties)},
                group_types=types,
            )
        )
    )
    return BlastRadius(affected, len(groups))


def _has_leaf(filters: Mapping[str, Any], test: Callable[[Mapping[str, Any]], bool]) -> bool:
    return any(
        test(prop)
        for condition in filters.get("groups") or []
        for prop in condition.get("properties") or []
    )


def _rows(
    runner: QueryRunner, project_id: int, sql: str, values: dict[str, Any] | None = None
) -> list[Any]:
    compiled = compile_hogql(
        sql, project_id, values or {}, dialect=runner.dialect, default_limit=None
    )
    return list(runner.execute(compiled).results)


def _properties(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    loaded = orjson.loads(value)
    return loaded if isinstance(loaded, dict) else {}
