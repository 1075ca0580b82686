"""ClickHouse (chdb) beside the DuckDB store in tests: the same rows in both.

chdb allows one data path per process, so the whole session shares one and
each test module takes a database of its own. Events, persons, distinct ids,
overrides and groups are read from the DuckDB file the harness ingested into
and written through the ClickHouse writers, so both engines hold the same
rows.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from magpie.store.clickhouse.connection import connect
from magpie.store.clickhouse.events import ClickHouseEventWriter
from magpie.store.clickhouse.persons import ClickHousePersonWriter
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner
from magpie.store.event_columns import EVENT_SCHEMA
from magpie.store.person_rows import DistinctIdRow, GroupRow, GroupTypeRow, PersonRow
from tests.harness import Ingest

_AS_TEXT = {"uuid", "person_id", "person_mode"}


def new_database(dsn: str, prefix: str = "t") -> tuple[Client, str]:
    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    return connect(dsn, database), database


def copy_to_clickhouse(ingest: Ingest, client: Client) -> None:
    """Every event and person-store row of the harness's DuckDB file, into ClickHouse."""
    cursor = ingest.magpie.db.new_cursor()
    try:
        copy_store(cursor, client)
    finally:
        cursor.close()


def copy_store(cursor: Any, client: Client) -> None:
    """Every event and person-store row a DuckDB cursor reads, into ClickHouse."""
    names = [f.name for f in EVENT_SCHEMA]
    select = ", ".join(f"CAST({n} AS VARCHAR) AS {n}" if n in _AS_TEXT else n for n in names)
    events = cursor.sql(f"SELECT {select} FROM events ORDER BY timestamp").to_arrow_reader()
    ClickHouseEventWriter(client).append_table(events.read_all().cast(EVENT_SCHEMA))
    persons = ClickHousePersonWriter(client)
    persons.write_persons(
        [
            PersonRow(p, u, orjson.loads(props), created, identified, version, seen)
            for p, u, props, created, identified, version, seen in cursor.execute(
                "SELECT project_id, uuid, properties, created_at, is_identified, version,"
                " last_seen_at FROM persons"
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
                "SELECT project_id, group_type_index, group_key, properties, created_at,"
                " version FROM groups"
            ).fetchall()
        ]
    )


def _distinct_ids(cursor: Any, table: str) -> list[DistinctIdRow]:
    rows = cursor.execute(
        f"SELECT project_id, distinct_id, person_uuid, version FROM {table}"
    ).fetchall()
    return [DistinctIdRow(*row) for row in rows]


def clickhouse_runner(client: Client, database: str, **limits: Any) -> ClickHouseQueryRunner:
    return ClickHouseQueryRunner(client, database, **limits)
