"""Feature flags with their versions, and what flag evaluation reads of persons and groups."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Any

import duckdb
import orjson

from magpie.clock import Clock, utc_naive
from magpie.store.duckdb.database import Database, first_row, transaction
from magpie.store.flag_rows import COLUMNS, changed, flag_from_row, pick_hash_keys, state_of
from magpie.store.model import FeatureFlag, FlagContext, FlagDirectory, FlagVersion

# Two point lookups through the primary keys: a join or a subquery would scan.
_PERSON_OF = "SELECT person_uuid FROM person_distinct_ids WHERE project_id = ? AND distinct_id = ?"
_PROPERTIES = "SELECT CAST(properties AS JSON) FROM persons WHERE project_id = ? AND uuid = ?"
_GROUP = """
SELECT CAST(properties AS JSON) FROM groups
WHERE project_id = ? AND group_type_index = ? AND group_key = ?
"""
_ADD_HASH_KEYS = """
INSERT INTO feature_flag_hash_keys (project_id, distinct_id, flag_key, hash_key)
SELECT DISTINCT ?, d.distinct_id, k.flag_key, ?
FROM (SELECT unnest(?::VARCHAR[]) AS distinct_id) AS d,
     (SELECT unnest(?::VARCHAR[]) AS flag_key) AS k
