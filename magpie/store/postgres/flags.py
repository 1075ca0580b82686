"""Feature flags with their versions in PostgreSQL, and what flag evaluation reads
of persons and groups."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import psycopg

from magpie.clock import Clock, utc_naive
from magpie.store.flag_rows import COLUMNS, changed, flag_from_row, pick_hash_keys, state_of
from magpie.store.model import FeatureFlag, FlagContext, FlagDirectory, FlagVersion
from magpie.store.postgres.database import Connection, PostgresDatabase
from magpie.store.postgres.text import jsonb_text, pg_text

_CREATE = f"""
INSERT INTO feature_flags (project_id, key, name, filters, active, ensure_experience_continuity,
                           is_remote_configuration, deleted, version, created_at, updated_at,
                           created_by)
VALUES (%s, %s, %s, %s::jsonb, %s, %s, %s, false, 1, %s, %s, %s) RETURNING {COLUMNS}
"""
_SAVE = f"""
UPDATE feature_flags SET key = %s, name = %s, filters = %s::jsonb, active = %s,
       ensure_experience_continuity = %s, is_remote_configuration = %s, deleted = %s,
       version = version + 1, updated_at = %s
WHERE project_id = %s AND id = %s RETURNING {COLUMNS}
"""
_RECORD = """
INSERT INTO feature_flag_versions (project_id, flag_id, version, changed_at, changed_by, state)
VALUES (%s, %s, %s, %s, %s, %s::jsonb)
"""
_PERSONS = """
SELECT d.distinct_id, p.uuid, p.properties
FROM person_distinct_ids AS d
JOIN persons AS p ON p.project_id = d.project_id AND p.uuid = d.person_uuid
WHERE d.project_id = %s AND d.distinct_id = ANY(%s)
"""
_ID_COUNT = "SELECT count(*) FROM person_distinct_ids WHERE project_id = %s"
_DIRECTORY = """
SELECT d.distinct_id, p.uuid, p.properties
FROM person_distinct_ids AS d
JOIN persons AS p ON p.project_id = d.project_id AND p.uuid = d.person_uuid
WHERE d.project_id = %s
"""
_ALL_HASH_KEYS = """
SELECT distinct_id, flag_key, hash_key FROM feature_flag_hash_keys WHERE project_id = %s
"""
_GROUPS = """
SELECT m.group_type, g.properties
FROM group_type_mapping AS m
JOIN groups AS g ON g.project_id = m.project_id AND g.group_type_index = m.group_type_index
JOIN unnest(%s::text[], %s::text[]) AS wanted (group_type, group_key)
  ON wanted.group_type = m.group_type AND wanted.group_key = g.group_key
