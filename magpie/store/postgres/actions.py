"""Actions in PostgreSQL."""

from __future__ import annotations

import builtins
from typing import Any

from magpie.clock import Clock, utc_naive
from magpie.store.action_rows import COLUMNS, action_from_row, merged
from magpie.store.model import Action
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.postgres.text import jsonb_text, pg_text

_CREATE = f"""
INSERT INTO actions (project_id, name, description, steps, tags, created_at, updated_at)
VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s, %s) RETURNING {COLUMNS}
"""
_UPDATE = f"""
UPDATE actions SET name = %s, description = %s, steps = %s::jsonb, tags = %s::jsonb,
       deleted = %s, updated_at = %s
WHERE project_id = %s AND id = %s RETURNING {COLUMNS}
"""


def _action(row: Any) -> Action:
    # psycopg decodes jsonb itself.
    return action_from_row(row, row[4], row[5])


class PostgresActionStore:
    def __init__(self, db: PostgresDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(
        self,
        project_id: int,
        name: str,
        *,
        description: str = "",
        steps: builtins.list[dict[str, Any]],
        tags: builtins.list[str] | None = None,
    ) -> Action:
        now = utc_naive(self._clock.now())
        values = (pg_text(name), pg_text(description), jsonb_text(steps), jsonb_text(tags or []))
        with self._db.connection() as connection:
            row = connection.execute(_CREATE, (project_id, *values, now, now)).fetchone()
        return _action(row)

    def get(self, project_id: int, action_id: int) -> Action | None:
        with self._db.connection() as connection:
            row = connection.execute(
                f"SELECT {COLUMNS} FROM actions WHERE project_id = %s AND id = %s",
                (project_id, action_id),
            ).fetchone()
        return None if row is None else _action(row)

    def list(self, project_id: int, *, limit: int = 100, offset: int = 0) -> builtins.list[Action]:
        with self._db.connection() as connection:
            rows = connection.execute(
                f"SELECT {COLUMNS} FROM actions WHERE project_id = %s AND NOT deleted"
                " ORDER BY id DESC LIMIT %s OFFSET %s",
                (project_id, limit, offset),
            ).fetchall()
        return [_action(row) for row in rows]

    def update(self, project_id: int, action_id: int, **changes: Any) -> Action | None:
        current = self.get(project_id, action_id)
        if current is None:
            return None
        values = merged(current, changes)
        params = (
            pg_text(values["name"]),
            pg_text(values["description"]),
            jsonb_text(values["steps"]),
            jsonb_text(values["tags"]),
            values["deleted"],
            utc_naive(self._clock.now()),
        )
        with self._db.connection() as connection:
            row = connection.execute(_UPDATE, (*params, project_id, action_id)).fetchone()
        return None if row is None else _action(row)
