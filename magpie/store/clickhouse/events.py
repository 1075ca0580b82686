"""Appending events to ClickHouse: the column lists ingestion gives every store.

Events whose (project, uuid) is already stored are skipped, so a batch written
twice (a retry, a replay) is stored once; the table's ReplacingMergeTree
deduplication is only the backstop for writers that race. Materialised
property columns are filled by ClickHouse itself on insert; the typed copy of
the properties (JSON type) is added here (``typed.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client

from magpie.store.clickhouse.typed import with_typed_column
from magpie.store.event_columns import arrow_table

# A repeat carries the original's uuid and, give or take clock skew, its
# timestamp: only stored events within a day of the batch's times are compared.
_REPEAT_WINDOW = timedelta(days=1)

# uuids compared per query (each is one bound parameter in the query text).
_CHECK_UUIDS = 10_000

_STORED = """
SELECT toString(uuid), groupUniqArray(ingest_batch) FROM events
WHERE project_id IN {projects:Array(Int64)}
  AND timestamp >= {earliest:DateTime64(6, 'UTC')}
  AND timestamp <= {latest:DateTime64(6, 'UTC')}
  AND uuid IN {uuids:Array(UUID)}
GROUP BY uuid
"""


class ClickHouseEventWriter:
    def __init__(self, client: Client) -> None:
        self._client = client

    def stored_uuids(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> set[str]:
        """Which of these (project, uuid) pairs, timed between ``earliest`` and
        ``latest``, are already stored."""
        return set(self.stored_batches(keys, earliest, latest))

    def stored_batches(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> dict[str, set[uuid.UUID]]:
        """``stored_uuids`` with the ingest batches that stored each (none for
        events stored without one)."""
        stored: dict[str, set[uuid.UUID]] = {}
        projects = sorted({k[0] for k in keys})
        uuids = sorted({k[1] for k in keys})
        for start in range(0, len(uuids), _CHECK_UUIDS):
            rows = self._client.query(
                _STORED,
                parameters={
                    "projects": projects,
                    "uuids": uuids[start : start + _CHECK_UUIDS],
                    "earliest": earliest - _REPEAT_WINDOW,
                    "latest": latest + _REPEAT_WINDOW,
                },
            ).result_rows
            stored.update((row[0], set(row[1])) for row in rows)
        # The query matched uuids across the batch's projects: keep exact pairs.
        return {u: stored[u] for p, u in keys if u in stored}

    def append(self, columns: dict[str, list[Any]]) -> int:
        """Store the events not stored yet; how many were new."""
        return self.append_table(arrow_table(columns))

    def append_table(self, table: pa.Table, *, token: str | None = None) -> int:
        """``append`` for columns already in an Arrow table of EVENT_SCHEMA (and,
        from the loader, ``ingest_batch``). ``token`` names the insert, so that
        ClickHouse drops it if the very same insert is sent again (an answer lost
        in transit)."""
        if table.num_rows == 0:
            return 0
        keys = list(zip(table["project_id"].to_pylist(), table["uuid"].to_pylist(), strict=True))
        times = pc.min_max(table["timestamp"]).as_py()
        if times["min"] is not None:
            stored = self.stored_uuids(keys, times["min"], times["max"])
            if stored:
                keep = pc.invert(pc.is_in(table["uuid"], value_set=pa.array(sorted(stored))))
                table = table.filter(keep)
        table = _first_of_each_uuid(table)
        if table.num_rows:
            settings = {"insert_deduplication_token": token} if token else None
            self._client.insert_arrow("events", with_typed_column(table), settings=settings)
        return int(table.num_rows)


def _first_of_each_uuid(table: pa.Table) -> pa.Table:
    """A batch may repeat an event: keep its first copy."""
    seen: set[tuple[int, str]] = set()
    keep = []
    for project_id, event_uuid in zip(
        table["project_id"].to_pylist(), table["uuid"].to_pylist(), strict=True
    ):
        key = (project_id, event_uuid)
        keep.append(key not in seen)
        seen.add(key)
    return table if all(keep) else table.filter(pa.array(keep))
