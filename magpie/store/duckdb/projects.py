"""Projects and personal API keys."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

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


class ApiKeyStore:
    """Personal API keys (``phx_…``); only a SHA-256 digest is stored."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, label: str) -> str:
        key = "phx_" + secrets.token_urlsafe(32)
        self._db.cursor().execute(
            "INSERT INTO personal_api_keys VALUES (?, ?, ?, ?, ?)",
            [
                uuid.uuid4(),
                label,
                _digest(key),
                key[:8] + "…" + key[-4:],
                utc_naive(self._clock.now()),
            ],
        )
        return key

    def is_valid(self, key: str) -> bool:
        row = first_row(
            self._db.cursor().execute(
                "SELECT 1 FROM personal_api_keys WHERE key_digest = ?", [_digest(key)]
            )
        )
        return row is not None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
