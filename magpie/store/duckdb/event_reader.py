"""Reading events back, with person_id resolved through merge overrides."""

from __future__ import annotations

import duckdb
import orjson

from magpie.store.duckdb.database import Database
from magpie.store.model import EventFilter, StoredEvent

_LIST_EVENTS = """
SELECT e.uuid, e.event, e.distinct_id, e.timestamp, CAST(e.properties AS JSON), e.elements_chain,
       coalesce(o.person_uuid, e.person_id) AS person_id, e.person_mode
FROM events AS e
LEFT JOIN person_overrides AS o
       ON o.project_id = e.project_id AND o.distinct_id = e.distinct_id
WHERE e.project_id = $project_id
  AND ($distinct_id IS NULL OR e.distinct_id = $distinct_id)
  AND ($event IS NULL OR e.event = $event)
  AND ($after IS NULL OR e.timestamp > $after)
  AND ($before IS NULL OR e.timestamp < $before)
  AND ($property_pointer IS NULL OR CASE WHEN $property_value IS NULL
        THEN json_extract(CAST(e.properties AS JSON), $property_pointer) IS NOT NULL
        ELSE json_extract_string(CAST(e.properties AS JSON), $property_pointer)
             = $property_value END)
  AND ($person_id IS NULL OR coalesce(o.person_uuid, e.person_id) = $person_id)
  AND ($group_key IS NULL OR CASE $group_index
        WHEN 0 THEN e.group_0 WHEN 1 THEN e.group_1 WHEN 2 THEN e.group_2
        WHEN 3 THEN e.group_3 WHEN 4 THEN e.group_4 END = $group_key)
ORDER BY e.timestamp DESC, e.uuid DESC
LIMIT $limit OFFSET $offset
"""


def list_events(cursor: duckdb.DuckDBPyConnection, where: EventFilter) -> list[StoredEvent]:
    rows = cursor.execute(
        _LIST_EVENTS,
        {
            "project_id": where.project_id,
            "distinct_id": where.distinct_id,
            "event": where.event,
            "after": where.after,
            "before": where.before,
            "person_id": where.person_id,
            "property_pointer": _pointer(where.property_key),
            "property_value": where.property_value,
            "group_index": where.group[0] if where.group else None,
            "group_key": where.group[1] if where.group else None,
            "limit": where.limit,
            "offset": where.offset,
        },
    ).fetchall()
    return [
        StoredEvent(
            uuid=row[0],
            event=row[1],
            distinct_id=row[2],
            timestamp=row[3],
            properties=orjson.loads(row[4]) if row[4] else {},
            elements_chain=row[5] or "",
            person_id=row[6],
            person_mode=row[7],
        )
        for row in rows
    ]


def _pointer(key: str | None) -> str | None:
    """A property name as a JSON Pointer (RFC 6901): any name, ``$browser`` or
    ``a.b`` included, names one top-level key."""
    if key is None:
        return None
    return "/" + key.replace("~", "~0").replace("/", "~1")


class DuckDBEventReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list_events(self, where: EventFilter) -> list[StoredEvent]:
        return list_events(self._db.cursor(), where)
