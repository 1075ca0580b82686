"""Person-store state as rows, for the event stores that keep a copy for joins.

The person store (DuckDB, or PostgreSQL at scale) owns persons, distinct ids,
merge overrides and groups. An event store on another engine (ClickHouse)
needs them beside the events to resolve ``person_id`` and ``person.*``; it is
fed these rows, each carrying the version that decides which copy is the
latest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


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
