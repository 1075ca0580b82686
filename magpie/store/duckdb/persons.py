"""Loading the persons and groups a worker batch touches, and writing back what changed.

Each direction is a handful of set-based statements over Arrow tables (each
read as ``incoming``, see ``execute_over``), never a query per event or per
person. Properties travel as JSON text and are stored as VARIANT (what queries
read); DuckDB converts them both ways.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import duckdb
import orjson
import pyarrow as pa

from magpie.store.duckdb.database import execute_over, fetch_over
from magpie.store.state import Group, GroupState, Key, Person, PersonState

_LOAD_PERSONS = """
WITH owners AS (
    SELECT DISTINCT d.project_id, d.person_uuid
    FROM person_distinct_ids AS d
    JOIN incoming AS k ON k.project_id = d.project_id AND k.distinct_id = d.distinct_id
)
SELECT p.project_id, p.uuid, CAST(p.properties AS JSON), p.created_at, p.is_identified,
       p.version, p.last_seen_at, list(d.distinct_id), list(d.version)
FROM owners AS o
JOIN persons AS p ON p.project_id = o.project_id AND p.uuid = o.person_uuid
JOIN person_distinct_ids AS d ON d.project_id = p.project_id AND d.person_uuid = p.uuid
GROUP BY ALL
"""

_LOAD_PERSONLESS = """
SELECT l.project_id, l.distinct_id, l.is_merged
FROM personless_distinct_ids AS l
JOIN incoming AS k ON k.project_id = l.project_id AND k.distinct_id = l.distinct_id
"""

_UPSERT_PERSONS = """
INSERT INTO persons
SELECT project_id, CAST(uuid AS UUID), CAST(CAST(properties AS JSON) AS VARIANT), created_at,
       is_identified, version, last_seen_at
FROM incoming
ON CONFLICT (project_id, uuid) DO UPDATE SET
    properties = excluded.properties, created_at = excluded.created_at,
    is_identified = excluded.is_identified, version = excluded.version,
    last_seen_at = excluded.last_seen_at
"""

_DELETE_PERSONS = """
DELETE FROM persons USING incoming AS d
WHERE persons.project_id = d.project_id AND persons.uuid = CAST(d.uuid AS UUID)
"""

_UPSERT_DISTINCT_IDS = """
INSERT INTO person_distinct_ids
SELECT project_id, distinct_id, CAST(person_uuid AS UUID), version FROM incoming
ON CONFLICT (project_id, distinct_id) DO UPDATE SET
    person_uuid = excluded.person_uuid, version = excluded.version
"""

_UPSERT_OVERRIDES = """
INSERT INTO person_overrides
SELECT project_id, distinct_id, CAST(person_uuid AS UUID), version FROM incoming
ON CONFLICT (project_id, distinct_id) DO UPDATE SET
    person_uuid = excluded.person_uuid, version = excluded.version
"""

_UPSERT_PERSONLESS = """
INSERT INTO personless_distinct_ids
SELECT project_id, distinct_id, is_merged, created_at FROM incoming
ON CONFLICT (project_id, distinct_id) DO UPDATE SET is_merged = excluded.is_merged
"""

_INSERT_MERGES = """
INSERT INTO person_merges
SELECT project_id, event_timestamp, recorded_at, CAST(event_uuid AS UUID), event, kind,
       CAST(source_person_uuid AS UUID), CAST(target_person_uuid AS UUID), distinct_ids
FROM incoming
"""

_LOAD_GROUP_TYPES = """
SELECT m.project_id, m.group_type, m.group_type_index
FROM group_type_mapping AS m JOIN incoming AS b ON b.project_id = m.project_id
"""

_LOAD_GROUPS = """
SELECT g.project_id, g.group_type_index, g.group_key, CAST(g.properties AS JSON), g.created_at,
       g.version
FROM groups AS g
JOIN group_type_mapping AS m
  ON m.project_id = g.project_id AND m.group_type_index = g.group_type_index
JOIN incoming AS b
  ON b.project_id = g.project_id AND b.group_type = m.group_type AND b.group_key = g.group_key
"""

_INSERT_GROUP_TYPES = "INSERT INTO group_type_mapping SELECT * FROM incoming"

_UPSERT_GROUPS = """
INSERT INTO groups
SELECT project_id, group_type_index, group_key, CAST(CAST(properties AS JSON) AS VARIANT),
       created_at, version
FROM incoming
ON CONFLICT (project_id, group_type_index, group_key) DO UPDATE SET
    properties = excluded.properties, version = excluded.version
