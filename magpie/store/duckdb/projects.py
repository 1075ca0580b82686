"""Projects and personal API keys."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from magpie import scopes
from magpie.clock import Clock, utc_naive
from magpie.store.duckdb.database import Database, first_row


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    api_token: str
    timezone: str
    created_at: datetime
    test_account_filters: list[dict[str, Any]] = field(default_factory=list)
    week_start_day: int = 0

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Project:
        project_id, name, token, timezone, created_at, filters, week_start = row
        return cls(
            project_id,
            name,
            token,
            timezone,
            created_at,
            orjson.loads(filters or "[]"),
            week_start or 0,
        )


_PROJECT_COLUMNS = "id, name, api_token, timezone, created_at, test_account_filters, week_start_day"


_EDITABLE = ("name", "timezone", "test_account_filters", "week_start_day")


class ProjectStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, name: str, timezone: str = "UTC") -> Project:
        token = "phc_" + secrets.token_urlsafe(32)
        row = first_row(
            self._db.cursor().execute(
                f"INSERT INTO projects (name, api_token, timezone, created_at) VALUES (?, ?, ?, ?)"
                f" RETURNING {_PROJECT_COLUMNS}",
                [name, token, timezone, utc_naive(self._clock.now())],
            )
        )
        assert row is not None
        return Project.from_row(row)

    def get(self, project_id: int) -> Project | None:
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE id = ?", [project_id]
            )
        )
        return Project.from_row(row) if row else None

    def by_token(self, token: str) -> Project | None:
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE api_token = ?", [token]
            )
        )
        return Project.from_row(row) if row else None

    def update(self, project_id: int, **changes: Any) -> Project | None:
        """Change a project's name, timezone, test_account_filters or week_start_day."""
        current = self.get(project_id)
        if current is None:
            return None
        merged = {**{f: getattr(current, f) for f in _EDITABLE}, **changes}
        self._db.cursor().execute(
            "UPDATE projects SET name = ?, timezone = ?, test_account_filters = ?,"
            " week_start_day = ? WHERE id = ?",
            [
                merged["name"],
                merged["timezone"],
                orjson.dumps(merged["test_account_filters"]).decode(),
                merged["week_start_day"],
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
        return [Project.from_row(row) for row in rows]


class TokenDirectory:
    """Project token → project, cached for the capture hot path.

    Unknown tokens are remembered briefly so that a misconfigured client
    sending thousands of requests costs one lookup per interval.
    """

    NEGATIVE_TTL = 5.0

    def __init__(self, projects: ProjectStore) -> None:
        self._projects = projects
        self._known: dict[str, Project] = {}
        self._unknown: dict[str, float] = {}

    def resolve(self, token: str) -> Project | None:
        project = self._known.get(token)
        if project is not None:
            return project
        missed_at = self._unknown.get(token)
        if missed_at is not None and time.monotonic() - missed_at < self.NEGATIVE_TTL:
            return None
        project = self._projects.by_token(token)
        if project is None:
            if len(self._unknown) > 10_000:
                self._unknown.clear()
            self._unknown[token] = time.monotonic()
        else:
            self._known[token] = project
        return project

    def project_id(self, token: str) -> int | None:
        project = self.resolve(token)
        return None if project is None else project.id

    def forget_misses(self) -> None:
        self._unknown.clear()


@dataclass(frozen=True)
class ApiKey:
    """A personal API key as stored (its value is never kept, only a digest)."""

    id: str
    label: str
    mask_value: str
    scopes: tuple[str, ...]
    # Project ids the key reaches; empty: every project, including later ones.
    scoped_teams: tuple[int, ...]
    created_at: datetime
    last_used_at: datetime | None = None

    @property
    def reaches_every_project(self) -> bool:
        return not self.scoped_teams

    def reaches(self, project_id: int) -> bool:
        return self.reaches_every_project or project_id in self.scoped_teams

    def allows(self, scope: str) -> bool:
        return scopes.allows(self.scopes, scope)

    def covers(self, other: ApiKey) -> bool:
        """Whether ``other`` can do nothing, nowhere, that this key cannot."""
        if scopes.missing(self.scopes, other.scopes):
            return False
        if self.reaches_every_project:
            return True
        return not other.reaches_every_project and set(other.scoped_teams) <= set(self.scoped_teams)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> ApiKey:
        key_id, label, mask, scope_list, teams, created_at, last_used_at = row
        return cls(
            str(key_id),
            label,
            mask,
            tuple(orjson.loads(scope_list or '["*"]')),
            tuple(orjson.loads(teams or "[]")),
            created_at,
            last_used_at,
        )


@dataclass(frozen=True)
class IssuedKey:
    """A key just created, with its value: shown once, then only its digest remains."""

    key: ApiKey
    value: str


_KEY_COLUMNS = "id, label, mask, scopes, scoped_teams, created_at, last_used_at"


class ApiKeyStore:
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
        value = "phx_" + secrets.token_urlsafe(32)
        row = first_row(
            self._db.cursor().execute(
                "INSERT INTO personal_api_keys"
                " (id, label, key_digest, mask, created_at, scopes, scoped_teams)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_KEY_COLUMNS}",
                [
                    uuid.uuid4(),
                    label,
                    _digest(value),
                    value[:8] + "…" + value[-4:],
                    utc_naive(self._clock.now()),
                    orjson.dumps(list(scope_list)).decode(),
                    orjson.dumps(sorted(scoped_teams)).decode(),
                ],
            )
        )
        assert row is not None
        return IssuedKey(ApiKey.from_row(row), value)

    def find(self, value: str) -> ApiKey | None:
        """The key whose value this is, if it exists (and was not revoked)."""
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {_KEY_COLUMNS} FROM personal_api_keys WHERE key_digest = ?",
                [_digest(value)],
            )
        )
        return ApiKey.from_row(row) if row else None

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
        return ApiKey.from_row(row) if row else None

    def all(self) -> list[ApiKey]:
        rows = (
            self._db.cursor()
            .execute(f"SELECT {_KEY_COLUMNS} FROM personal_api_keys ORDER BY created_at, id")
            .fetchall()
        )
        return [ApiKey.from_row(row) for row in rows]

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


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
