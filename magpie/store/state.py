"""The persons and groups a worker batch touches, held in memory while its events
are applied.

A store loads this state for every distinct id (and group) of the batch in a
few bulk queries, the rules in ``magpie/ingest/persons.py`` and ``groups.py``
change it event by event, and the store writes back only what changed. Nothing
in it does I/O, and it knows no engine: every store loads and saves the same
state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Key = tuple[int, str]  # (project_id, distinct_id)


@dataclass
class Person:
    project_id: int
    uuid: uuid.UUID
    properties: dict[str, Any]
    created_at: datetime
    is_identified: bool
    version: int
    last_seen_at: datetime | None
    distinct_ids: dict[str, int] = field(default_factory=dict)  # distinct id → row version


@dataclass(frozen=True)
class MergeRecord:
    project_id: int
    event_timestamp: datetime
    event_uuid: str
    event: str
    kind: str  # attach | create | merge
    source_person_uuid: uuid.UUID | None
    target_person_uuid: uuid.UUID
    distinct_ids: tuple[str, ...]


@dataclass
class PersonState:
    persons: dict[tuple[int, uuid.UUID], Person] = field(default_factory=dict)
    owner: dict[Key, uuid.UUID] = field(default_factory=dict)
    # Distinct ids seen on personless events (value: merged into a person since).
    personless: dict[Key, bool] = field(default_factory=dict)
    # What the batch changed, for the write-back.
    dirty_persons: set[tuple[int, uuid.UUID]] = field(default_factory=set)
    deleted_persons: set[tuple[int, uuid.UUID]] = field(default_factory=set)
    dirty_distinct_ids: set[Key] = field(default_factory=set)
    new_personless: dict[Key, datetime] = field(default_factory=dict)
    merged_personless: set[Key] = field(default_factory=set)
    overrides: dict[Key, tuple[uuid.UUID, int]] = field(default_factory=dict)
    merges: list[MergeRecord] = field(default_factory=list)

    # -- reading -----------------------------------------------------------

    def person_of(self, project_id: int, distinct_id: str) -> Person | None:
        person_uuid = self.owner.get((project_id, distinct_id))
        return None if person_uuid is None else self.persons[(project_id, person_uuid)]

    def used_personless(self, project_id: int, distinct_id: str) -> bool:
        return (project_id, distinct_id) in self.personless

    # -- loading (the store calls these) -----------------------------------

    def load_person(self, person: Person) -> None:
        self.persons[(person.project_id, person.uuid)] = person
        for distinct_id in person.distinct_ids:
            self.owner[(person.project_id, distinct_id)] = person.uuid

    # -- changing (the rules call these) -----------------------------------

    def create_person(self, person: Person) -> Person:
        self.load_person(person)
        self.touch(person)
        for distinct_id in person.distinct_ids:
            key = (person.project_id, distinct_id)
            self.dirty_distinct_ids.add(key)
            self._mark_merged(key)
        return person

    def touch(self, person: Person) -> None:
        self.dirty_persons.add((person.project_id, person.uuid))

    def attach(self, person: Person, distinct_id: str, version: int) -> None:
        """Give ``distinct_id`` to ``person``; a version ≥ 1 re-points its past events."""
        key = (person.project_id, distinct_id)
        person.distinct_ids[distinct_id] = version
        self.owner[key] = person.uuid
        self.dirty_distinct_ids.add(key)
        if version >= 1:
            self.overrides[key] = (person.uuid, version)
        self._mark_merged(key)

    def _mark_merged(self, key: Key) -> None:
        """An id used anonymously now belongs to a person."""
        if self.personless.get(key) is False:
            self.personless[key] = True
            self.merged_personless.add(key)

    def absorb(self, target: Person, source: Person) -> list[str]:
        """Move every distinct id of ``source`` to ``target`` and delete ``source``."""
        moved = sorted(source.distinct_ids)
        for distinct_id in moved:
            self.attach(target, distinct_id, source.distinct_ids[distinct_id] + 1)
        source_key = (source.project_id, source.uuid)
        del self.persons[source_key]
        self.dirty_persons.discard(source_key)
        self.deleted_persons.add(source_key)
        return moved

    def record_personless(self, project_id: int, distinct_id: str, at: datetime) -> None:
        key = (project_id, distinct_id)
        if key not in self.personless:
            self.personless[key] = False
            self.new_personless[key] = at

    def record_merge(self, merge: MergeRecord) -> None:
        self.merges.append(merge)

    def changed_ids(self) -> set[Key]:
        """Every distinct id whose person (or properties) the batch changed: the ids
        given, moved or overridden, and all ids of a person changed or deleted."""
        changed = self.dirty_persons | self.deleted_persons
        keys = self.dirty_distinct_ids | set(self.overrides)
        keys.update(key for key, owner in self.owner.items() if (key[0], owner) in changed)
        return keys


# -- groups ------------------------------------------------------------------

MAX_GROUP_TYPES = 5
GROUP_PROPERTY_KEYS = tuple(f"$group_{index}" for index in range(MAX_GROUP_TYPES))

GroupKey = tuple[int, int, str]  # (project_id, group_type_index, group_key)


@dataclass
class Group:
    project_id: int
    type_index: int
    key: str
    properties: dict[str, Any]
    created_at: datetime
    version: int


@dataclass
class GroupState:
    type_index: dict[tuple[int, str], int] = field(default_factory=dict)
    groups: dict[GroupKey, Group] = field(default_factory=dict)
    new_types: list[tuple[int, str, int, datetime]] = field(default_factory=list)
    dirty_groups: set[GroupKey] = field(default_factory=set)

    def changed_projects(self) -> set[int]:
        """The projects the batch gave a new group type."""
        return {project_id for project_id, *_ in self.new_types}

    def index_of(self, project_id: int, group_type: str, at: datetime) -> int | None:
        """The type's index, assigning the lowest free one on first use; None past five."""
        index = self.type_index.get((project_id, group_type))
        if index is not None:
            return index
        used = {i for (p, _), i in self.type_index.items() if p == project_id}
        free = [i for i in range(MAX_GROUP_TYPES) if i not in used]
        if not free:
            return None
        self.type_index[(project_id, group_type)] = free[0]
        self.new_types.append((project_id, group_type, free[0], at))
        return free[0]


# -- what a commit changed ------------------------------------------------


@dataclass(frozen=True)
class StoredChanges:
    """What a committed transaction changed that readers outside ingestion may hold
    in memory (``/flags``' person and group lookups): told after the commit."""

    distinct_ids: set[Key]  # (project, distinct id) whose person changed
    groups: set[GroupKey]  # (project, type index, key) whose properties changed
    group_type_projects: set[int]  # projects that got a new group type

    def __bool__(self) -> bool:
        return bool(self.distinct_ids or self.groups or self.group_type_projects)
