"""ClickHouse (chdb) beside the DuckDB store in tests: the same rows in both.

chdb allows one data path per process, so the whole session shares one and
each test module takes a database of its own. Persons, distinct ids,
overrides, groups and cohort membership are read from the DuckDB file the
harness ingested into and written through the ClickHouse writers, so both
engines hold the same rows. Events go to ClickHouse as ingestion built them for DuckDB
(``events_as_ingested``), properties as the JSON text the worker wrote,
since DuckDB keeps them only as VARIANT; without a recording they are read
back from DuckDB.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import orjson
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from magpie.store.clickhouse.cohorts import ClickHouseMembershipCopy
from magpie.store.clickhouse.connection import connect
from magpie.store.clickhouse.events import ClickHouseEventWriter
from magpie.store.clickhouse.persons import ClickHousePersonWriter
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner
from magpie.store.duckdb.ingest import DuckDBIngestUnit
from magpie.store.event_columns import EVENT_SCHEMA
from magpie.store.person_rows import DistinctIdRow, GroupRow, GroupTypeRow, PersonRow
from tests.harness import Ingest

_AS_TEXT = {"uuid", "person_id", "person_mode"}
# Stored as VARIANT in DuckDB; the writers take JSON text.
_AS_JSON = {"properties"}


# Events copied per insert: reading all of 10M events into one Arrow table (with
# the writer's per-row uuid checks on top) ran out of memory, so the copy streams
# the events in bounded chunks; each is checked against what is stored already,
# as the writer checks every batch, so the copy stays exact.
COPY_CHUNK_ROWS = 250_000


def new_database(dsn: str, prefix: str = "t") -> tuple[Client, str]:
    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    return connect(dsn, database), database


@contextmanager
def events_as_ingested() -> Iterator[list[dict[str, list[Any]]]]:
    """The column lists every DuckDB ingest unit is given to append, in order (a
    unit retried after a conflict appends again: ClickHouse's writer keeps one)."""
    batches: list[dict[str, list[Any]]] = []
    append = DuckDBIngestUnit.append_events

    def recorded(unit: DuckDBIngestUnit, columns: dict[str, list[Any]]) -> int:
        batches.append(columns)
        return append(unit, columns)

    with mock.patch.object(DuckDBIngestUnit, "append_events", recorded):
        yield batches


def copy_to_clickhouse(
    ingest: Ingest, client: Client, events: list[dict[str, list[Any]]] | None = None
) -> None:
    """The harness's events (as ingested, when recorded) and every person-store row of
    its DuckDB file, into ClickHouse."""
    cursor = ingest.magpie.db.new_cursor()
    try:
        copy_store(cursor, client, events)
    finally:
        cursor.close()


def copy_store(
    cursor: Any,
    client: Client,
    events: list[dict[str, list[Any]]] | None = None,
    *,
    chunk_rows: int = COPY_CHUNK_ROWS,
) -> None:
    """Events (these column lists, or every event a DuckDB cursor reads, ``chunk_rows``
    at a time) and every person-store row it reads, into ClickHouse."""
    if events is None:
        _copy_events(cursor, client, chunk_rows)
    else:
        writer = ClickHouseEventWriter(client)
        for columns in events:
            writer.append(columns)
    _copy_person_store(cursor, client)


def _copy_events(cursor: Any, client: Client, chunk_rows: int = COPY_CHUNK_ROWS) -> None:
    names = [f.name for f in EVENT_SCHEMA]
    select = ", ".join(
        f"CAST({n} AS VARCHAR) AS {n}"
        if n in _AS_TEXT
        else f"CAST(CAST({n} AS JSON) AS VARCHAR) AS {n}"
        if n in _AS_JSON
        else n
        for n in names
    )
    reader = cursor.sql(f"SELECT {select} FROM events ORDER BY timestamp").to_arrow_reader(
        chunk_rows
    )
    writer = ClickHouseEventWriter(client)
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= chunk_rows:
            writer.append_table(pa.Table.from_batches(pending).cast(EVENT_SCHEMA))
            pending, rows = [], 0
    if pending:
        writer.append_table(pa.Table.from_batches(pending).cast(EVENT_SCHEMA))


def _copy_person_store(cursor: Any, client: Client) -> None:
    persons = ClickHousePersonWriter(client)
    persons.write_persons(
        [
            PersonRow(p, u, orjson.loads(props), created, identified, version, seen)
            for p, u, props, created, identified, version, seen in cursor.execute(
                "SELECT project_id, uuid, CAST(properties AS JSON), created_at, is_identified,"
                " version, last_seen_at FROM persons"
            ).fetchall()
        ]
    )
    persons.write_distinct_ids(_distinct_ids(cursor, "person_distinct_ids"))
    persons.write_overrides(_distinct_ids(cursor, "person_overrides"))
    persons.write_group_types(
        [
            GroupTypeRow(*row)
            for row in cursor.execute(
                "SELECT project_id, group_type, group_type_index, created_at"
                " FROM group_type_mapping"
            ).fetchall()
        ]
    )
    persons.write_groups(
        [
            GroupRow(p, index, key, orjson.loads(props), created, version)
            for p, index, key, props, created, version in cursor.execute(
                "SELECT project_id, group_type_index, group_key, CAST(properties AS JSON),"
                " created_at, version FROM groups"
            ).fetchall()
        ]
    )
    _copy_cohort_people(cursor, client)


def _copy_cohort_people(cursor: Any, client: Client) -> None:
    copy = ClickHouseMembershipCopy(client)
    cohorts = cursor.execute(
        "SELECT project_id, cohort_id, max(version) FROM cohort_people GROUP BY ALL"
    ).fetchall()
    for project_id, cohort_id, version in cohorts:
        members = cursor.execute(
            "SELECT person_uuid FROM cohort_people WHERE cohort_id = ?", [cohort_id]
        ).fetchall()
        copy.write(project_id, cohort_id, version, [m[0] for m in members], [])


def _distinct_ids(cursor: Any, table: str) -> list[DistinctIdRow]:
    rows = cursor.execute(
        f"SELECT project_id, distinct_id, person_uuid, version FROM {table}"
    ).fetchall()
    return [DistinctIdRow(*row) for row in rows]


def clickhouse_runner(client: Client, database: str, **limits: Any) -> ClickHouseQueryRunner:
    return ClickHouseQueryRunner(client, database, **limits)
