"""Writing events: one Arrow table per worker batch, deduplicated by uuid."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from magpie.store.columns import GROUP_COLUMNS, MATERIALIZED_PROPERTIES

EVENT_SCHEMA = pa.schema(
    [
        ("project_id", pa.int64()),
        ("uuid", pa.string()),
        ("event", pa.string()),
        ("distinct_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("properties", pa.string()),
        ("elements_chain", pa.string()),
        ("person_id", pa.string()),
        ("person_mode", pa.string()),
        ("person_properties", pa.string()),
        ("person_created_at", pa.timestamp("us")),
        *[(column, pa.string()) for column in GROUP_COLUMNS],
        *[(column, pa.string()) for column in MATERIALIZED_PROPERTIES.values()],
        ("created_at", pa.timestamp("us")),
    ]
)

# Keeps the first of any uuid repeated inside the batch, and skips uuids the
# project already stored (SDK retries, replays after a crash).
_INSERT = """
INSERT INTO events BY NAME
SELECT * EXCLUDE (row_in_batch) REPLACE (
    CAST(uuid AS UUID) AS uuid,
    CAST(person_id AS UUID) AS person_id,
    CAST(person_mode AS person_mode) AS person_mode
)
FROM (
    SELECT *, row_number() OVER (PARTITION BY project_id, uuid) AS row_in_batch
    FROM incoming_events
) AS incoming
WHERE row_in_batch = 1
  AND NOT EXISTS (
      SELECT 1 FROM events AS stored
      WHERE stored.project_id = incoming.project_id
        AND stored.uuid = CAST(incoming.uuid AS UUID)
  )
"""


def insert_events(cursor: duckdb.DuckDBPyConnection, columns: dict[str, list[Any]]) -> int:
    """Insert a batch given as column lists; returns how many rows were new."""
    table = pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)
    cursor.register("incoming_events", table)
    try:
        row = cursor.execute(_INSERT).fetchone()
    finally:
        cursor.unregister("incoming_events")
    return int(row[0]) if row else 0
