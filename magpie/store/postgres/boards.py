"""Saved insights and dashboards in PostgreSQL (tiles point at insights)."""

from __future__ import annotations

import builtins
from collections import defaultdict
from typing import Any

import psycopg

from magpie.clock import Clock, utc_naive
from magpie.store.model import Dashboard, DashboardTile, Insight
from magpie.store.postgres.database import Connection, PostgresDatabase
from magpie.store.postgres.text import jsonb_text, pg_text

_INSIGHT = "id, project_id, short_id, name, description, query, created_at, last_modified_at"
_INSIGHT_EDITABLE = ("name", "description", "query")
_DASHBOARD = "id, project_id, name, description, filters, created_at"
_DASHBOARD_EDITABLE = ("name", "description", "filters")

_CREATE_INSIGHT = f"""
INSERT INTO insights (project_id, short_id, name, description, query, created_at,
                      last_modified_at)
VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s) RETURNING {_INSIGHT}
"""
# Either one insight (by id or short id) or a page of them, newest first.
_SELECT_INSIGHTS = f"""
SELECT {_INSIGHT} FROM insights
WHERE project_id = %(project_id)s
  AND (%(id)s::bigint IS NULL OR id = %(id)s)
  AND (%(short_id)s::text IS NULL OR short_id = %(short_id)s)
ORDER BY last_modified_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s
"""
_UPDATE_INSIGHT = f"""
UPDATE insights SET name = %s, description = %s, query = %s::jsonb, last_modified_at = %s
WHERE project_id = %s AND id = %s RETURNING {_INSIGHT}
"""
_TILES = f"""
SELECT t.id, {", ".join("i." + c.strip() for c in _INSIGHT.split(","))}
FROM dashboard_tiles t JOIN insights i ON i.id = t.insight_id
WHERE t.project_id = %s AND t.dashboard_id = %s ORDER BY t.id
"""
_ADD_TILE = """
INSERT INTO dashboard_tiles (project_id, dashboard_id, insight_id)
SELECT d.project_id, d.id, i.id FROM dashboards d, insights i
WHERE d.project_id = %(project_id)s AND d.id = %(dashboard_id)s
  AND i.project_id = d.project_id AND i.id = %(insight_id)s
ON CONFLICT DO NOTHING RETURNING id
"""
_HAS_TILE = """
SELECT 1 FROM dashboard_tiles
WHERE project_id = %(project_id)s AND dashboard_id = %(dashboard_id)s
  AND insight_id = %(insight_id)s
"""


def _insight(row: Any, dashboards: tuple[int, ...] = ()) -> Insight:
    insight_id, project_id, short_id, name, description, query, created, modified = row
    return Insight(
        insight_id, project_id, short_id, name, description, query, created, modified, dashboards
    )


def _dashboard(row: Any, tiles: tuple[DashboardTile, ...] = ()) -> Dashboard:
    dashboard_id, project_id, name, description, filters, created_at = row
    return Dashboard(dashboard_id, project_id, name, description, filters, created_at, tiles)


def _dashboards_of(connection: Connection, insight_ids: list[int]) -> dict[int, tuple[int, ...]]:
    if not insight_ids:
        return {}
    rows = connection.execute(
        "SELECT insight_id, dashboard_id FROM dashboard_tiles WHERE insight_id = ANY(%s)"
        " ORDER BY dashboard_id",
        (insight_ids,),
    ).fetchall()
    found: dict[int, list[int]] = defaultdict(list)
    for insight_id, dashboard_id in rows:
        found[insight_id].append(dashboard_id)
    return {k: tuple(v) for k, v in found.items()}


