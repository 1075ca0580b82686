"""Reading persons, their identity history, and ingestion warnings."""

from __future__ import annotations

import uuid
from typing import Any

from magpie.store.model import MergeEvent, PersonRecord, StoredWarning
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.postgres.text import pg_text

# Text sorts by bytes (COLLATE "C"), as DuckDB sorts it, whatever the
# database's locale.
_PERSON_COLUMNS = """
    p.uuid, p.properties, p.is_identified, p.created_at, p.last_seen_at, p.version,
    ARRAY(SELECT d.distinct_id FROM person_distinct_ids AS d
          WHERE d.project_id = p.project_id AND d.person_uuid = p.uuid
          ORDER BY d.version, d.distinct_id COLLATE "C") AS distinct_ids
"""

# Searching matches the properties as jsonb prints them ({"a": 1}, with spaces)
# where DuckDB matches the JSON as stored ({"a":1}); a word or value matches alike.
_LIST_PERSONS = f"""
SELECT {_PERSON_COLUMNS}
FROM persons AS p
WHERE p.project_id = %(project_id)s
  AND (%(distinct_id)s::text IS NULL OR p.uuid = (
        SELECT d.person_uuid FROM person_distinct_ids AS d
        WHERE d.project_id = %(project_id)s AND d.distinct_id = %(distinct_id)s::text))
  AND (%(search)s::text IS NULL
       OR p.properties::text ILIKE '%%' || %(search)s::text || '%%'
       OR EXISTS (SELECT 1 FROM person_distinct_ids AS d
                  WHERE d.project_id = p.project_id AND d.person_uuid = p.uuid
                    AND d.distinct_id ILIKE '%%' || %(search)s::text || '%%'))
ORDER BY p.created_at DESC, p.uuid
LIMIT %(limit)s OFFSET %(offset)s
"""

_GET_PERSON = f"""
SELECT {_PERSON_COLUMNS} FROM persons AS p WHERE p.project_id = %s AND p.uuid = %s
"""

# id breaks ties in the order the merges were recorded.
_MERGE_HISTORY = """
SELECT event_timestamp, recorded_at, event_uuid, event, kind, source_person_uuid,
       target_person_uuid, distinct_ids
FROM person_merges
WHERE project_id = %(project_id)s
  AND (target_person_uuid = %(person)s OR source_person_uuid = %(person)s
       OR distinct_ids && %(distinct_ids)s::text[])
ORDER BY event_timestamp, recorded_at, id
"""

_WARNINGS = """
SELECT type, details, event_uuid, timestamp FROM ingestion_warnings
WHERE project_id = %(project_id)s AND (%(type)s::text IS NULL OR type = %(type)s::text)
ORDER BY timestamp DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""


def _person(row: Any, history: list[MergeEvent] | None = None) -> PersonRecord:
    return PersonRecord(
        uuid=row[0],
        properties=row[1],
        is_identified=row[2],
        created_at=row[3],
        last_seen_at=row[4],
        version=row[5],
        distinct_ids=list(row[6] or []),
        merge_history=history,
    )


def _opt_text(value: str | None) -> str | None:
    return None if value is None else pg_text(value)


class PostgresPersonReader:
    def __init__(self, db: PostgresDatabase) -> None:
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
        params = {
            "project_id": project_id,
            "distinct_id": _opt_text(distinct_id),
            "search": _opt_text(search),
            "limit": limit,
            "offset": offset,
        }
        with self._db.connection() as connection:
            rows = connection.execute(_LIST_PERSONS, params).fetchall()
        return [_person(row) for row in rows]

    def get_person(self, project_id: int, person_uuid: uuid.UUID) -> PersonRecord | None:
        with self._db.connection() as connection:
            row = connection.execute(_GET_PERSON, (project_id, person_uuid)).fetchone()
            if row is None:
                return None
            history = connection.execute(
                _MERGE_HISTORY,
                {"project_id": project_id, "person": person_uuid, "distinct_ids": list(row[6])},
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
                distinct_ids=list(h[7]),
            )
            for h in history
        ]
        return _person(row, merges)

    def list_warnings(
        self, project_id: int, *, type_: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[StoredWarning]:
        params = {
            "project_id": project_id,
            "type": _opt_text(type_),
            "limit": limit,
            "offset": offset,
        }
        with self._db.connection() as connection:
            rows = connection.execute(_WARNINGS, params).fetchall()
        return [StoredWarning(r[0], r[1], r[2], r[3]) for r in rows]
