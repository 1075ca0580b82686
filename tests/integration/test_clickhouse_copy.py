"""tests/clickhouse.copy_store streams the DuckDB events into ClickHouse in bounded
chunks (10M events read at once ran out of memory): the copy is still exact, every
event once with the same columns, however small the chunks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.clickhouse import copy_store, new_database
from tests.harness import Ingest

COLUMNS = "uuid, event, distinct_id, timestamp, person_id, person_mode, properties"


def _duckdb_rows(ingest: Ingest) -> list[tuple[Any, ...]]:
    rows = ingest.cursor.execute(
        "SELECT CAST(uuid AS VARCHAR), event, distinct_id, timestamp,"
        " CAST(person_id AS VARCHAR), person_mode, CAST(CAST(properties AS JSON) AS VARCHAR)"
        " FROM events ORDER BY 1"
    ).fetchall()
    return [(*row[:-1], orjson.loads(row[-1])) for row in rows]


def _clickhouse_rows(client: Any, database: str) -> list[tuple[Any, ...]]:
    rows = client.query(
        f"SELECT toString(uuid), event, distinct_id, timestamp, toString(person_id),"
        f" person_mode, properties FROM {database}.events FINAL ORDER BY toString(uuid)"
    ).result_rows
    return [(*row[:-1], orjson.loads(row[-1])) for row in rows]


@pytest.mark.parametrize("chunk_rows", [1, 3, 1000])
def test_a_chunked_copy_holds_every_event_once(
    tmp_path: Path, chdb_dsn: str, chunk_rows: int
) -> None:
    ingest = Ingest(tmp_path / "data")
    try:
        # Some events share an instant, so chunk edges fall inside a run of equal times.
        ingest.send(
            *[
                ingest.event(
                    "$pageview" if i % 3 else "purchase",
                    f"user-{i % 4}",
                    after=timedelta(seconds=i % 2),
                    n=i,
                    nested={"k": [i, "x"]},
                )
                for i in range(10)
            ],
            ingest.event("$identify", "user-9", **{"$anon_distinct_id": "user-0"}),
        )
        client, database = new_database(chdb_dsn, "copy")
        cursor = ingest.magpie.db.new_cursor()
        try:
            copy_store(cursor, client, chunk_rows=chunk_rows)
        finally:
            cursor.close()
        expected = _duckdb_rows(ingest)
        assert len(expected) == 11
        copied = _clickhouse_rows(client, database)
        assert [r[:3] for r in copied] == [r[:3] for r in expected]
        assert [r[5:] for r in copied] == [r[5:] for r in expected]
        assert [str(r[4]) for r in copied] == [str(r[4]) for r in expected]
        assert [r[3].replace(tzinfo=None) for r in copied] == [
            r[3].replace(tzinfo=None) for r in expected
        ]
    finally:
        ingest.close()
