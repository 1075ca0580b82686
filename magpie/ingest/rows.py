"""Processed events → the column lists of one bulk insert (materialised property
columns are extracted by the store)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from magpie.ingest.events import IncomingEvent
from magpie.store.columns import GROUP_COLUMNS


def event_columns(events: list[IncomingEvent], created_at: datetime) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        "project_id": [e.project_id for e in events],
        "uuid": [e.uuid for e in events],
        "event": [e.event for e in events],
        "distinct_id": [e.distinct_id for e in events],
        "timestamp": [e.timestamp for e in events],
        "properties": [_json(e.properties) for e in events],
        "elements_chain": [e.elements_chain for e in events],
        "person_id": [str(e.person_id) for e in events],
        "person_mode": [e.person_mode for e in events],
        "person_properties": [_json(e.person_properties) for e in events],
        "person_created_at": [e.person_created_at for e in events],
        "created_at": [created_at] * len(events),
    }
    for index, column in enumerate(GROUP_COLUMNS):
        columns[column] = [e.groups.get(index) for e in events]
    return columns


def distinct_events(events: list[IncomingEvent]) -> list[IncomingEvent]:
    """The first event of each (project, uuid): a request may repeat an event."""
    seen: set[tuple[int, str]] = set()
    kept = []
    for event in events:
        key = (event.project_id, event.uuid)
        if key not in seen:
            seen.add(key)
            kept.append(event)
    return kept


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
