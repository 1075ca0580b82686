"""Rows the worker writes beside events: its queue position, warnings, dead letters."""

from __future__ import annotations

from datetime import datetime

import duckdb
import orjson
import pyarrow as pa

from magpie.store.duckdb.database import first_row
from magpie.store.model import IngestionWarning


def load_position(cursor: duckdb.DuckDBPyConnection, consumer: str) -> int:
    row = first_row(
        cursor.execute("SELECT position FROM queue_positions WHERE consumer = ?", [consumer])
    )
    return int(row[0]) if row else 0


def save_position(cursor: duckdb.DuckDBPyConnection, consumer: str, position: int) -> None:
    cursor.execute(
        "INSERT INTO queue_positions VALUES (?, ?)"
        " ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
        [consumer, position],
    )


def insert_warnings(cursor: duckdb.DuckDBPyConnection, warnings: list[IngestionWarning]) -> None:
    if not warnings:
        return
    table = pa.table(
        {
            "project_id": pa.array([w.project_id for w in warnings], pa.int64()),
            "type": [w.type for w in warnings],
            "details": [orjson.dumps(w.details, default=str).decode() for w in warnings],
            "event_uuid": [w.event_uuid for w in warnings],
            "timestamp": pa.array([w.timestamp for w in warnings], pa.timestamp("us")),
        }
    )
    cursor.register("incoming_warnings", table)
    try:
        cursor.execute(
            "INSERT INTO ingestion_warnings BY NAME SELECT * REPLACE"
            " (CAST(event_uuid AS UUID) AS event_uuid) FROM incoming_warnings"
        )
    finally:
        cursor.unregister("incoming_warnings")


def insert_dead_letter(
    cursor: duckdb.DuckDBPyConnection, position: int, payload: bytes, error: str, at: datetime
) -> None:
    cursor.execute(
        "INSERT INTO dead_letters VALUES (?, ?, ?, ?)", [position, payload, error[:2000], at]
    )
