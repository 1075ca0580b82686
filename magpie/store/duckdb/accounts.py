"""Web UI users and their server-side sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from magpie.clock import Clock, utc_naive
from magpie.store.duckdb.database import Database, first_row
from magpie.store.model import Session, User, email_key

_USER_COLUMNS = "id, email, created_at"


def _user(row: tuple[Any, ...]) -> User:
    user_id, email, created_at = row
    return User(user_id, email, created_at)


class DuckDBUserStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, email: str, password_hash: str) -> User:
        try:
            row = first_row(
                self._db.cursor().execute(
                    "INSERT INTO users (email, email_key, password_hash, created_at)"
                    f" VALUES (?, ?, ?, ?) RETURNING {_USER_COLUMNS}",
                    [email.strip(), email_key(email), password_hash, utc_naive(self._clock.now())],
                )
            )
        except duckdb.ConstraintException:
            raise ValueError(f"a user with the email {email.strip()!r} exists already") from None
        return _user(row)

    def count(self) -> int:
        row = first_row(self._db.cursor().execute("SELECT count(*) FROM users"))
        return int(row[0])

    def all(self) -> list[User]:
        rows = (
            self._db.cursor().execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY id").fetchall()
        )
        return [_user(row) for row in rows]

    def by_email(self, email: str) -> User | None:
        row = first_row(
            self._db.cursor().execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE email_key = ?", [email_key(email)]
            )
        )
        return _user(row) if row else None

    def password_hash(self, user_id: int) -> str | None:
        row = first_row(
            self._db.cursor().execute("SELECT password_hash FROM users WHERE id = ?", [user_id])
        )
        return str(row[0]) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self._db.cursor().execute(
            "UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id]
        )


class DuckDBSessionStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, token_digest: str, user_id: int, expires_at: datetime) -> Session:
        now = utc_naive(self._clock.now())
        self._db.cursor().execute(
            "INSERT INTO user_sessions (token_digest, user_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            [token_digest, user_id, now, utc_naive(expires_at)],
        )
        found = self.find(token_digest, now)
        assert found is not None
        return found

    def find(self, token_digest: str, now: datetime) -> Session | None:
        row = first_row(
            self._db.cursor().execute(
                "SELECT u.id, u.email, u.created_at, s.created_at, s.expires_at"
                " FROM user_sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.token_digest = ? AND s.expires_at > ?",
                [token_digest, utc_naive(now)],
            )
        )
        if row is None:
            return None
        user_id, email, user_created, created_at, expires_at = row
        return Session(User(user_id, email, user_created), created_at, expires_at)

    def delete(self, token_digest: str) -> None:
        self._db.cursor().execute(
            "DELETE FROM user_sessions WHERE token_digest = ?", [token_digest]
        )
