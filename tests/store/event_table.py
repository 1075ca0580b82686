"""A real event sink for the PostgreSQL ingest store's tests: a table of its own.

It stands where ClickHouse stands in cluster mode, with what that store must
do: it writes through its own connection (never the unit's transaction), it
is idempotent by (project, uuid) with the last append winning, and it reports
the batch of each event. It reads events back as the read API does, person ids
resolved through the overrides.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from magpie.store.model import EventFilter, StoredEvent
from magpie.store.person_rows import PersonRows
from magpie.store.postgres.database import PostgresDatabase

_CREATE = """
CREATE TABLE IF NOT EXISTS sink_events (
    project_id BIGINT NOT NULL,
    uuid UUID NOT NULL,
    event TEXT NOT NULL,
    distinct_id TEXT NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    -- json, not jsonb: properties are kept as sent, escaped NULs included.
    properties JSON NOT NULL,
    elements_chain TEXT,
    person_id UUID NOT NULL,
    person_mode TEXT NOT NULL,
    batch UUID NOT NULL,
    appends INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (project_id, uuid)
)
"""

_APPEND = """
INSERT INTO sink_events AS e (project_id, uuid, event, distinct_id, timestamp, properties,
                              elements_chain, person_id, person_mode, batch)
SELECT project_id, uuid, event, distinct_id, timestamp, properties::json, elements_chain,
       person_id, person_mode, %s
FROM unnest(%s::bigint[], %s::uuid[], %s::text[], %s::text[], %s::timestamp[], %s::text[],
            %s::text[], %s::uuid[], %s::text[])
     AS k (project_id, uuid, event, distinct_id, timestamp, properties, elements_chain,
           person_id, person_mode)
ON CONFLICT (project_id, uuid) DO UPDATE SET
    event = excluded.event, distinct_id = excluded.distinct_id, timestamp = excluded.timestamp,
    properties = excluded.properties, elements_chain = excluded.elements_chain,
    person_id = excluded.person_id, person_mode = excluded.person_mode,
    batch = excluded.batch, appends = e.appends + 1
"""

_STORED = """
SELECT e.uuid::text, e.batch
FROM unnest(%s::bigint[], %s::uuid[]) AS k (project_id, uuid)
JOIN sink_events AS e ON e.project_id = k.project_id AND e.uuid = k.uuid
WHERE e.timestamp >= %s - INTERVAL '1 day' AND e.timestamp <= %s + INTERVAL '1 day'
"""

_LIST = """
SELECT e.uuid, e.event, e.distinct_id, e.timestamp, e.properties, coalesce(e.elements_chain, ''),
       coalesce(o.person_uuid, e.person_id), e.person_mode
FROM sink_events AS e
LEFT JOIN person_overrides AS o ON o.project_id = e.project_id AND o.distinct_id = e.distinct_id
WHERE e.project_id = %(project_id)s
  AND (%(distinct_id)s::text IS NULL OR e.distinct_id = %(distinct_id)s::text)
  AND (%(event)s::text IS NULL OR e.event = %(event)s::text)
  AND (%(person_id)s::uuid IS NULL OR coalesce(o.person_uuid, e.person_id) = %(person_id)s::uuid)
ORDER BY e.timestamp DESC, e.uuid
LIMIT %(limit)s OFFSET %(offset)s
"""


class EventTable:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        with db.connection() as connection:
            connection.execute(_CREATE)

    def stored_batches(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> dict[str, set[uuid.UUID]]:
        with self._db.connection() as connection:
            rows = connection.execute(
                _STORED, ([k[0] for k in keys], [k[1] for k in keys], earliest, latest)
            ).fetchall()
        return {event: {batch} for event, batch in rows}

    def append(self, columns: dict[str, list[Any]], batch: uuid.UUID) -> int:
        with self._db.connection() as connection:
            connection.execute(
                _APPEND,
                (
                    batch,
                    *(
                        columns[name]
                        for name in (
                            "project_id",
                            "uuid",
                            "event",
                            "distinct_id",
                            "timestamp",
                            "properties",
                            "elements_chain",
                            "person_id",
                            "person_mode",
                        )
                    ),
                ),
            )
        return len(columns["uuid"])

    def append_rows(self, rows: PersonRows, batch: uuid.UUID) -> None:
        """Persons are read from PostgreSQL itself: no copy is kept."""

    def list_events(self, where: EventFilter) -> list[StoredEvent]:
        params = {
            "project_id": where.project_id,
            "distinct_id": where.distinct_id,
            "event": where.event,
            "person_id": where.person_id,
            "limit": where.limit,
            "offset": where.offset,
        }
        with self._db.connection() as connection:
            rows = connection.execute(_LIST, params).fetchall()
        return [StoredEvent(*row) for row in rows]

    def rows(self) -> list[tuple[Any, ...]]:
        """Every stored row: (project, uuid, person_id, batch, appends)."""
        with self._db.connection() as connection:
            return connection.execute(
                "SELECT project_id, uuid::text, person_id, batch, appends FROM sink_events"
                " ORDER BY project_id, uuid"
            ).fetchall()
