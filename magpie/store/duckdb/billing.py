"""Usage counters, dropped events, quotas and the price list in DuckDB."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from magpie.store.duckdb.database import Database, execute_over, first_row
from magpie.store.model import QuotaLimits, UsageCount, UsageRow


def usage_rows(
    cursor: duckdb.DuckDBPyConnection, project_id: int, start: date, end: date
) -> list[UsageRow]:
    rows = cursor.execute(
        "SELECT day, lib, lib_version, event_class, excluded_event, events FROM usage_counters"
        " WHERE project_id = ? AND day >= ? AND day < ? ORDER BY day",
        [project_id, start, end],
    ).fetchall()
    return [UsageRow(*row) for row in rows]


def dropped_events(
    cursor: duckdb.DuckDBPyConnection, project_id: int, start: date, end: date
) -> int:
    row = first_row(
        cursor.execute(
            "SELECT coalesce(sum(events), 0) FROM usage_dropped"
            " WHERE project_id = ? AND day >= ? AND day < ?",
            [project_id, start, end],
        )
    )
    return int(row[0]) if row else 0


_ADD_USAGE = """
INSERT INTO usage_counters SELECT * FROM incoming
ON CONFLICT DO UPDATE SET events = usage_counters.events + excluded.events
"""


def add_usage(cursor: duckdb.DuckDBPyConnection, counts: Sequence[UsageCount]) -> None:
    if not counts:
        return
    table = pa.table(
        {
            "project_id": pa.array([c.project_id for c in counts], pa.int64()),
            "day": pa.array([c.day for c in counts], pa.date32()),
            "lib": [c.lib for c in counts],
            "lib_version": [c.lib_version for c in counts],
            "event_class": [c.event_class for c in counts],
            "excluded_event": [c.excluded_event for c in counts],
            "events": pa.array([c.events for c in counts], pa.int64()),
        }
    )
    execute_over(cursor, _ADD_USAGE, table)


def add_dropped(cursor: duckdb.DuckDBPyConnection, project_id: int, day: date, events: int) -> None:
    cursor.execute(
        "INSERT INTO usage_dropped VALUES (?, ?, ?)"
        " ON CONFLICT DO UPDATE SET events = usage_dropped.events + excluded.events",
        [project_id, day, events],
    )


def quota_limits(cursor: duckdb.DuckDBPyConnection) -> dict[int, QuotaLimits]:
    rows = cursor.execute(
        "SELECT project_id, max_events, max_amount FROM billing_quotas"
    ).fetchall()
    return {row[0]: QuotaLimits(row[1], row[2]) for row in rows}


def set_quota_limits(
    cursor: duckdb.DuckDBPyConnection, project_id: int, limits: QuotaLimits
) -> None:
    cursor.execute(
        "INSERT INTO billing_quotas VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET"
        " max_events = excluded.max_events, max_amount = excluded.max_amount",
        [project_id, limits.max_events, limits.max_amount],
    )


def stored_pricing(cursor: duckdb.DuckDBPyConnection) -> Any | None:
    row = first_row(cursor.execute("SELECT pricing FROM billing_pricing WHERE id = 1"))
    return orjson.loads(row[0]) if row else None


def store_pricing(cursor: duckdb.DuckDBPyConnection, pricing: dict[str, Any], at: datetime) -> None:
    cursor.execute(
        "INSERT INTO billing_pricing VALUES (1, ?, ?) ON CONFLICT DO UPDATE SET"
        " pricing = excluded.pricing, updated_at = excluded.updated_at",
        [orjson.dumps(pricing).decode(), at],
    )


class DuckDBBillingStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def usage_rows(self, project_id: int, start: date, end: date) -> list[UsageRow]:
        return usage_rows(self._db.cursor(), project_id, start, end)

    def dropped_events(self, project_id: int, start: date, end: date) -> int:
        return dropped_events(self._db.cursor(), project_id, start, end)

    def quota_limits(self) -> dict[int, QuotaLimits]:
        return quota_limits(self._db.cursor())

    def set_quota_limits(self, project_id: int, limits: QuotaLimits) -> None:
        set_quota_limits(self._db.cursor(), project_id, limits)

    def stored_pricing(self) -> Any | None:
        return stored_pricing(self._db.cursor())

    def store_pricing(self, pricing: dict[str, Any], at: datetime) -> None:
        store_pricing(self._db.cursor(), pricing, at)
