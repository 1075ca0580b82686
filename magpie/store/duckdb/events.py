"""Writing events: one Arrow table per worker batch, with the usage counters
updated in the same transaction.

The worker hands over events it has already deduplicated (see
``stored_uuids``). DuckDB turns each row's properties JSON text into the
stored VARIANT in the INSERT itself (one parse per row, in the engine rather
than in Python), and the materialised property columns are read out of that
VARIANT with the query layer's own expression, not by parsing the text again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from magpie.store.columns import MATERIALIZED_PROPERTIES
from magpie.store.duckdb.database import execute_over, fetch_over
from magpie.store.duckdb.properties import property_text
from magpie.store.event_columns import EVENT_SCHEMA, arrow_table


def as_variant(text: exp.Expr) -> exp.Expr:
    """JSON text → VARIANT (a plain VARCHAR would become one string value)."""
    return exp.cast(exp.cast(text, "JSON"), "VARIANT")


def _insert_sql() -> str:
    """INSERT … SELECT that types the Arrow columns and extracts the materialised ones."""
    typed = exp.alias_(as_variant(exp.column("properties")), "properties")
    inner = exp.select(exp.Star(except_=[exp.column("properties")]), typed).from_("incoming")
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
    materialized = [
        exp.alias_(property_text(exp.column("properties"), [key]), column)
        for key, column in MATERIALIZED_PROPERTIES.items()
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
