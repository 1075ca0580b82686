"""Person-store state as rows, for the event stores that keep a copy for joins.

The person store (DuckDB, or PostgreSQL at scale) owns persons, distinct ids,
merge overrides and groups. An event store on another engine (ClickHouse)
needs them beside the events to resolve ``person_id`` and ``person.*``; it is
fed these rows, each carrying the version that decides which copy is the
latest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from magpie.store.state import GroupState, PersonState


@dataclass(frozen=True)
class PersonRow:
    project_id: int
    uuid: uuid.UUID
    properties: dict[str, Any]
    created_at: datetime
    is_identified: bool
    version: int
    last_seen_at: datetime | None = None
    # A person merged into another: written with a version above its last one.
    is_deleted: bool = False


@dataclass(frozen=True)
class DistinctIdRow:
    """A distinct id's person (``person_distinct_ids``) or, for an override, the
    person its past events belong to since a merge."""

    project_id: int
    distinct_id: str
    person_uuid: uuid.UUID
    version: int


@dataclass(frozen=True)
class GroupTypeRow:
    project_id: int
    group_type: str
    group_type_index: int
    created_at: datetime


@dataclass(frozen=True)
class GroupRow:
    project_id: int
    group_type_index: int
    group_key: str
    properties: dict[str, Any]
    created_at: datetime
    version: int


@dataclass
class PersonRows:
    """Every row one batch changed, for an event store's copy."""

    persons: list[PersonRow] = field(default_factory=list)
    distinct_ids: list[DistinctIdRow] = field(default_factory=list)
    overrides: list[DistinctIdRow] = field(default_factory=list)
    group_types: list[GroupTypeRow] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.persons, self.distinct_ids, self.overrides, self.group_types, self.groups))

    def extend(self, other: PersonRows) -> None:
        self.persons += other.persons
        self.distinct_ids += other.distinct_ids
        self.overrides += other.overrides
        self.group_types += other.group_types
        self.groups += other.groups


def person_rows(
    state: PersonState, deleted_versions: dict[tuple[int, uuid.UUID], int]
) -> PersonRows:
    """The rows a batch's person changes wrote. ``deleted_versions`` holds, for each
    person merged away that an event store may have a copy of, the version its
    deletion row must beat."""
    rows = PersonRows()
    for key in sorted(state.dirty_persons):
        p = state.persons[key]
        rows.persons.append(
            PersonRow(
                p.project_id,
                p.uuid,
                p.properties,
                p.created_at,
                p.is_identified,
                p.version,
                p.last_seen_at,
            )
        )
    for project_id, person_uuid in sorted(state.deleted_persons):
        version = deleted_versions.get((project_id, person_uuid))
        if version is not None:
            rows.persons.append(
                PersonRow(
                    project_id, person_uuid, {}, _EPOCH, False, version + 1, None, is_deleted=True
                )
            )
    for project_id, distinct_id in sorted(state.dirty_distinct_ids):
        owner = state.owner[(project_id, distinct_id)]
        version = state.persons[(project_id, owner)].distinct_ids[distinct_id]
        rows.distinct_ids.append(DistinctIdRow(project_id, distinct_id, owner, version))
    for (project_id, distinct_id), (person_uuid, version) in sorted(state.overrides.items()):
        rows.overrides.append(DistinctIdRow(project_id, distinct_id, person_uuid, version))
    return rows


def group_rows(state: GroupState) -> PersonRows:
    rows = PersonRows()
    for project_id, group_type, index, created_at in sorted(state.new_types):
        rows.group_types.append(GroupTypeRow(project_id, group_type, index, created_at))
    for key in sorted(state.dirty_groups):
        g = state.groups[key]
        rows.groups.append(
            GroupRow(g.project_id, g.type_index, g.key, g.properties, g.created_at, g.version)
        )
    return rows


# A deletion row's creation time is never read (queries skip deleted persons).
_EPOCH = datetime(1970, 1, 1)
