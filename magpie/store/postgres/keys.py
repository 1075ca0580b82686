"""Personal API keys in PostgreSQL; only a SHA-256 digest of each is stored."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from magpie import scopes
from magpie.clock import Clock, utc_naive
from magpie.store.model import ApiKey, IssuedKey
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.secrets import key_digest, key_mask, new_api_key

_COLUMNS = "id, label, mask, scopes, scoped_teams, created_at, last_used_at"

_CREATE = f"""
INSERT INTO personal_api_keys (id, label, key_digest, mask, created_at, scopes, scoped_teams)
VALUES (%s, %s, %s, %s, %s, %s, %s)
RETURNING {_COLUMNS}
"""
_FIND = f"SELECT {_COLUMNS} FROM personal_api_keys WHERE key_digest = %s"
_GET = f"SELECT {_COLUMNS} FROM personal_api_keys WHERE id = %s"
_ALL = f"SELECT {_COLUMNS} FROM personal_api_keys ORDER BY created_at, id"
_REVOKE = "DELETE FROM personal_api_keys WHERE id = %s RETURNING id"
_TOUCH = "UPDATE personal_api_keys SET last_used_at = %s WHERE id = %s"


def _api_key(row: Any) -> ApiKey:
    key_id, label, mask, scope_list, teams, created_at, last_used_at = row
    return ApiKey(
        str(key_id), label, mask, tuple(scope_list), tuple(teams), created_at, last_used_at
    )


def _key_id(key_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key_id)
    except ValueError:
        return None


class PostgresApiKeyStore:
    def __init__(self, db: PostgresDatabase, clock: Clock) -> None:
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
        with self._db.connection() as connection:
            row = connection.execute(
                _CREATE,
                (
                    uuid.uuid4(),
                    label,
                    key_digest(value),
                    key_mask(value),
                    utc_naive(self._clock.now()),
                    list(scope_list),
                    sorted(scoped_teams),
                ),
            ).fetchone()
        return IssuedKey(_api_key(row), value)

    def find(self, value: str) -> ApiKey | None:
        """The key whose value this is, if it exists (and was not revoked)."""
        with self._db.connection() as connection:
            row = connection.execute(_FIND, (key_digest(value),)).fetchone()
        return _api_key(row) if row else None

    def is_valid(self, value: str) -> bool:
        return self.find(value) is not None

    def get(self, key_id: str) -> ApiKey | None:
        parsed = _key_id(key_id)
        if parsed is None:
            return None
        with self._db.connection() as connection:
            row = connection.execute(_GET, (parsed,)).fetchone()
        return _api_key(row) if row else None

    def all(self) -> list[ApiKey]:
        with self._db.connection() as connection:
            rows = connection.execute(_ALL).fetchall()
        return [_api_key(row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Delete the key; False if there was none with this id."""
        parsed = _key_id(key_id)
        if parsed is None:
            return False
        with self._db.connection() as connection:
            row = connection.execute(_REVOKE, (parsed,)).fetchone()
        return row is not None

    def touch(self, key: ApiKey) -> ApiKey:
        """Record that ``key`` was used now."""
        now = utc_naive(self._clock.now())
        with self._db.connection() as connection:
            connection.execute(_TOUCH, (now, uuid.UUID(key.id)))
        return replace(key, last_used_at=now)
