"""Projects in PostgreSQL."""

from __future__ import annotations

from typing import Any

from magpie.clock import Clock, utc_naive
from magpie.store.model import Project
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.postgres.text import jsonb_text
from magpie.store.secrets import new_project_token

_COLUMNS = (
    "id, name, api_token, timezone, created_at, test_account_filters, week_start_day,"
    " path_cleaning_filters"
)

_CREATE = f"""
INSERT INTO projects (name, api_token, timezone, created_at) VALUES (%s, %s, %s, %s)
RETURNING {_COLUMNS}
"""
_GET = f"SELECT {_COLUMNS} FROM projects WHERE id = %s"
_BY_TOKEN = f"SELECT {_COLUMNS} FROM projects WHERE api_token = %s"
_ALL = f"SELECT {_COLUMNS} FROM projects ORDER BY id"
# Fields left out of a change keep their stored value (COALESCE over NULL).
_UPDATE = f"""
UPDATE projects SET
    name = coalesce(%(name)s, name),
    timezone = coalesce(%(timezone)s, timezone),
    test_account_filters = coalesce(%(test_account_filters)s::jsonb, test_account_filters),
    week_start_day = coalesce(%(week_start_day)s, week_start_day),
    path_cleaning_filters = coalesce(%(path_cleaning_filters)s::jsonb, path_cleaning_filters)
WHERE id = %(id)s
RETURNING {_COLUMNS}
"""

EDITABLE = (
    "name",
    "timezone",
    "test_account_filters",
    "week_start_day",
    "path_cleaning_filters",
)
# The JSON ones, sent as jsonb text.
_JSON = ("test_account_filters", "path_cleaning_filters")


def _project(row: Any) -> Project:
    project_id, name, token, timezone, created_at, filters, week_start, cleaning = row
    return Project(project_id, name, token, timezone, created_at, filters, week_start, cleaning)


class PostgresProjectStore:
    def __init__(self, db: PostgresDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, name: str, timezone: str = "UTC") -> Project:
        token = new_project_token()
        with self._db.connection() as connection:
            row = connection.execute(
                _CREATE, (name, token, timezone, utc_naive(self._clock.now()))
            ).fetchone()
        return _project(row)

    def get(self, project_id: int) -> Project | None:
        with self._db.connection() as connection:
            row = connection.execute(_GET, (project_id,)).fetchone()
        return _project(row) if row else None

    def by_token(self, token: str) -> Project | None:
        with self._db.connection() as connection:
            row = connection.execute(_BY_TOKEN, (token,)).fetchone()
        return _project(row) if row else None

    def update(self, project_id: int, **changes: Any) -> Project | None:
        """Change a project's name, timezone, test_account_filters, week_start_day or
        path_cleaning_filters."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise TypeError(f"not a project setting: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {field: changes.get(field) for field in EDITABLE}
        for name in _JSON:
            if values[name] is not None:
                values[name] = jsonb_text(values[name])
        with self._db.connection() as connection:
            row = connection.execute(_UPDATE, {**values, "id": project_id}).fetchone()
        return _project(row) if row else None

    def all(self) -> list[Project]:
        with self._db.connection() as connection:
            rows = connection.execute(_ALL).fetchall()
        return [_project(row) for row in rows]
