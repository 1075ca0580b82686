"""Web UI users and their server-side sessions in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from magpie.clock import Clock, utc_naive
from magpie.store.model import Session, User, email_key
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.postgres.text import pg_text

_USER_COLUMNS = "id, email, created_at"
_CREATE_USER = f"""
INSERT INTO users (email, email_key, password_hash, created_at) VALUES (%s, %s, %s, %s)
RETURNING {_USER_COLUMNS}
"""
_FIND_SESSION = """
SELECT u.id, u.email, u.created_at, s.created_at, s.expires_at
FROM user_sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_digest = %s AND s.expires_at > %s
"""


def _user(row: Any) -> User:
    user_id, email, created_at = row
    return User(user_id, email, created_at)


class PostgresUserStore:
    def __init__(self, db: PostgresDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, email: str, password_hash: str) -> User:
        typed = pg_text(email.strip())
        try:
            with self._db.connection() as connection:
                row = connection.execute(
                    _CREATE_USER,
                    (typed, email_key(typed), password_hash, utc_naive(self._clock.now())),
                ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise ValueError(f"a user with the email {typed!r} exists already") from None
        return _user(row)

    def count(self) -> int:
        with self._db.connection() as connection:
            row = connection.execute("SELECT count(*) FROM users").fetchone()
        return int(row[0]) if row else 0

    def all(self) -> list[User]:
        with self._db.connection() as connection:
            rows = connection.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY id").fetchall()
        return [_user(row) for row in rows]

    def by_email(self, email: str) -> User | None:
        with self._db.connection() as connection:
            row = connection.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE email_key = %s",
                (email_key(pg_text(email)),),
            ).fetchone()
        return _user(row) if row else None

    def password_hash(self, user_id: int) -> str | None:
        with self._db.connection() as connection:
            row = connection.execute(
                "SELECT password_hash FROM users WHERE id = %s", (user_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._db.connection() as connection:
            connection.execute(
                "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
            )


class PostgresSessionStore:
    def __init__(self, db: PostgresDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, token_digest: str, user_id: int, expires_at: datetime) -> Session:
        now = utc_naive(self._clock.now())
        with self._db.connection() as connection:
            connection.execute(
                "INSERT INTO user_sessions (token_digest, user_id, created_at, expires_at)"
                " VALUES (%s, %s, %s, %s)",
                (token_digest, user_id, now, utc_naive(expires_at)),
            )
        found = self.find(token_digest, now)
        assert found is not None
        return found

    def find(self, token_digest: str, now: datetime) -> Session | None:
        with self._db.connection() as connection:
            row = connection.execute(_FIND_SESSION, (token_digest, utc_naive(now))).fetchone()
        if row is None:
            return None
        user_id, email, user_created, created_at, expires_at = row
        return Session(User(user_id, email, user_created), created_at, expires_at)

    def delete(self, token_digest: str) -> None:
        with self._db.connection() as connection:
            connection.execute("DELETE FROM user_sessions WHERE token_digest = %s", (token_digest,))
