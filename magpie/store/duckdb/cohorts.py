"""Cohort definitions and their stored membership, in the DuckDB file beside the
persons (so a static cohort's distinct ids map to persons in one statement)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from magpie.clock import Clock, utc_naive
from magpie.store.duckdb.database import (
    Database,
    execute_over,
    fetch_over,
    first_row,
    transaction,
)
from magpie.store.model import Cohort, CohortCount

_COLUMNS = (
    "id, project_id, name, description, filters, is_static, deleted, version, count,"
    " last_calculation, errors_calculating, last_error, created_at"
)
_EDITABLE = ("name", "description", "filters", "deleted")
# The incoming members (an Arrow table of uuid strings) replace the stored ones.
_DROP_LEFT = """
DELETE FROM cohort_people WHERE cohort_id = $cohort
AND person_uuid NOT IN (SELECT CAST(id AS UUID) FROM incoming)
"""
_ADD_STATIC = """
INSERT INTO cohort_people
SELECT DISTINCT d.project_id, $cohort, d.person_uuid, $version
FROM person_distinct_ids d JOIN incoming i ON i.distinct_id = d.distinct_id
WHERE d.project_id = $project
  AND d.person_uuid NOT IN (SELECT person_uuid FROM cohort_people WHERE cohort_id = $cohort)
