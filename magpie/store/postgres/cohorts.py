"""Cohort definitions and their stored membership in PostgreSQL, beside the persons.

Where the events live in another engine (ClickHouse), queries join that
engine's copy of the membership: every change here is written to the copy
first, whole, and committed here after, so a failure leaves this store as it
was and the next computation writes the copy again.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from magpie.clock import Clock, utc_naive
from magpie.store.base import MembershipCopy
from magpie.store.model import Cohort, CohortCount
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.postgres.text import jsonb_text, pg_text

_COLUMNS = (
    "id, project_id, name, description, filters, is_static, deleted, version, count,"
    " last_calculation, errors_calculating, last_error, created_at"
)
_EDITABLE = ("name", "description", "filters", "deleted")

_CREATE = f"""
INSERT INTO cohorts (project_id, name, description, filters, is_static, created_at)
VALUES (%s, %s, %s, %s::jsonb, %s, %s) RETURNING {_COLUMNS}
"""
_UPDATE = f"""
UPDATE cohorts SET name = %s, description = %s, filters = %s::jsonb, deleted = %s
WHERE project_id = %s AND id = %s RETURNING {_COLUMNS}
"""
# The cohort's row is locked first: two computations of one cohort take turns.
_NEXT_VERSION = f"""
UPDATE cohorts SET version = version + 1, count = %s, last_calculation = %s
WHERE project_id = %s AND id = %s RETURNING {_COLUMNS}
"""
# The count of the membership just stored, kept for the count over time.
_RECORD_COUNT = """
INSERT INTO cohort_counts (project_id, cohort_id, version, count, calculated_at)
SELECT project_id, id, version, count, last_calculation FROM cohorts WHERE id = %s
"""
_DROP_LEFT = """
DELETE FROM cohort_people AS c WHERE c.cohort_id = %s
AND NOT EXISTS (SELECT 1 FROM unnest(%s::uuid[]) AS m(id) WHERE m.id = c.person_uuid)
RETURNING c.person_uuid
"""
_ADD_NEW = """
INSERT INTO cohort_people (project_id, cohort_id, person_uuid, version)
SELECT %s, %s, unnest(%s::uuid[]), %s ON CONFLICT DO NOTHING
"""
_ADD_STATIC = """
INSERT INTO cohort_people (project_id, cohort_id, person_uuid, version)
SELECT DISTINCT d.project_id, %(cohort_id)s, d.person_uuid, %(version)s
FROM person_distinct_ids d
WHERE d.project_id = %(project_id)s AND d.distinct_id = ANY(%(distinct_ids)s::text[])
ON CONFLICT DO NOTHING RETURNING person_uuid
"""


def _cohort(row: Any) -> Cohort:
    return Cohort(*row)


class PostgresCohortStore:
    def __init__(
        self, db: PostgresDatabase, clock: Clock, copy: MembershipCopy | None = None
    ) -> None:
        self._db = db
        self._clock = clock
        self._copy = copy

    def create(
        self,
        project_id: int,
        name: str,
        description: str,
        filters: dict[str, Any],
        *,
        is_static: bool = False,
    ) -> Cohort:
        now = utc_naive(self._clock.now())
        values = (project_id, pg_text(name), pg_text(description), jsonb_text(filters))
        with self._db.connection() as connection:
            row = connection.execute(_CREATE, (*values, is_static, now)).fetchone()
        return _cohort(row)

    def get(self, project_id: int, cohort_id: int) -> Cohort | None:
        with self._db.connection() as connection:
            row = connection.execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE project_id = %s AND id = %s",
                (project_id, cohort_id),
            ).fetchone()
        return None if row is None else _cohort(row)

    def list(self, project_id: int, *, limit: int = 100, offset: int = 0) -> builtins.list[Cohort]:
        with self._db.connection() as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE project_id = %s AND NOT deleted"
                " ORDER BY id DESC LIMIT %s OFFSET %s",
                (project_id, limit, offset),
            ).fetchall()
        return [_cohort(row) for row in rows]

    def computed(self) -> builtins.list[Cohort]:
        with self._db.connection() as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE NOT is_static AND NOT deleted"
                " ORDER BY last_calculation NULLS FIRST, id"
            ).fetchall()
        return [_cohort(row) for row in rows]

    def update(self, project_id: int, cohort_id: int, **changes: Any) -> Cohort | None:
        current = self.get(project_id, cohort_id)
        if current is None:
            return None
        merged = {**{f: getattr(current, f) for f in _EDITABLE}, **changes}
        values = (
            pg_text(merged["name"]),
            pg_text(merged["description"]),
            jsonb_text(merged["filters"]),
            merged["deleted"],
        )
        with self._db.connection() as connection:
            row = connection.execute(_UPDATE, (*values, project_id, cohort_id)).fetchone()
        return None if row is None else _cohort(row)

    def set_members(
        self, project_id: int, cohort_id: int, person_ids: Sequence[uuid.UUID], at: datetime
    ) -> Cohort | None:
        members = builtins.list(dict.fromkeys(person_ids))
        with self._db.transaction() as connection:
            row = connection.execute(
                _NEXT_VERSION, (len(members), utc_naive(at), project_id, cohort_id)
            ).fetchone()
            if row is None:
                return None
            cohort = _cohort(row)
            # Only the difference is written: a computation mostly finds the members
            # of the last one, and every row written or deleted costs an index update.
            removed = [
                r[0] for r in connection.execute(_DROP_LEFT, (cohort_id, members)).fetchall()
            ]
            connection.execute(_ADD_NEW, (project_id, cohort_id, members, cohort.version))
            connection.execute(_RECORD_COUNT, (cohort_id,))
            if self._copy is not None:
                self._copy.write(project_id, cohort_id, cohort.version, members, removed)
        return cohort

    def add_static_members(
        self, project_id: int, cohort_id: int, distinct_ids: Sequence[str], at: datetime
    ) -> builtins.list[uuid.UUID]:
        with self._db.transaction() as connection:
            row = connection.execute(
                "UPDATE cohorts SET version = version + 1, last_calculation = %s"
                " WHERE project_id = %s AND id = %s RETURNING version",
                (utc_naive(at), project_id, cohort_id),
            ).fetchone()
            if row is None:
                return []
            ids = [pg_text(d) for d in distinct_ids]
            added = [
                r[0]
                for r in connection.execute(
                    _ADD_STATIC,
                    {
                        "cohort_id": cohort_id,
                        "version": row[0],
                        "project_id": project_id,
                        "distinct_ids": ids,
                    },
                ).fetchall()
            ]
            connection.execute(
                "UPDATE cohorts SET count = (SELECT count(*) FROM cohort_people"
                " WHERE cohort_id = %s) WHERE id = %s",
                (cohort_id, cohort_id),
            )
            connection.execute(_RECORD_COUNT, (cohort_id,))
            if self._copy is not None and added:
                self._copy.write(project_id, cohort_id, row[0], added, [])
        return added

    def record_failure(self, project_id: int, cohort_id: int, error: str) -> None:
        with self._db.connection() as connection:
            connection.execute(
                "UPDATE cohorts SET errors_calculating = errors_calculating + 1,"
                " last_error = %s WHERE project_id = %s AND id = %s",
                (pg_text(error), project_id, cohort_id),
            )

    def members(
        self, project_id: int, cohort_id: int, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[uuid.UUID]:
        with self._db.connection() as connection:
            rows = connection.execute(
                "SELECT person_uuid FROM cohort_people WHERE project_id = %s AND cohort_id = %s"
                " ORDER BY person_uuid LIMIT %s OFFSET %s",
                (project_id, cohort_id, limit, offset),
            ).fetchall()
        return [r[0] for r in rows]

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        with self._db.connection() as connection:
            row = connection.execute(
                "SELECT 1 FROM cohort_people WHERE cohort_id = %s AND person_uuid = %s"
                " AND project_id = %s",
                (cohort_id, person_id, project_id),
            ).fetchone()
        return row is not None

    def count_history(
        self, project_id: int, cohort_id: int, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[CohortCount]:
        with self._db.connection() as connection:
            rows = connection.execute(
                "SELECT version, count, calculated_at FROM cohort_counts"
                " WHERE project_id = %s AND cohort_id = %s"
                " ORDER BY version DESC LIMIT %s OFFSET %s",
                (project_id, cohort_id, limit, offset),
            ).fetchall()
        return [CohortCount(*row) for row in rows]