WHERE m.project_id = %s
"""
_ADD_HASH_KEYS = """
INSERT INTO feature_flag_hash_keys (project_id, distinct_id, flag_key, hash_key)
SELECT DISTINCT %s, d, k, %s FROM unnest(%s::text[]) AS d, unnest(%s::text[]) AS k
ON CONFLICT DO NOTHING
"""
_HASH_KEYS = """
SELECT distinct_id, flag_key, hash_key FROM feature_flag_hash_keys
WHERE project_id = %s AND distinct_id = ANY(%s)
"""


def _taken(key: str) -> ValueError:
    return ValueError(f"a flag with key {key!r} exists already")


class PostgresFeatureFlagStore:
    def __init__(self, db: PostgresDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(
        self,
        project_id: int,
        key: str,
        *,
        name: str,
        filters: dict[str, Any],
        active: bool,
        ensure_experience_continuity: bool,
        changed_by: str | None,
        is_remote_configuration: bool = False,
    ) -> FeatureFlag:
        now = utc_naive(self._clock.now())
        try:
            with self._db.transaction() as connection:
                row = connection.execute(
                    _CREATE,
                    (
                        project_id,
                        pg_text(key),
                        pg_text(name),
                        jsonb_text(filters),
                        active,
                        ensure_experience_continuity,
                        is_remote_configuration,
                        now,
                        now,
                        changed_by,
                    ),
                ).fetchone()
                flag = flag_from_row(row, row[4])  # type: ignore[index]
                _record(connection, flag, changed_by)
        except psycopg.errors.UniqueViolation:
            raise _taken(key) from None
        return flag

    def get(self, project_id: int, flag_id: int) -> FeatureFlag | None:
        with self._db.connection() as connection:
            return _get(connection, project_id, flag_id)

    def list(self, project_id: int) -> builtins.list[FeatureFlag]:
        with self._db.connection() as connection:
            rows = connection.execute(
                f"SELECT {COLUMNS} FROM feature_flags WHERE project_id = %s AND NOT deleted"
                " ORDER BY id",
                (project_id,),
            ).fetchall()
        return [flag_from_row(row, row[4]) for row in rows]

    def update(
        self, project_id: int, flag_id: int, changed_by: str | None, **changes: Any
    ) -> FeatureFlag | None:
        try:
            with self._db.transaction() as connection:
                current = _get(connection, project_id, flag_id, lock=True)
                if current is None:
                    return None
                flag = self._save(connection, current, changed(current, changes), current.deleted)
                _record(connection, flag, changed_by)
        except psycopg.errors.UniqueViolation:
            raise _taken(str(changes.get("key"))) from None
        return flag

    def delete(self, project_id: int, flag_id: int, changed_by: str | None) -> bool:
        with self._db.transaction() as connection:
            current = _get(connection, project_id, flag_id, lock=True)
            if current is None or current.deleted:
                return False
            flag = self._save(connection, current, changed(current, {}), True)
            _record(connection, flag, changed_by)
        return True

    def _save(
        self, connection: Connection, current: FeatureFlag, merged: dict[str, Any], deleted: bool
    ) -> FeatureFlag:
        row = connection.execute(
            _SAVE,
            (
                pg_text(merged["key"]),
                pg_text(merged["name"]),
                jsonb_text(merged["filters"]),
                merged["active"],
                merged["ensure_experience_continuity"],
                merged["is_remote_configuration"],
                deleted,
                utc_naive(self._clock.now()),
                current.project_id,
                current.id,
            ),
        ).fetchone()
        return flag_from_row(row, row[4])  # type: ignore[index]

    def versions(self, project_id: int, flag_id: int) -> builtins.list[FlagVersion]:
        with self._db.connection() as connection:
            rows = connection.execute(
                "SELECT flag_id, version, changed_at, changed_by, state FROM feature_flag_versions"
                " WHERE project_id = %s AND flag_id = %s ORDER BY version",
                (project_id, flag_id),
            ).fetchall()
        return [FlagVersion(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def revision(self, project_id: int) -> int:
        # Every change adds a version to one flag, deleted ones included, so the
        # sum of versions grows with each change and never comes back.
        with self._db.connection() as connection:
            row = connection.execute(
                "SELECT coalesce(sum(version), 0) FROM feature_flags WHERE project_id = %s",
                (project_id,),
            ).fetchone()
        return int(row[0])  # type: ignore[index]

    def group_types(self, project_id: int) -> dict[int, str]:
        with self._db.connection() as connection:
            rows = connection.execute(
                "SELECT group_type_index, group_type FROM group_type_mapping WHERE project_id = %s",
                (project_id,),
            ).fetchall()
        return {index: name for index, name in rows}

    def context(
        self,
        project_id: int,
        distinct_ids: Sequence[str],
        groups: dict[str, str],
        *,
        hash_keys: bool = True,
    ) -> FlagContext:
        ids = [pg_text(d) for d in distinct_ids]
        with self._db.connection() as connection:
            persons = {
                row[0]: (row[1], row[2])
                for row in connection.execute(_PERSONS, (project_id, ids)).fetchall()
            }
            types: dict[int, str] = {}
            found: dict[str, dict[str, Any]] = {}
            if groups:
                types = self.group_types(project_id)
                names = builtins.list(groups)
                rows = connection.execute(
                    _GROUPS, (names, [pg_text(groups[n]) for n in names], project_id)
                ).fetchall()
                found = {name: properties for name, properties in rows}
            if not hash_keys:
                return FlagContext(persons, types, found, {})
            rows = connection.execute(_HASH_KEYS, (project_id, ids)).fetchall()
        return FlagContext(persons, types, found, pick_hash_keys(rows, ids))

    def directory(self, project_id: int, limit: int) -> FlagDirectory | None:
        with self._db.connection() as connection:
            count = connection.execute(_ID_COUNT, (project_id,)).fetchone()
            if count is None or int(count[0]) > limit:
                return None
            persons = {
                row[0]: (row[1], row[2])
                for row in connection.execute(_DIRECTORY, (project_id,)).fetchall()
            }
            hash_keys: dict[str, dict[str, str]] = {}
            for distinct_id, flag_key, hash_key in connection.execute(
                _ALL_HASH_KEYS, (project_id,)
            ).fetchall():
                hash_keys.setdefault(distinct_id, {})[flag_key] = hash_key
        return FlagDirectory(persons, hash_keys)

    def add_hash_keys(
        self, project_id: int, distinct_ids: Sequence[str], flag_keys: Sequence[str], hash_key: str
    ) -> None:
        if not flag_keys or not distinct_ids:
            return
        with self._db.connection() as connection:
            connection.execute(
                _ADD_HASH_KEYS,
                (
                    project_id,
                    pg_text(hash_key),
                    [pg_text(d) for d in distinct_ids],
                    builtins.list(flag_keys),
                ),
            )


def _get(
    connection: Connection, project_id: int, flag_id: int, *, lock: bool = False
) -> FeatureFlag | None:
    row = connection.execute(
        f"SELECT {COLUMNS} FROM feature_flags WHERE project_id = %s AND id = %s"
        + (" FOR UPDATE" if lock else ""),
        (project_id, flag_id),
    ).fetchone()
    return None if row is None else flag_from_row(row, row[4])


def _record(connection: Connection, flag: FeatureFlag, changed_by: str | None) -> None:
    connection.execute(
        _RECORD,
        (
            flag.project_id,
            flag.id,
            flag.version,
            flag.updated_at,
            changed_by,
            jsonb_text(state_of(flag)),
        ),
    )
