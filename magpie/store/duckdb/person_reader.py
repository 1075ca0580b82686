"""Reading persons, their identity history, and ingestion warnings."""

from __future__ import annotations

import uuid
from typing import Any

import duckdb
import orjson

from magpie.store.duckdb.database import Database, first_row
from magpie.store.model import MergeEvent, PersonRecord, StoredWarning

_PERSON_COLUMNS = """
    p.uuid, CAST(p.properties AS JSON), p.is_identified, p.created_at, p.last_seen_at, p.version,
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
       OR CAST(CAST(p.properties AS JSON) AS VARCHAR) ILIKE '%' || $search || '%'
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


def _person(row: tuple[Any, ...], history: list[MergeEvent] | None = None) -> PersonRecord:
    return PersonRecord(
        uuid=row[0],
        properties=orjson.loads(row[1]),
        is_identified=row[2],
        created_at=row[3],
        last_seen_at=row[4],
        version=row[5],
        distinct_ids=list(row[6] or []),
        merge_history=history,
    )


def list_persons(
    cursor: duckdb.DuckDBPyConnection,
    project_id: int,
    *,
    distinct_id: str | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[PersonRecord]:
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
) -> PersonRecord | None:
    row = first_row(cursor.execute(_GET_PERSON, [project_id, person_uuid]))
    if row is None:
        return None
    history = cursor.execute(
        _MERGE_HISTORY,
        {"project_id": project_id, "person": person_uuid, "distinct_ids": list(row[6] or [])},
    ).fetchall()
    merges = [
        MergeEvent(
            event_timestamp=h[0],
            recorded_at=h[1],
            event_uuid=h[2],
            event=h[3],
            kind=h[4],
            source_person_uuid=h[5],
            target_person_uuid=h[6],
            distinct_ids=orjson.loads(h[7]),
        )
        for h in history
    ]
    return _person(row, merges)


def list_warnings(
    cursor: duckdb.DuckDBPyConnection,
    project_id: int,
    *,
    type_: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[StoredWarning]:
    rows = cursor.execute(
        _WARNINGS,
        {
            "project_id": project_id,
            "type": type_,
            "limit": limit,
            "offset": offset,
        },
    ).fetchall()
    return [StoredWarning(r[0], orjson.loads(r[1]), r[2], r[3]) for r in rows]


class DuckDBPersonReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list_persons(
        self,
        project_id: int,
        *,
        distinct_id: str | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[PersonRecord]:
        return list_persons(
            self._db.cursor(),
            project_id,
            distinct_id=distinct_id,
            search=search,
            limit=limit,
            offset=offset,
        )

    def get_person(self, project_id: int, person_uuid: uuid.UUID) -> PersonRecord | None:
        return get_person(self._db.cursor(), project_id, person_uuid)

    def list_warnings(
        self, project_id: int, *, type_: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[StoredWarning]:
        return list_warnings(self._db.cursor(), project_id, type_=type_, limit=limit, offset=offset)
