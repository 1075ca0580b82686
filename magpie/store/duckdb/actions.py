"""Actions in the DuckDB file."""

from __future__ import annotations

import builtins
from typing import Any

import orjson

from magpie.clock import Clock, utc_naive
from magpie.store.action_rows import COLUMNS, action_from_row, merged
from magpie.store.duckdb.database import Database, first_row
from magpie.store.model import Action


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _action(row: Any) -> Action:
    return action_from_row(row, orjson.loads(row[4]), orjson.loads(row[5]))


class DuckDBActionStore:
    def __init__(self, db: Database, clock: Clock) -> None:
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
        row = first_row(
            self._db.cursor().execute(
                "INSERT INTO actions (project_id, name, description, steps, tags, created_at,"
                f" updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}",
                [project_id, name, description, _json(steps), _json(tags or []), now, now],
            )
        )
        return _action(row)

    def get(self, project_id: int, action_id: int) -> Action | None:
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {COLUMNS} FROM actions WHERE project_id = ? AND id = ?",
                [project_id, action_id],
            )
        )
        return None if row is None else _action(row)

    def list(self, project_id: int, *, limit: int = 100, offset: int = 0) -> builtins.list[Action]:
        rows = (
            self._db.cursor()
            .execute(
                f"SELECT {COLUMNS} FROM actions WHERE project_id = ? AND NOT deleted"
                " ORDER BY id DESC LIMIT ? OFFSET ?",
                [project_id, limit, offset],
            )
            .fetchall()
        )
        return [_action(row) for row in rows]

    def update(self, project_id: int, action_id: int, **changes: Any) -> Action | None:
        current = self.get(project_id, action_id)
        if current is None:
            return None
        values = merged(current, changes)
        row = first_row(
            self._db.cursor().execute(
                "UPDATE actions SET name = ?, description = ?, steps = ?, tags = ?, deleted = ?,"
                f" updated_at = ? WHERE project_id = ? AND id = ? RETURNING {COLUMNS}",
                [
                    values["name"],
                    values["description"],
                    _json(values["steps"]),
                    _json(values["tags"]),
                    values["deleted"],
                    utc_naive(self._clock.now()),
                    project_id,
                    action_id,
                ],
            )
        )
        return None if row is None else _action(row)
