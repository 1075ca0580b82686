"""Migration 0005 on a data folder made before it: properties become VARIANT, every
property reads as it did from JSON text, and an interrupted copy resumes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from magpie.app import Magpie
from magpie.query.context import QueryContext
from magpie.query.kinds import run_query
from magpie.settings import Settings
from magpie.store.duckdb import schema, typed_properties

START = datetime(2026, 3, 1, 12)
PROPERTIES: list[dict[str, Any]] = [
    {"$browser": "Chrome", "n": 30, "x": 30.5, "flag": True, "nested": {"a": {"b": "deep"}}},
    {"$browser": "Safari", "n": "30", "x": 1e20, "nothing": None, "a.b": "dotted", "clé": "é"},
    {"n": -3, "x": 2.5e-10, "list": [1, "x", None], "$weird key": "w", "m": {"z": 1, "a": [1]}},
    {"$browser": "Firefox", "n": 12.0, "flag": False, "long": "y" * 5000, "m": [1, "x", {}]},
    {"only here": "yes", "nested": {"a": {"b": 7}}, "n": True, "x": 0.0001, "m": 1e16},
]
KEYS: list[list[str]] = [
    ["$browser"],
    ["n"],
    ["x"],
    ["flag"],
    ["nothing"],
    ["missing"],
    ["nested", "a", "b"],
    ["a.b"],
    ["clé"],
    ["$weird key"],
    ["long"],
    ["only here"],
    ["list"],
    ["nested", "a"],
]


def _old_folder(data: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """A data folder as Magpie made it with migrations 0001-0004 (properties as JSON
    text), holding PROPERTIES as the old writer stored them."""
    steps = schema.migrations()
    with monkeypatch.context() as patched:
        patched.setattr(schema, "migrations", lambda: [m for m in steps if m.version <= 4])
        old = Magpie(Settings.load(env={}, data_dir=data, capture_process=False))
        cursor = old.db.cursor()
        # In SQL: today's project store reads columns that later migrations add.
        [(project,)] = cursor.execute(
            "INSERT INTO projects (name, api_token, created_at)"
            " VALUES ('old', 'phc_old', now()) RETURNING id"
        ).fetchall()
        for i, props in enumerate(PROPERTIES):
            cursor.execute(
                "INSERT INTO events (project_id, uuid, event, distinct_id, timestamp, properties,"
                " person_id, person_mode, mat_browser, created_at)"
                " VALUES (?, uuid(), 'e', ?, ?, ?, uuid(), 'full',"
                " json_extract_string(?, '/$browser'), now())",
                [project, f"d{i}", START + timedelta(minutes=i), orjson.dumps(props).decode()]
                + [orjson.dumps(props).decode()],
            )
        cursor.execute(
            "INSERT INTO persons VALUES (?, uuid(), ?, now(), true, 1, NULL)",
            [project, '{"email": "a@b.c", "n": 3}'],
        )
        cursor.execute(
            "INSERT INTO groups VALUES (?, 0, 'acme', ?, now(), 1)", [project, '{"seats": 12.0}']
        )
        old.close()
    return project


def _as_text_before(data: Path) -> list[list[Any]]:
    """What the JSON-text store answered: json_extract_string per key, in event order."""
    with duckdb.connect(str(data / "magpie.duckdb")) as con:
        pointers = ["/" + "/".join(keys) for keys in KEYS]
        return [
            list(row)
            for row in con.execute(
                "SELECT "
                + ", ".join(f"json_extract_string(properties, '{p}')" for p in pointers)
                + ", TRY_CAST(json_extract_string(properties, '/n') AS DOUBLE)"
                ", TRY_CAST(json_extract_string(properties, '/x') AS DOUBLE)"
                ", CAST(json_extract(properties, '/m') AS VARCHAR)"
                " FROM events ORDER BY timestamp"
            ).fetchall()
        ]


def _hogql(magpie: Magpie, project_id: int, sql: str) -> list[list[Any]]:
    project = magpie.projects.get(project_id)
    assert project is not None
    context = QueryContext(project, magpie.query_runner, datetime(2026, 3, 2, tzinfo=UTC))
    result: list[list[Any]] = run_query({"kind": "HogQLQuery", "query": sql}, context)["results"]
    return result


def _field(keys: list[str]) -> str:
    # One key in brackets (any characters), a path in dots.
    return f"properties['{keys[0]}']" if len(keys) == 1 else ".".join(["properties", *keys])


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, int]]:
    data = tmp_path / "data"
    yield data, _old_folder(data, monkeypatch)


def test_every_property_reads_as_before(
    folder: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, project = folder
    before = _as_text_before(data)
    monkeypatch.setattr(typed_properties, "SLICE_ROWS", 2)
    magpie = Magpie(Settings.load(env={}, data_dir=data, capture_process=False))
    try:
        columns = ", ".join(_field(keys) for keys in KEYS)
        after = _hogql(
            magpie,
            project,
            f"SELECT {columns}, toFloat(properties.n), toFloat(properties.x), properties.m"
            " FROM events ORDER BY timestamp",
        )
        # Objects read as JSON text keep their members, in DuckDB's sorted order.
        assert [row[:-1] for row in after] == [row[:-1] for row in before]
        objects = [None if t is None else orjson.loads(t) for t in (row[-1] for row in after)]
        assert objects == [None if t is None else orjson.loads(t) for t in (r[-1] for r in before)]
        people = _hogql(magpie, project, "SELECT properties.email, properties.n FROM persons")
        assert people == [["a@b.c", "3"]]
        assert _hogql(magpie, project, "SELECT properties.seats FROM groups") == [["12.0"]]
        cursor = magpie.db.cursor()
        kinds = dict(
            cursor.execute(
                "SELECT table_name, data_type FROM information_schema.columns"
                " WHERE column_name = 'properties' AND table_name IN ('events', 'persons',"
                " 'groups')"
            ).fetchall()
        )
        assert kinds == {"events": "VARIANT", "persons": "VARIANT", "groups": "VARIANT"}
        leftovers = cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'events_typed%'"
        ).fetchall()
        assert leftovers == [(0,)]
    finally:
        magpie.close()


def test_an_interrupted_copy_resumes_where_it_stopped(
    folder: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, project = folder
    monkeypatch.setattr(typed_properties, "SLICE_ROWS", 2)
    copy = typed_properties._COPY_SLICE
    slices: list[int] = []

    class Crash(Exception):
        pass

    def crash_after_two(connection: duckdb.DuckDBPyConnection) -> None:
        original = connection.execute

        def execute(sql: str, *args: Any) -> Any:
            if sql == copy:
                slices.append(1)
                if len(slices) > 2:
                    raise Crash
            return original(sql, *args)

        proxy = _Proxy(connection, execute)
        typed_properties.copy_events(proxy)  # type: ignore[arg-type]

    with monkeypatch.context() as patched:
        step = next(m for m in schema.CODE_STEPS if m.version == 5)
        patched.setattr(
            schema, "CODE_STEPS", (schema.Migration(5, step.name, crash_after_two, step.finish),)
        )
        with pytest.raises(Crash):
            Magpie(Settings.load(env={}, data_dir=data, capture_process=False))
    with duckdb.connect(str(data / "magpie.duckdb")) as con:
        assert con.execute("SELECT count(*) FROM events_typed").fetchall() == [(4,)]
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchall() == [(4,)]
    magpie = Magpie(Settings.load(env={}, data_dir=data, capture_process=False))
    try:
        rows = _hogql(magpie, project, "SELECT distinct_id FROM events ORDER BY timestamp")
        assert rows == [[f"d{i}"] for i in range(len(PROPERTIES))]
    finally:
        magpie.close()


class _Proxy:
    """A connection whose ``execute`` is replaced; everything else is the connection's."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, execute: Any) -> None:
        self._connection = connection
        self.execute = execute

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)