ON CONFLICT DO NOTHING
"""
_ID_COUNT = "SELECT count(*) FROM person_distinct_ids WHERE project_id = ?"
# What _PERSON_OF and _PROPERTIES answer, for every id of the project at once.
_DIRECTORY = """
SELECT d.distinct_id, d.person_uuid, CAST(p.properties AS JSON)
FROM person_distinct_ids AS d
JOIN persons AS p ON p.project_id = d.project_id AND p.uuid = d.person_uuid
WHERE d.project_id = ?
"""
_ALL_HASH_KEYS = """
SELECT distinct_id, flag_key, hash_key FROM feature_flag_hash_keys WHERE project_id = ?
"""
_HASH_KEYS = """
SELECT distinct_id, flag_key, hash_key FROM feature_flag_hash_keys
WHERE project_id = ? AND distinct_id = ?
"""


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _flag(row: Any) -> FeatureFlag:
    return flag_from_row(row, orjson.loads(row[4]))


class DuckDBFeatureFlagStore:
    def __init__(self, db: Database, clock: Clock) -> None:
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
        with transaction(self._db.new_cursor()) as cursor:
            row = first_row(
                cursor.execute(
                    "INSERT INTO feature_flags (project_id, key, name, filters, active,"
                    " ensure_experience_continuity, is_remote_configuration, deleted, version,"
                    " created_at, updated_at, created_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, false, 1, ?, ?, ?)"
                    f" RETURNING {COLUMNS}",
                    [
                        project_id,
                        key,
                        name,
                        _json(filters),
                        active,
                        ensure_experience_continuity,
                        is_remote_configuration,
                        now,
                        now,
                        changed_by,
                    ],
                )
            )
            flag = _flag(row)
            _claim_key(cursor, project_id, key, flag.id)
            _record(cursor, flag, changed_by)
        return flag

    def get(self, project_id: int, flag_id: int) -> FeatureFlag | None:
        return _get(self._db.cursor(), project_id, flag_id)

    def list(self, project_id: int) -> builtins.list[FeatureFlag]:
        rows = (
            self._db.cursor()
            .execute(
                f"SELECT {COLUMNS} FROM feature_flags WHERE project_id = ? AND NOT deleted"
                " ORDER BY id",
                [project_id],
            )
            .fetchall()
        )
        return [_flag(row) for row in rows]

    def update(
        self, project_id: int, flag_id: int, changed_by: str | None, **changes: Any
    ) -> FeatureFlag | None:
        with transaction(self._db.new_cursor()) as cursor:
            current = _get(cursor, project_id, flag_id)
            if current is None:
                return None
            merged = changed(current, changes)
            if merged["key"] != current.key and not current.deleted:
                cursor.execute(
                    "DELETE FROM feature_flag_keys WHERE project_id = ? AND key = ?",
                    [project_id, current.key],
                )
                _claim_key(cursor, project_id, merged["key"], flag_id)
            flag = _save(cursor, current, merged, current.deleted, self._clock)
            _record(cursor, flag, changed_by)
        return flag

    def delete(self, project_id: int, flag_id: int, changed_by: str | None) -> bool:
        with transaction(self._db.new_cursor()) as cursor:
            current = _get(cursor, project_id, flag_id)
            if current is None or current.deleted:
                return False
            cursor.execute(
                "DELETE FROM feature_flag_keys WHERE project_id = ? AND key = ?",
                [project_id, current.key],
            )
            flag = _save(cursor, current, changed(current, {}), True, self._clock)
            _record(cursor, flag, changed_by)
        return True

    def versions(self, project_id: int, flag_id: int) -> builtins.list[FlagVersion]:
        rows = (
            self._db.cursor()
            .execute(
                "SELECT flag_id, version, changed_at, changed_by, state FROM feature_flag_versions"
                " WHERE project_id = ? AND flag_id = ? ORDER BY version",
                [project_id, flag_id],
            )
            .fetchall()
        )
        return [FlagVersion(r[0], r[1], r[2], r[3], orjson.loads(r[4])) for r in rows]

    def revision(self, project_id: int) -> int:
        # Every change adds a version to one flag, deleted ones included, so the
        # sum of versions grows with each change and never comes back.
        row = first_row(
            self._db.cursor().execute(
                "SELECT coalesce(sum(version), 0) FROM feature_flags WHERE project_id = ?",
                [project_id],
            )
        )
        return int(row[0])

    def group_types(self, project_id: int) -> dict[int, str]:
        return _group_types(self._db.cursor(), project_id)

    def context(
        self,
        project_id: int,
        distinct_ids: Sequence[str],
        groups: dict[str, str],
        *,
        hash_keys: bool = True,
    ) -> FlagContext:
        cursor = self._db.cursor()
        ids = builtins.list(distinct_ids)
        persons: dict[str, tuple[uuid.UUID, dict[str, Any]]] = {}
        for distinct_id in ids:
            owner = first_row(cursor.execute(_PERSON_OF, [project_id, distinct_id]))
            if owner is None:
                continue
            row = first_row(cursor.execute(_PROPERTIES, [project_id, owner[0]]))
            if row is not None:
                persons[distinct_id] = (owner[0], orjson.loads(row[0]))
        types = _group_types(cursor, project_id) if groups else {}
        indexes = {name: index for index, name in types.items()}
        found: dict[str, dict[str, Any]] = {}
        for name, key in groups.items():
            if name in indexes:
                row = first_row(cursor.execute(_GROUP, [project_id, indexes[name], key]))
                if row is not None:
                    found[name] = orjson.loads(row[0])
        if not hash_keys:
            return FlagContext(persons, types, found, {})
        rows = [r for d in ids for r in cursor.execute(_HASH_KEYS, [project_id, d]).fetchall()]
        return FlagContext(persons, types, found, pick_hash_keys(rows, ids))

    def directory(self, project_id: int, limit: int) -> FlagDirectory | None:
        cursor = self._db.cursor()
        count = first_row(cursor.execute(_ID_COUNT, [project_id]))
        if count is None or int(count[0]) > limit:
            return None
        persons = {
            distinct_id: (person_uuid, orjson.loads(properties))
            for distinct_id, person_uuid, properties in cursor.execute(
                _DIRECTORY, [project_id]
            ).fetchall()
        }
        hash_keys: dict[str, dict[str, str]] = {}
        for distinct_id, flag_key, hash_key in cursor.execute(
            _ALL_HASH_KEYS, [project_id]
        ).fetchall():
            hash_keys.setdefault(distinct_id, {})[flag_key] = hash_key
        return FlagDirectory(persons, hash_keys)

    def add_hash_keys(
        self, project_id: int, distinct_ids: Sequence[str], flag_keys: Sequence[str], hash_key: str
    ) -> None:
        if not flag_keys or not distinct_ids:
            return
        self._db.cursor().execute(
            _ADD_HASH_KEYS,
            [project_id, hash_key, builtins.list(distinct_ids), builtins.list(flag_keys)],
        )


def _get(cursor: duckdb.DuckDBPyConnection, project_id: int, flag_id: int) -> FeatureFlag | None:
    row = first_row(
        cursor.execute(
            f"SELECT {COLUMNS} FROM feature_flags WHERE project_id = ? AND id = ?",
            [project_id, flag_id],
        )
    )
    return None if row is None else _flag(row)


def _claim_key(cursor: duckdb.DuckDBPyConnection, project_id: int, key: str, flag_id: int) -> None:
    try:
        cursor.execute(
            "INSERT INTO feature_flag_keys (project_id, key, flag_id) VALUES (?, ?, ?)",
            [project_id, key, flag_id],
        )
    except duckdb.ConstraintException:
        raise ValueError(f"a flag with key {key!r} exists already") from None


def _save(
    cursor: duckdb.DuckDBPyConnection,
    current: FeatureFlag,
    merged: dict[str, Any],
    deleted: bool,
    clock: Clock,
) -> FeatureFlag:
    row = first_row(
        cursor.execute(
            "UPDATE feature_flags SET key = ?, name = ?, filters = ?, active = ?,"
            " ensure_experience_continuity = ?, is_remote_configuration = ?, deleted = ?,"
            " version = version + 1,"
            f" updated_at = ? WHERE project_id = ? AND id = ? RETURNING {COLUMNS}",
            [
                merged["key"],
                merged["name"],
                _json(merged["filters"]),
                merged["active"],
                merged["ensure_experience_continuity"],
                merged["is_remote_configuration"],
                deleted,
                utc_naive(clock.now()),
                current.project_id,
                current.id,
            ],
        )
    )
    return _flag(row)


def _record(cursor: duckdb.DuckDBPyConnection, flag: FeatureFlag, changed_by: str | None) -> None:
    cursor.execute(
        "INSERT INTO feature_flag_versions (project_id, flag_id, version, changed_at, changed_by,"
        " state) VALUES (?, ?, ?, ?, ?, ?)",
        [
            flag.project_id,
            flag.id,
            flag.version,
            flag.updated_at,
            changed_by,
            _json(state_of(flag)),
        ],
    )


def _group_types(cursor: duckdb.DuckDBPyConnection, project_id: int) -> dict[int, str]:
    rows = cursor.execute(
        "SELECT group_type_index, group_type FROM group_type_mapping WHERE project_id = ?",
        [project_id],
    ).fetchall()
    return {index: name for index, name in rows}
