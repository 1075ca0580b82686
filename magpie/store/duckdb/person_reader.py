"""Reading persons, their identity history, and ingestion warnings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import duckdb
import orjson

from magpie.store.duckdb.database import first_row

_PERSON_COLUMNS = """
    p.uuid, p.properties, p.is_identified, p.created_at, p.last_seen_at, p.version,
    (SELECT list(d.distinct_id ORDER BY d.version, d.distinct_id) FROM person_distinct_ids AS d
      WHERE d.project_id = p.project_id AND d.person_uuid = p.uuid) AS distinct_ids
"""

_LIST_PERSONS = f"""
SELECT {_PERSON_COLUMNS}
FROM persons AS p
WHERE p.project_id = $project_id
  AND ($distinct_id IS NULL OR p.uuid = (
        SELECT d.person_uuid FROM person_distinct_ids AS d
        WHERE d.project_id = $project_id AND d.distinct_id = $distinct_id))
  AND ($search IS NULL
       OR CAST(p.properties AS VARCHAR) ILIKE '%' || $search || '%'
       OR EXISTS (SELECT 1 FROM person_distinct_ids AS d
                  WHERE d.project_id = p.project_id AND d.person_uuid = p.uuid
                    AND d.distinct_id ILIKE '%' || $search || '%'))
ORDER BY p.created_at DESC, p.uuid
LIMIT $limit OFFSET $offset
"""

_GET_PERSON = f"SELECT {_PERSON_COLUMNS} FROM persons AS p WHERE p.project_id = ? AND p.uuid = ?"

_MERGE_HISTORY = """
SELECT event_timestamp, recorded_at, event_uuid, event, kind, source_person_uuid,
       target_person_uuid, distinct_ids
FROM person_merges
WHERE project_id = $project_id
  AND (target_person_uuid = $person OR source_person_uuid = $person
       OR list_has_any(CAST(distinct_ids AS VARCHAR[]), $distinct_ids))
ORDER BY event_timestamp, recorded_at
"""

_WARNINGS = """
SELECT type, details, event_uuid, timestamp FROM ingestion_warnings
WHERE project_id = $project_id AND ($type IS NULL OR type = $type)
ORDER BY timestamp DESC
LIMIT $limit OFFSET $offset
"""


def _person(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": str(row[0]),
        "uuid": str(row[0]),
        "properties": orjson.loads(row[1]),
        "is_identified": row[2],
        "created_at": _iso(row[3]),
        "last_seen_at": _iso(row[4]),
        "version": row[5],
        "distinct_ids": list(row[6] or []),
    }


def list_persons(
    cursor: duckdb.DuckDBPyConnection,
    project_id: int,
    *,
    distinct_id: str | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    rows = cursor.execute(
        _LIST_PERSONS,
        {
            "project_id": project_id,
            "distinct_id": distinct_id,
            "search": search,
            "limit": limit,
            "offset": offset,
        },
    ).fetchall()
    return [_person(row) for row in rows]


def get_person(
    cursor: duckdb.DuckDBPyConnection, project_id: int, person_uuid: uuid.UUID
) -> dict[str, Any] | None:
    row = first_row(cursor.execute(_GET_PERSON, [project_id, person_uuid]))
    if row is None:
        return None
    person = _person(row)
    history = cursor.execute(
        _MERGE_HISTORY,
        {
            "project_id": project_id,
            "person": person_uuid,
            "distinct_ids": person["distinct_ids"],
        },
    ).fetchall()
    person["merge_history"] = [
        {
            "event_timestamp": _iso(h[0]),
            "recorded_at": _iso(h[1]),
            "event_uuid": str(h[2]) if h[2] else None,
            "event": h[3],
            "kind": h[4],
            "source_person_uuid": str(h[5]) if h[5] else None,
            "target_person_uuid": str(h[6]),
            "distinct_ids": orjson.loads(h[7]),
        }
        for h in history
    ]
    return person


def list_warnings(
    cursor: duckdb.DuckDBPyConnection,
    project_id: int,
    *,
    type_: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    rows = cursor.execute(
        _WARNINGS,
        {
            "project_id": project_id,
            "type": type_,
            "limit": limit,
            "offset": offset,
        },
    ).fetchall()
    return [
        {
            "type": r[0],
            "details": orjson.loads(r[1]),
            "event_uuid": str(r[2]) if r[2] else None,
            "timestamp": _iso(r[3]),
        }
        for r in rows
    ]


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat() + "Z"