RETURNING person_uuid
"""
# The count of the membership just stored, kept for the count over time.
_RECORD_COUNT = """
INSERT INTO cohort_counts
SELECT project_id, id, version, count, last_calculation FROM cohorts WHERE id = ?
"""
_ADD_NEW = """
INSERT INTO cohort_people
SELECT DISTINCT $project, $cohort, CAST(id AS UUID), $version FROM incoming
WHERE CAST(id AS UUID) NOT IN (SELECT person_uuid FROM cohort_people WHERE cohort_id = $cohort)
"""


def _cohort(row: tuple[Any, ...]) -> Cohort:
    values = list(row)
    values[4] = orjson.loads(values[4])
    return Cohort(*values)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class DuckDBCohortStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(
        self,
        project_id: int,
        name: str,
        description: str,
        filters: dict[str, Any],
        *,
        is_static: bool = False,
    ) -> Cohort:
        row = first_row(
            self._db.cursor().execute(
                "INSERT INTO cohorts (project_id, name, description, filters, is_static,"
                f" created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                [
                    project_id,
                    name,
                    description,
                    _json(filters),
                    is_static,
                    utc_naive(self._clock.now()),
                ],
            )
        )
        return _cohort(row)

    def get(self, project_id: int, cohort_id: int) -> Cohort | None:
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE project_id = ? AND id = ?",
                [project_id, cohort_id],
            )
        )
        return None if row is None else _cohort(row)

    def list(self, project_id: int, *, limit: int = 100, offset: int = 0) -> builtins.list[Cohort]:
        rows = (
            self._db.cursor()
            .execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE project_id = ? AND NOT deleted"
                " ORDER BY id DESC LIMIT ? OFFSET ?",
                [project_id, limit, offset],
            )
            .fetchall()
        )
        return [_cohort(row) for row in rows]

    def computed(self) -> builtins.list[Cohort]:
        rows = (
            self._db.cursor()
            .execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE NOT is_static AND NOT deleted"
                " ORDER BY last_calculation NULLS FIRST, id"
            )
            .fetchall()
        )
        return [_cohort(row) for row in rows]

    def update(self, project_id: int, cohort_id: int, **changes: Any) -> Cohort | None:
        current = self.get(project_id, cohort_id)
        if current is None:
            return None
        merged = {**{f: getattr(current, f) for f in _EDITABLE}, **changes}
        row = first_row(
            self._db.cursor().execute(
                "UPDATE cohorts SET name = ?, description = ?, filters = ?, deleted = ?"
                f" WHERE project_id = ? AND id = ? RETURNING {_COLUMNS}",
                [
                    merged["name"],
                    merged["description"],
                    _json(merged["filters"]),
                    merged["deleted"],
                    project_id,
                    cohort_id,
                ],
            )
        )
        return None if row is None else _cohort(row)

    def set_members(
        self, project_id: int, cohort_id: int, person_ids: Sequence[uuid.UUID], at: datetime
    ) -> Cohort | None:
        with transaction(self._db.new_cursor()) as cursor:
            row = first_row(
                cursor.execute(
                    "UPDATE cohorts SET version = version + 1 WHERE project_id = ? AND id = ?"
                    " RETURNING version",
                    [project_id, cohort_id],
                )
            )
            if row is None:
                return None
            # Only the difference is written: a computation mostly finds the members
            # of the last one, and every row written or deleted costs an index update.
            # Ids go as hex text through Arrow (a list parameter is far slower).
            incoming = pa.table({"id": pa.array([p.hex for p in person_ids], pa.string())})
            values = {"project": project_id, "cohort": cohort_id, "version": row[0]}
            execute_over(cursor, _DROP_LEFT, incoming, values)
            execute_over(cursor, _ADD_NEW, incoming, values)
            stored = first_row(
                cursor.execute(
                    "UPDATE cohorts SET last_calculation = ?, count = (SELECT count(*)"
                    " FROM cohort_people WHERE cohort_id = ?) WHERE id = ?"
                    f" RETURNING {_COLUMNS}",
                    [utc_naive(at), cohort_id, cohort_id],
                )
            )
            cursor.execute(_RECORD_COUNT, [cohort_id])
        return _cohort(stored)

    def add_static_members(
        self, project_id: int, cohort_id: int, distinct_ids: Sequence[str], at: datetime
    ) -> builtins.list[uuid.UUID]:
        with transaction(self._db.new_cursor()) as cursor:
            row = first_row(
                cursor.execute(
                    "UPDATE cohorts SET version = version + 1, last_calculation = ?"
                    " WHERE project_id = ? AND id = ? RETURNING version",
                    [utc_naive(at), project_id, cohort_id],
                )
            )
            if row is None:
                return []
            added = fetch_over(
                cursor,
                _ADD_STATIC,
                pa.table({"distinct_id": pa.array(builtins.list(distinct_ids), pa.string())}),
                {"project": project_id, "cohort": cohort_id, "version": row[0]},
            )
            cursor.execute(
                "UPDATE cohorts SET count = (SELECT count(*) FROM cohort_people"
                " WHERE cohort_id = ?) WHERE id = ?",
                [cohort_id, cohort_id],
            )
            cursor.execute(_RECORD_COUNT, [cohort_id])
        return [r[0] for r in added]

    def record_failure(self, project_id: int, cohort_id: int, error: str) -> None:
        self._db.cursor().execute(
            "UPDATE cohorts SET errors_calculating = errors_calculating + 1, last_error = ?"
            " WHERE project_id = ? AND id = ?",
            [error, project_id, cohort_id],
        )

    def members(
        self, project_id: int, cohort_id: int, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[uuid.UUID]:
        rows = (
            self._db.cursor()
            .execute(
                "SELECT person_uuid FROM cohort_people WHERE project_id = ? AND cohort_id = ?"
                " ORDER BY person_uuid LIMIT ? OFFSET ?",
                [project_id, cohort_id, limit, offset],
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        row = first_row(
            self._db.cursor().execute(
                "SELECT 1 FROM cohort_people WHERE project_id = ? AND cohort_id = ?"
                " AND person_uuid = ?",
                [project_id, cohort_id, str(person_id)],
            )
        )
        return row is not None

    def count_history(
        self, project_id: int, cohort_id: int, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[CohortCount]:
        rows = (
            self._db.cursor()
            .execute(
                "SELECT version, count, calculated_at FROM cohort_counts"
                " WHERE project_id = ? AND cohort_id = ? ORDER BY version DESC LIMIT ? OFFSET ?",
                [project_id, cohort_id, limit, offset],
            )
            .fetchall()
        )
        return [CohortCount(*row) for row in rows]