class PostgresInsightStore:
    def __init__(self, db: PostgresDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(
        self, project_id: int, short_id: str, name: str, description: str, query: dict[str, Any]
    ) -> Insight:
        now = utc_naive(self._clock.now())
        values = (project_id, short_id, pg_text(name), pg_text(description), jsonb_text(query))
        try:
            with self._db.connection() as connection:
                row = connection.execute(_CREATE_INSIGHT, (*values, now, now)).fetchone()
        except psycopg.errors.UniqueViolation:
            raise ValueError(f"short id {short_id} is taken") from None
        return _insight(row)

    def get(self, project_id: int, insight_id: int) -> Insight | None:
        found = self._select(project_id, insight_id=insight_id, limit=1)
        return found[0] if found else None

    def list(
        self, project_id: int, *, short_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[Insight]:
        return self._select(project_id, short_id=short_id, limit=limit, offset=offset)

    def _select(
        self,
        project_id: int,
        *,
        insight_id: int | None = None,
        short_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Insight]:
        where = {"project_id": project_id, "id": insight_id, "short_id": short_id}
        with self._db.connection() as connection:
            rows = connection.execute(
                _SELECT_INSIGHTS, {**where, "limit": limit, "offset": offset}
            ).fetchall()
            boards = _dashboards_of(connection, [row[0] for row in rows])
        return [_insight(row, boards.get(row[0], ())) for row in rows]

    def update(self, project_id: int, insight_id: int, **changes: Any) -> Insight | None:
        current = self.get(project_id, insight_id)
        if current is None:
            return None
        merged = {**{f: getattr(current, f) for f in _INSIGHT_EDITABLE}, **changes}
        with self._db.connection() as connection:
            connection.execute(
                _UPDATE_INSIGHT,
                (
                    pg_text(merged["name"]),
                    pg_text(merged["description"]),
                    jsonb_text(merged["query"]),
                    utc_naive(self._clock.now()),
                    project_id,
                    insight_id,
                ),
            )
        return self.get(project_id, insight_id)

    def delete(self, project_id: int, insight_id: int) -> bool:
        # Its tiles go with it (ON DELETE CASCADE).
        with self._db.connection() as connection:
            row = connection.execute(
                "DELETE FROM insights WHERE project_id = %s AND id = %s RETURNING id",
                (project_id, insight_id),
            ).fetchone()
        return row is not None


class PostgresDashboardStore:
    def __init__(self, db: PostgresDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, project_id: int, name: str, description: str = "") -> Dashboard:
        with self._db.connection() as connection:
            row = connection.execute(
                "INSERT INTO dashboards (project_id, name, description, filters, created_at)"
                f" VALUES (%s, %s, %s, '{{}}'::jsonb, %s) RETURNING {_DASHBOARD}",
                (project_id, pg_text(name), pg_text(description), utc_naive(self._clock.now())),
            ).fetchone()
        return _dashboard(row)

    def get(self, project_id: int, dashboard_id: int) -> Dashboard | None:
        with self._db.connection() as connection:
            row = connection.execute(
                f"SELECT {_DASHBOARD} FROM dashboards WHERE project_id = %s AND id = %s",
                (project_id, dashboard_id),
            ).fetchone()
            if row is None:
                return None
            tile_rows = connection.execute(_TILES, (project_id, dashboard_id)).fetchall()
            boards = _dashboards_of(connection, [r[1] for r in tile_rows])
        tiles = tuple(DashboardTile(r[0], _insight(r[1:], boards.get(r[1], ()))) for r in tile_rows)
        return _dashboard(row, tiles)

    def list(self, project_id: int) -> builtins.list[Dashboard]:
        with self._db.connection() as connection:
            rows = connection.execute(
                f"SELECT {_DASHBOARD} FROM dashboards WHERE project_id = %s ORDER BY id",
                (project_id,),
            ).fetchall()
        return [_dashboard(row) for row in rows]

    def update(self, project_id: int, dashboard_id: int, **changes: Any) -> Dashboard | None:
        current = self.get(project_id, dashboard_id)
        if current is None:
            return None
        merged = {**{f: getattr(current, f) for f in _DASHBOARD_EDITABLE}, **changes}
        with self._db.connection() as connection:
            connection.execute(
                "UPDATE dashboards SET name = %s, description = %s, filters = %s::jsonb"
                " WHERE project_id = %s AND id = %s",
                (
                    pg_text(merged["name"]),
                    pg_text(merged["description"]),
                    jsonb_text(merged["filters"]),
                    project_id,
                    dashboard_id,
                ),
            )
        return self.get(project_id, dashboard_id)

    def delete(self, project_id: int, dashboard_id: int) -> bool:
        with self._db.connection() as connection:
            row = connection.execute(
                "DELETE FROM dashboards WHERE project_id = %s AND id = %s RETURNING id",
                (project_id, dashboard_id),
            ).fetchone()
        return row is not None

    def add_tile(self, project_id: int, dashboard_id: int, insight_id: int) -> bool:
        where = {"project_id": project_id, "dashboard_id": dashboard_id, "insight_id": insight_id}
        with self._db.connection() as connection:
            if connection.execute(_ADD_TILE, where).fetchone() is not None:
                return True
            return connection.execute(_HAS_TILE, where).fetchone() is not None

    def remove_tile(
        self,
        project_id: int,
        dashboard_id: int,
        *,
        tile_id: int | None = None,
        insight_id: int | None = None,
    ) -> bool:
        with self._db.connection() as connection:
            row = connection.execute(
                "DELETE FROM dashboard_tiles WHERE project_id = %s AND dashboard_id = %s"
                " AND (id = %s OR insight_id = %s) RETURNING id",
                (project_id, dashboard_id, tile_id, insight_id),
            ).fetchone()
        return row is not None

    def claim_default(self, project_id: int) -> bool:
        with self._db.connection() as connection:
            row = connection.execute(
                "INSERT INTO default_dashboards_made VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING RETURNING project_id",
                (project_id, utc_naive(self._clock.now())),
            ).fetchone()
        return row is not None
