"""Who a flag is evaluated for: the request's ids with the properties known of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Subject:
    project_id: int
    distinct_id: str
    # Stored person properties with the request's person_properties merged over
    # them, and distinct_id; only the request's for a distinct id without a person.
    person_properties: dict[str, Any] = field(default_factory=dict)
    person_id: uuid.UUID | None = None
    groups: dict[str, str] = field(default_factory=dict)  # group type name → group key
    group_properties: dict[str, dict[str, Any]] = field(default_factory=dict)  # by type name
    group_types: dict[int, str] = field(default_factory=dict)  # index → type name
    device_id: str | None = None
    anon_distinct_id: str | None = None
    # Experience continuity: flag key → the id this person is bucketed by.
    hash_keys: dict[str, str] = field(default_factory=dict)
