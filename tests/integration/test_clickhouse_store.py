"""The ClickHouse store: migrations that run themselves, and writes that may repeat."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from magpie.query.hogql.compiler import compile_hogql
from magpie.store.clickhouse import migrations
from magpie.store.clickhouse.connection import connect
from magpie.store.clickhouse.events import ClickHouseEventWriter
from magpie.store.clickhouse.migrations import MIGRATIONS
from magpie.store.clickhouse.persons import ClickHousePersonWriter
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner
from magpie.store.event_columns import arrow_table
from magpie.store.person_rows import DistinctIdRow, PersonRow
from tests.clickhouse import new_database

T = datetime(2026, 3, 1, 12)


def _events(count: int, person: uuid.UUID) -> dict[str, list[Any]]:
    return {
        "project_id": [1] * count,
        "uuid": [str(uuid.uuid4()) for _ in range(count)],
        "event": ["$pageview"] * count,
        "distinct_id": [f"d{i % 3}" for i in range(count)],
        "timestamp": [T] * count,
        "properties": ['{"$browser": "Chrome", "n": 2.0}'] * count,
        "elements_chain": [None] * count,
        "person_id": [str(person)] * count,
        "person_mode": ["full"] * count,
        "person_properties": [None] * count,
        "person_created_at": [None] * count,
        **{f"group_{i}": [None] * count for i in range(5)},
        "created_at": [T] * count,
    }


def _answer(client: Any, database: str, sql: str) -> list[list[Any]]:
    runner = ClickHouseQueryRunner(client, database)
    return runner.execute(compile_hogql(sql, 1, dialect=runner.dialect)).results


def test_migrations_run_once_and_are_recorded(chdb_dsn: str) -> None:
    client, database = new_database(chdb_dsn)
    again = connect(chdb_dsn, database)
    versions = again.query("SELECT version FROM schema_migrations FINAL").result_rows
    assert sorted(v[0] for v in versions) == [m.version for m in MIGRATIONS]
    columns = {
        row[0]
        for row in client.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'events'",
            parameters={"db": database},
        ).result_rows
    }
    assert {"mat_browser", "mat_session_id", "group_4"} <= columns


def test_the_same_events_written_twice_are_stored_once(chdb_dsn: str) -> None:
    client, database = new_database(chdb_dsn)
    writer = ClickHouseEventWriter(client)
    batch = _events(5, uuid.uuid4())
    assert writer.append(batch) == 5
    assert writer.append(batch) == 0
    repeated = {k: v + v[:2] for k, v in _events(3, uuid.uuid4()).items()}
    assert writer.append(repeated) == 3
    sql = "SELECT count(), countIf(properties.$browser = 'Chrome'), max(properties.n) FROM events"
    assert _answer(client, database, sql) == [[8, 8, "2.0"]]


def test_person_state_written_twice_answers_the_same(chdb_dsn: str) -> None:
    client, database = new_database(chdb_dsn)
    ada, old = uuid.uuid4(), uuid.uuid4()
    ClickHouseEventWriter(client).append(_events(3, old))
    persons = ClickHousePersonWriter(client)
    first = [
        PersonRow(1, ada, {"email": "ada@old"}, T, True, 1),
        PersonRow(1, old, {"email": "gone"}, T, False, 1),
    ]
    later = [
        PersonRow(1, ada, {"email": "ada@example.com"}, T, True, 2),
        PersonRow(1, old, {}, T, False, 2, is_deleted=True),
    ]
    overrides = [DistinctIdRow(1, f"d{i}", ada, 1) for i in range(3)]
    sql = (
        "SELECT person.properties.email, count(DISTINCT person_id), count() FROM events GROUP BY 1"
    )
    for _ in range(2):
        persons.write_persons(first)
        persons.write_persons(later)
        persons.write_overrides(overrides)
        persons.write_distinct_ids(overrides)
        assert _answer(client, database, sql) == [["ada@example.com", 1, 3]]
        assert _answer(client, database, "SELECT count() FROM persons") == [[1]]
        assert _answer(client, database, "SELECT count() FROM person_distinct_ids") == [[3]]


def test_typed_properties_reach_a_database_made_before_them(
    chdb_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 3 adds the JSON-typed copy of the properties to a database whose
    events were written without it: they read the same, from the typed column."""
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", tuple(m for m in MIGRATIONS if m.version < 3))
        client, database = new_database(chdb_dsn)
        # As the writer stored them before: the event columns alone.
        old = {**_events(2, uuid.uuid4()), "properties": [_OLD_PROPERTIES] * 2}
        client.insert_arrow("events", arrow_table(old))
    assert "properties_json" not in _columns(client, database)
    upgraded = connect(chdb_dsn, database)
    assert "properties_json" in _columns(upgraded, database)
    sql = (
        "SELECT properties['a.b'], properties.a.b, properties.n, toFloat(properties.n) FROM events"
    )
    assert _answer(upgraded, database, sql) == [["dotted", "deep", "30.0", 30.0]] * 2
    paths = upgraded.query(f"SELECT JSONAllPaths(properties_json) FROM {database}.events")
    assert sorted(paths.result_rows[0][0]) == ["a%2Eb", "a.b", "n"]
    tables = upgraded.query(
        "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    ).result_rows
    assert not {"events_typed", "events_untyped"} & {t[0] for t in tables}


_OLD_PROPERTIES = '{"a.b": "dotted", "a": {"b": "deep"}, "n": 30.0}'


def _columns(client: Any, database: str) -> set[str]:
    rows = client.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'events'",
        parameters={"db": database},
    ).result_rows
    return {row[0] for row in rows}
