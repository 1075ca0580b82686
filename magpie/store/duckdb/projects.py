"""Projects and personal API keys."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import orjson

from magpie import scopes
from magpie.clock import Clock, utc_naive
from magpie.store.duckdb.database import Database, first_row
from magpie.store.model import ApiKey, IssuedKey, Project
from magpie.store.secrets import key_digest, key_mask, new_api_key, new_project_token


def _project(row: tuple[Any, ...]) -> Project:
    project_id, name, token, timezone, created_at, filters, week_start, cleaning = row
    return Project(
        project_id,
        name,
        token,
        timezone,
        created_at,
        orjson.loads(filters or "[]"),
        week_start or 0,
        orjson.loads(cleaning or "[]"),
    )


_PROJECT_COLUMNS = (
    "id, name, api_token, timezone, created_at, test_account_filters, week_start_day,"
    " path_cleaning_filters"
)


_EDITABLE = (
    "name",
    "timezone",
    "test_account_filters",
    "week_start_day",
    "path_cleaning_filters",
)


class DuckDBProjectStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, name: str, timezone: str = "UTC") -> Project:
        token = new_project_token()
        row = first_row(
            self._db.cursor().execute(
                f"INSERT INTO projects (name, api_token, timezone, created_at) VALUES (?, ?, ?, ?)"
                f" RETURNING {_PROJECT_COLUMNS}",
                [name, token, timezone, utc_naive(self._clock.now())],
            )
        )
        assert row is not None
        return _project(row)

    def get(self, project_id: int) -> Project | None:
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE id = ?", [project_id]
            )
        )
        return _project(row) if row else None

    def by_token(self, token: str) -> Project | None:
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE api_token = ?", [token]
            )
        )
        return _project(row) if row else None

    def update(self, project_id: int, **changes: Any) -> Project | None:
        """Change a project's name, timezone, test_account_filters, week_start_day or
        path_cleaning_filters."""
        current = self.get(project_id)
        if current is None:
            return None
        merged = {**{f: getattr(current, f) for f in _EDITABLE}, **changes}
        self._db.cursor().execute(
            "UPDATE projects SET name = ?, timezone = ?, test_account_filters = ?,"
            " week_start_day = ?, path_cleaning_filters = ? WHERE id = ?",
            [
                merged["name"],
                merged["timezone"],
                orjson.dumps(merged["test_account_filters"]).decode(),
                merged["week_start_day"],
                orjson.dumps(merged["path_cleaning_filters"]).decode(),
                project_id,
            ],
        )
        return self.get(project_id)

    def all(self) -> list[Project]:
        rows = (
            self._db.cursor()
            .execute(f"SELECT {_PROJECT_COLUMNS} FROM projects ORDER BY id")
            .fetchall()
        )
        return [_project(row) for row in rows]


def _api_key(row: tuple[Any, ...]) -> ApiKey:
    key_id, label, mask, scope_list, teams, created_at, last_used_at = row
    return ApiKey(
        str(key_id),
        label,
        mask,
        tuple(orjson.loads(scope_list or '["*"]')),
        tuple(orjson.loads(teams or "[]")),
        created_at,
        last_used_at,
    )


_KEY_COLUMNS = "id, label, mask, scopes, scoped_teams, created_at, last_used_at"


class DuckDBApiKeyStore:
    """Personal API keys (``phx_…``); only a SHA-256 digest is stored."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(
        self,
        label: str,
        scope_list: tuple[str, ...] = (scopes.ALL,),
        scoped_teams: tuple[int, ...] = (),
    ) -> IssuedKey:
        """A new key; the defaults (every scope, every project) are the owner's key."""
        value = new_api_key()
        row = first_row(
            self._db.cursor().execute(
                "INSERT INTO personal_api_keys"
                " (id, label, key_digest, mask, created_at, scopes, scoped_teams)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_KEY_COLUMNS}",
                [
                    uuid.uuid4(),
                    label,
                    key_digest(value),
                    key_mask(value),
                    utc_naive(self._clock.now()),
                    orjson.dumps(list(scope_list)).decode(),
                    orjson.dumps(sorted(scoped_teams)).decode(),
                ],
            )
        )
        assert row is not None
        return IssuedKey(_api_key(row), value)

    def find(self, value: str) -> ApiKey | None:
        """The key whose value this is, if it exists (and was not revoked)."""
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {_KEY_COLUMNS} FROM personal_api_keys WHERE key_digest = ?",
                [key_digest(value)],
            )
        )
        return _api_key(row) if row else None

    def is_valid(self, value: str) -> bool:
        return self.find(value) is not None

    def get(self, key_id: str) -> ApiKey | None:
        try:
            parsed = uuid.UUID(key_id)
        except ValueError:
            return None
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {_KEY_COLUMNS} FROM personal_api_keys WHERE id = ?", [parsed]
            )
        )
        return _api_key(row) if row else None

    def all(self) -> list[ApiKey]:
        rows = (
            self._db.cursor()
            .execute(f"SELECT {_KEY_COLUMNS} FROM personal_api_keys ORDER BY created_at, id")
            .fetchall()
        )
        return [_api_key(row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Delete the key; False if there was none with this id."""
        try:
            parsed = uuid.UUID(key_id)
        except ValueError:
            return False
        row = first_row(
            self._db.cursor().execute(
                "DELETE FROM personal_api_keys WHERE id = ? RETURNING id", [parsed]
            )
        )
        return row is not None

    def touch(self, key: ApiKey) -> ApiKey:
        """Record that ``key`` was used now."""
        now = utc_naive(self._clock.now())
        self._db.cursor().execute(
            "UPDATE personal_api_keys SET last_used_at = ? WHERE id = ?",
            [now, uuid.UUID(key.id)],
        )
        return replace(key, last_used_at=now)
