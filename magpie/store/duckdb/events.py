"""Writing events: one Arrow table per worker batch, with the usage counters
updated in the same transaction.

The worker hands over events it has already deduplicated (see
``stored_uuids``). Materialised property columns are filled here by DuckDB
from the properties JSON, in one parse per row, rather than in Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from magpie.store.columns import MATERIALIZED_PROPERTIES, json_pointer
from magpie.store.duckdb.database import execute_over, fetch_over
from magpie.store.event_columns import EVENT_SCHEMA, arrow_table


def _insert_sql() -> str:
    """INSERT … SELECT that casts the Arrow columns and extracts the materialised ones."""
    paths = exp.Array(
        expressions=[exp.Literal.string(json_pointer([key])) for key in MATERIALIZED_PROPERTIES]
    )
    extracted = exp.alias_(
        exp.Anonymous(this="json_extract_string", expressions=[exp.column("properties"), paths]),
        "mat",
    )
    inner = exp.select(exp.Star(), extracted).from_("incoming")
    casts = [
        exp.alias_(exp.cast(exp.column(name), to), name)
        for name, to in (("uuid", "UUID"), ("person_id", "UUID"))
    ]
    casts.append(
        exp.alias_(
            exp.cast(exp.column("person_mode"), exp.DataType.build("person_mode", udt=True)),
            "person_mode",
        )
    )
    # sqlglot's brackets count from 0 and print DuckDB's 1-based lists.
    materialized = [
        exp.alias_(exp.Bracket(this=exp.column("mat"), expressions=[exp.Literal.number(i)]), column)
        for i, column in enumerate(MATERIALIZED_PROPERTIES.values())
    ]
    passthrough = [
        exp.column(f.name)
        for f in EVENT_SCHEMA
        if f.name not in ("uuid", "person_id", "person_mode")
    ]
    select = exp.select(*passthrough, *casts, *materialized).from_(inner.subquery("incoming"))
    return f"INSERT INTO events BY NAME {select.sql(dialect='duckdb')}"


_INSERT = _insert_sql()

# A repeat carries the original's uuid and (give or take clock skew and
# offsets) its timestamp, so only stored events within a day of the batch's
# times are compared: the scan stays the size of the recent past, however large
# the table grows. (PostHog deduplicates within the same day only.)
_STORED = """
SELECT CAST(uuid AS VARCHAR) FROM incoming AS b
WHERE EXISTS (
    SELECT 1 FROM events AS stored
    WHERE stored.timestamp >= $earliest - INTERVAL 1 DAY
      AND stored.timestamp <= $latest + INTERVAL 1 DAY
      AND stored.project_id = b.project_id AND stored.uuid = CAST(b.uuid AS UUID)
)
"""


def stored_uuids(
    cursor: duckdb.DuckDBPyConnection,
    keys: list[tuple[int, str]],
    earliest: datetime,
    latest: datetime,
) -> set[str]:
    """Which of these (project, uuid) pairs, timed between ``earliest`` and ``latest``,
    are already stored (SDK retries, replays)."""
    if not keys:
        return set()
    table = pa.table(
        {
            "project_id": pa.array([k[0] for k in keys], pa.int64()),
            "uuid": pa.array([k[1] for k in keys], pa.string()),
        }
    )
    rows = fetch_over(cursor, _STORED, table, {"earliest": earliest, "latest": latest})
    return {row[0] for row in rows}


def insert_events(cursor: duckdb.DuckDBPyConnection, columns: dict[str, list[Any]]) -> int:
    """Insert new, distinct events given as column lists."""
    table = arrow_table(columns)
    if table.num_rows == 0:
        return 0
    execute_over(cursor, _INSERT, table)
    return int(table.num_rows)
