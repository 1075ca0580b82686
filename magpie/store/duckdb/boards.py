"""Saved insights and dashboards (their tiles point at insights)."""

from __future__ import annotations

import builtins
from collections import defaultdict
from typing import Any

import duckdb
import orjson

from magpie.clock import Clock, utc_naive
from magpie.store.duckdb.database import Database, first_row, transaction
from magpie.store.model import Dashboard, DashboardTile, Insight

_INSIGHT_COLUMNS = (
    "id, project_id, short_id, name, description, query, created_at, last_modified_at"
)
_INSIGHT_EDITABLE = ("name", "description", "query")
_DASHBOARD_COLUMNS = "id, project_id, name, description, filters, created_at"
_DASHBOARD_EDITABLE = ("name", "description", "filters")


def _insight(row: tuple[Any, ...], dashboards: tuple[int, ...] = ()) -> Insight:
    insight_id, project_id, short_id, name, description, query, created, modified = row
    return Insight(
        insight_id,
        project_id,
        short_id,
        name,
        description,
        orjson.loads(query),
        created,
        modified,
        dashboards,
    )


def _dashboard(row: tuple[Any, ...], tiles: tuple[DashboardTile, ...] = ()) -> Dashboard:
    dashboard_id, project_id, name, description, filters, created_at = row
    return Dashboard(
        dashboard_id, project_id, name, description, orjson.loads(filters), created_at, tiles
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class DuckDBInsightStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(
        self, project_id: int, short_id: str, name: str, description: str, query: dict[str, Any]
    ) -> Insight:
        now = utc_naive(self._clock.now())
        try:
            row = first_row(
                self._db.cursor().execute(
                    "INSERT INTO insights (project_id, short_id, name, description, query,"
                    f" created_at, last_modified_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    f" RETURNING {_INSIGHT_COLUMNS}",
                    [project_id, short_id, name, description, _json(query), now, now],
                )
            )
        except duckdb.ConstraintException:
            raise ValueError(f"short id {short_id} is taken") from None
        return _insight(row)

    def get(self, project_id: int, insight_id: int) -> Insight | None:
        found = self._select("id = ?", [project_id, insight_id], 1, 0)
        return found[0] if found else None

    def list(
        self, project_id: int, *, short_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Insight]:
        if short_id is not None:
            return self._select("short_id = ?", [project_id, short_id], limit, offset)
        return self._select("true", [project_id], limit, offset)

    def _select(
        self, condition: str, params: builtins.list[Any], limit: int, offset: int
    ) -> builtins.list[Insight]:
        # ``condition`` is one of the literals above, never caller text.
        rows = (
            self._db.cursor()
            .execute(
                f"SELECT {_INSIGHT_COLUMNS} FROM insights WHERE project_id = ? AND {condition}"
                " ORDER BY last_modified_at DESC, id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
            .fetchall()
        )
        boards = _dashboards_of(self._db.cursor(), [row[0] for row in rows])
        return [_insight(row, boards.get(row[0], ())) for row in rows]

    def update(self, project_id: int, insight_id: int, **changes: Any) -> Insight | None:
        current = self.get(project_id, insight_id)
        if current is None:
            return None
        merged = {**{f: getattr(current, f) for f in _INSIGHT_EDITABLE}, **changes}
        self._db.cursor().execute(
            "UPDATE insights SET name = ?, description = ?, query = ?, last_modified_at = ?"
            " WHERE project_id = ? AND id = ?",
            [
                merged["name"],
                merged["description"],
                _json(merged["query"]),
                utc_naive(self._clock.now()),
                project_id,
                insight_id,
            ],
        )
        return self.get(project_id, insight_id)

    def delete(self, project_id: int, insight_id: int) -> bool:
        with transaction(self._db.new_cursor()) as cursor:
            cursor.execute(
                "DELETE FROM dashboard_tiles WHERE project_id = ? AND insight_id = ?",
                [project_id, insight_id],
            )
            row = first_row(
                cursor.execute(
                    "DELETE FROM insights WHERE project_id = ? AND id = ? RETURNING id",
                    [project_id, insight_id],
                )
            )
        return row is not None


def _dashboards_of(
    cursor: duckdb.DuckDBPyConnection, insight_ids: list[int]
) -> dict[int, tuple[int, ...]]:
    if not insight_ids:
        return {}
    rows = cursor.execute(
        "SELECT insight_id, dashboard_id FROM dashboard_tiles WHERE list_contains(?, insight_id)"
        " ORDER BY dashboard_id",
        [insight_ids],
    ).fetchall()
    found: dict[int, list[int]] = defaultdict(list)
    for insight_id, dashboard_id in rows:
        found[insight_id].append(dashboard_id)
    return {k: tuple(v) for k, v in found.items()}


class DuckDBDashboardStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, project_id: int, name: str, description: str = "") -> Dashboard:
        row = first_row(
            self._db.cursor().execute(
                "INSERT INTO dashboards (project_id, name, description, filters, created_at)"
                f" VALUES (?, ?, ?, '{{}}', ?) RETURNING {_DASHBOARD_COLUMNS}",
                [project_id, name, description, utc_naive(self._clock.now())],
            )
        )
        return _dashboard(row)

    def get(self, project_id: int, dashboard_id: int) -> Dashboard | None:
        cursor = self._db.cursor()
        row = first_row(
            cursor.execute(
                f"SELECT {_DASHBOARD_COLUMNS} FROM dashboards WHERE project_id = ? AND id = ?",
                [project_id, dashboard_id],
            )
        )
        if row is None:
            return None
        tile_rows = cursor.execute(
            f"SELECT t.id, {', '.join('i.' + c.strip() for c in _INSIGHT_COLUMNS.split(','))}"
            " FROM dashboard_tiles t JOIN insights i ON i.id = t.insight_id"
            " WHERE t.project_id = ? AND t.dashboard_id = ? ORDER BY t.id",
            [project_id, dashboard_id],
        ).fetchall()
        boards = _dashboards_of(cursor, [r[1] for r in tile_rows])
        tiles = tuple(DashboardTile(r[0], _insight(r[1:], boards.get(r[1], ()))) for r in tile_rows)
        return _dashboard(row, tiles)

    def list(self, project_id: int) -> list[Dashboard]:
        rows = (
            self._db.cursor()
            .execute(
                f"SELECT {_DASHBOARD_COLUMNS} FROM dashboards WHERE project_id = ? ORDER BY id",
                [project_id],
            )
            .fetchall()
        )
        return [_dashboard(row) for row in rows]

    def update(self, project_id: int, dashboard_id: int, **changes: Any) -> Dashboard | None:
        current = self.get(project_id, dashboard_id)
        if current is None:
            return None
        merged = {**{f: getattr(current, f) for f in _DASHBOARD_EDITABLE}, **changes}
        self._db.cursor().execute(
            "UPDATE dashboards SET name = ?, description = ?, filters = ?"
            " WHERE project_id = ? AND id = ?",
            [
                merged["name"],
                merged["description"],
                _json(merged["filters"]),
                project_id,
                dashboard_id,
            ],
        )
        return self.get(project_id, dashboard_id)

    def delete(self, project_id: int, dashboard_id: int) -> bool:
        with transaction(self._db.new_cursor()) as cursor:
            cursor.execute(
                "DELETE FROM dashboard_tiles WHERE project_id = ? AND dashboard_id = ?",
                [project_id, dashboard_id],
            )
            row = first_row(
                cursor.execute(
                    "DELETE FROM dashboards WHERE project_id = ? AND id = ? RETURNING id",
                    [project_id, dashboard_id],
                )
            )
        return row is not None

    def add_tile(self, project_id: int, dashboard_id: int, insight_id: int) -> bool:
        row = first_row(
            self._db.cursor().execute(
                "INSERT INTO dashboard_tiles (project_id, dashboard_id, insight_id)"
                " SELECT d.project_id, d.id, i.id FROM dashboards d, insights i"
                " WHERE d.project_id = ? AND d.id = ? AND i.project_id = d.project_id"
                " AND i.id = ? ON CONFLICT DO NOTHING RETURNING id",
                [project_id, dashboard_id, insight_id],
            )
        )
        if row is not None:
            return True
        return self._has_tile(project_id, dashboard_id, insight_id)

    def _has_tile(self, project_id: int, dashboard_id: int, insight_id: int) -> bool:
        row = first_row(
            self._db.cursor().execute(
                "SELECT 1 FROM dashboard_tiles WHERE project_id = ? AND dashboard_id = ?"
                " AND insight_id = ?",
                [project_id, dashboard_id, insight_id],
            )
        )
        return row is not None

    def remove_tile(
        self,
        project_id: int,
        dashboard_id: int,
        *,
        tile_id: int | None = None,
        insight_id: int | None = None,
    ) -> bool:
        row = first_row(
            self._db.cursor().execute(
                "DELETE FROM dashboard_tiles WHERE project_id = ? AND dashboard_id = ?"
                " AND (id = ? OR insight_id = ?) RETURNING id",
                [project_id, dashboard_id, tile_id, insight_id],
            )
        )
        return row is not None

    def claim_default(self, project_id: int) -> bool:
        row = first_row(
            self._db.cursor().execute(
                "INSERT INTO default_dashboards_made VALUES (?, ?)"
                " ON CONFLICT DO NOTHING RETURNING project_id",
                [project_id, utc_naive(self._clock.now())],
            )
        )
        return row is not None