"""


def load_person_state(cursor: duckdb.DuckDBPyConnection, keys: Iterable[Key]) -> PersonState:
    state = PersonState()
    unique = sorted(set(keys))
    if not unique:
        return state
    batch_keys = pa.table(
        {
            "project_id": pa.array([k[0] for k in unique], pa.int64()),
            "distinct_id": pa.array([k[1] for k in unique], pa.string()),
        }
    )
    for row in fetch_over(cursor, _LOAD_PERSONS, batch_keys):
        state.load_person(
            Person(
                project_id=row[0],
                uuid=row[1],
                properties=orjson.loads(row[2]),
                created_at=row[3],
                is_identified=row[4],
                version=row[5],
                last_seen_at=row[6],
                distinct_ids=dict(zip(row[7], row[8], strict=True)),
            )
        )
    for project_id, distinct_id, is_merged in fetch_over(cursor, _LOAD_PERSONLESS, batch_keys):
        state.personless[(project_id, distinct_id)] = is_merged
    return state


def save_person_state(
    cursor: duckdb.DuckDBPyConnection, state: PersonState, recorded_at: datetime
) -> None:
    persons = [state.persons[key] for key in sorted(state.dirty_persons, key=str)]
    _write(
        cursor,
        _UPSERT_PERSONS,
        {
            "project_id": pa.array([p.project_id for p in persons], pa.int64()),
            "uuid": [str(p.uuid) for p in persons],
            "properties": [_json(p.properties) for p in persons],
            "created_at": pa.array([p.created_at for p in persons], pa.timestamp("us")),
            "is_identified": pa.array([p.is_identified for p in persons], pa.bool_()),
            "version": pa.array([p.version for p in persons], pa.int64()),
            "last_seen_at": pa.array([p.last_seen_at for p in persons], pa.timestamp("us")),
        },
    )
    deleted = sorted(state.deleted_persons, key=str)
    _write(
        cursor,
        _DELETE_PERSONS,
        {
            "project_id": pa.array([d[0] for d in deleted], pa.int64()),
            "uuid": [str(d[1]) for d in deleted],
        },
    )
    moved = sorted(state.dirty_distinct_ids)
    owners = [state.owner[key] for key in moved]
    _write(
        cursor,
        _UPSERT_DISTINCT_IDS,
        {
            "project_id": pa.array([k[0] for k in moved], pa.int64()),
            "distinct_id": pa.array([k[1] for k in moved], pa.string()),
            "person_uuid": [str(o) for o in owners],
            "version": pa.array(
                [
                    state.persons[(k[0], o)].distinct_ids[k[1]]
                    for k, o in zip(moved, owners, strict=True)
                ],
                pa.int64(),
            ),
        },
    )
    overrides = sorted(state.overrides.items())
    _write(
        cursor,
        _UPSERT_OVERRIDES,
        {
            "project_id": pa.array([k[0] for k, _ in overrides], pa.int64()),
            "distinct_id": pa.array([k[1] for k, _ in overrides], pa.string()),
            "person_uuid": [str(v[0]) for _, v in overrides],
            "version": pa.array([v[1] for _, v in overrides], pa.int64()),
        },
    )
    personless = sorted(set(state.new_personless) | state.merged_personless)
    _write(
        cursor,
        _UPSERT_PERSONLESS,
        {
            "project_id": pa.array([k[0] for k in personless], pa.int64()),
            "distinct_id": pa.array([k[1] for k in personless], pa.string()),
            "is_merged": pa.array([state.personless[k] for k in personless], pa.bool_()),
            "created_at": pa.array(
                [state.new_personless.get(k, recorded_at) for k in personless], pa.timestamp("us")
            ),
        },
    )
    merges = state.merges
    _write(
        cursor,
        _INSERT_MERGES,
        {
            "project_id": pa.array([m.project_id for m in merges], pa.int64()),
            "event_timestamp": pa.array([m.event_timestamp for m in merges], pa.timestamp("us")),
            "recorded_at": pa.array([recorded_at] * len(merges), pa.timestamp("us")),
            "event_uuid": pa.array([m.event_uuid for m in merges], pa.string()),
            "event": pa.array([m.event for m in merges], pa.string()),
            "kind": pa.array([m.kind for m in merges], pa.string()),
            "source_person_uuid": pa.array(
                [_opt(m.source_person_uuid) for m in merges], pa.string()
            ),
            "target_person_uuid": [str(m.target_person_uuid) for m in merges],
            "distinct_ids": [_json(list(m.distinct_ids)) for m in merges],
        },
    )


def load_group_state(
    cursor: duckdb.DuckDBPyConnection,
    project_ids: Iterable[int],
    group_keys: Iterable[tuple[int, str, str]],
) -> GroupState:
    state = GroupState()
    projects = sorted(set(project_ids))
    if not projects:
        return state
    batch_projects = pa.table({"project_id": pa.array(projects, pa.int64())})
    for project_id, group_type, index in fetch_over(cursor, _LOAD_GROUP_TYPES, batch_projects):
        state.type_index[(project_id, group_type)] = index
    keys = sorted(set(group_keys))
    if keys:
        batch_groups = pa.table(
            {
                "project_id": pa.array([k[0] for k in keys], pa.int64()),
                "group_type": pa.array([k[1] for k in keys], pa.string()),
                "group_key": pa.array([k[2] for k in keys], pa.string()),
            }
        )
        for row in fetch_over(cursor, _LOAD_GROUPS, batch_groups):
            group = Group(row[0], row[1], row[2], orjson.loads(row[3]), row[4], row[5])
            state.groups[(group.project_id, group.type_index, group.key)] = group
    return state


def save_group_state(cursor: duckdb.DuckDBPyConnection, state: GroupState) -> None:
    types = state.new_types
    _write(
        cursor,
        _INSERT_GROUP_TYPES,
        {
            "project_id": pa.array([t[0] for t in types], pa.int64()),
            "group_type": pa.array([t[1] for t in types], pa.string()),
            "group_type_index": pa.array([t[2] for t in types], pa.int32()),
            "created_at": pa.array([t[3] for t in types], pa.timestamp("us")),
        },
    )
    groups = [state.groups[key] for key in sorted(state.dirty_groups)]
    _write(
        cursor,
        _UPSERT_GROUPS,
        {
            "project_id": pa.array([g.project_id for g in groups], pa.int64()),
            "group_type_index": pa.array([g.type_index for g in groups], pa.int32()),
            "group_key": pa.array([g.key for g in groups], pa.string()),
            "properties": pa.array([_json(g.properties) for g in groups], pa.string()),
            "created_at": pa.array([g.created_at for g in groups], pa.timestamp("us")),
            "version": pa.array([g.version for g in groups], pa.int64()),
        },
    )


def _write(cursor: duckdb.DuckDBPyConnection, sql: str, columns: dict[str, object]) -> None:
    table = pa.table(columns)
    if table.num_rows:
        execute_over(cursor, sql, table)


def _json(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _opt(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
