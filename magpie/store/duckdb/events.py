"""Writing events: one Arrow table per worker batch, deduplicated by uuid, with the
usage counters updated in the same transaction."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from magpie.store.columns import GROUP_COLUMNS, MATERIALIZED_PROPERTIES
from magpie.store.duckdb.database import registered

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

# Keeps the first of any uuid repeated inside the batch, and drops uuids the
# project already stored (SDK retries, replays after a crash).
_NEW_ROWS = """
SELECT * EXCLUDE (row_in_batch)
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

_INSERT = """
INSERT INTO events BY NAME
SELECT * REPLACE (
    CAST(uuid AS UUID) AS uuid,
    CAST(person_id AS UUID) AS person_id,
    CAST(person_mode AS person_mode) AS person_mode
)
FROM new_events
"""

# Billing class of each new event: excluded events first, then anonymous
# (personless) versus identified (full or force_upgrade).
_COUNT_USAGE = """
INSERT INTO usage_counters
SELECT project_id, CAST(created_at AS DATE), coalesce(mat_lib, ''), coalesce(mat_lib_version, ''),
       CASE WHEN list_contains($excluded, event) THEN 'excluded'
            WHEN person_mode = 'propertyless' THEN 'anonymous'
            ELSE 'identified' END,
       CASE WHEN list_contains($excluded, event) THEN event ELSE '' END,
       count(*)
FROM new_events
GROUP BY ALL
ON CONFLICT DO UPDATE SET events = usage_counters.events + excluded.events
"""


def insert_events(
    cursor: duckdb.DuckDBPyConnection, columns: dict[str, list[Any]], excluded: list[str]
) -> int:
    """Insert a batch given as column lists and count it; returns how many rows were new.

    ``excluded`` names the events that are stored but not billed.
    """
    table = pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)
    with registered(cursor, "incoming_events", table):
        new_rows = cursor.sql(_NEW_ROWS).to_arrow_table()
    if new_rows.num_rows == 0:
        return 0
    with registered(cursor, "new_events", new_rows):
        cursor.execute(_INSERT)
        cursor.execute(_COUNT_USAGE, {"excluded": excluded})
    return int(new_rows.num_rows)
