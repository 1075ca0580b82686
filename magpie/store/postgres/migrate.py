"""Numbered SQL files that build and change the PostgreSQL schema, applied in order.

Each file runs in its own transaction and is recorded in ``schema_migrations``.
Several processes may start at once (capture, workers, API on a new cluster):
they take one advisory lock first, so one of them applies the files while the
others wait, and then find nothing left to do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import psycopg
from psycopg.rows import TupleRow

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# pg_advisory_lock's two-integer key space does not overlap its one-bigint key
# space, so this pair cannot collide with a lock taken on a single key.
MIGRATION_LOCK = (0x6D61_6770, 1)  # "magp", schema

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
)
"""

_RECORD = """
INSERT INTO schema_migrations (version, name, applied_at)
VALUES (%s, %s, now() AT TIME ZONE 'UTC')
"""


def migration_files() -> list[tuple[int, str, str]]:
    found = []
    for entry in (resources.files("magpie.store.postgres") / "migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


def apply_migrations(connection: psycopg.Connection[TupleRow]) -> list[str]:
    """Apply the files this database has not seen; returns their names.

    ``connection`` must be in autocommit mode: the lock is the session's, held
    across the migrations' own transactions.
    """
    with exclusively(connection, MIGRATION_LOCK):
        connection.execute(_CREATE_LEDGER)
        # Every file not applied yet, not only those above the highest applied:
        # branches get ranges of numbers and land in any order.
        done = {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, script in migration_files():
            if version in done:
                continue
            with connection.transaction():
                connection.execute(script)
                connection.execute(_RECORD, (version, name))
            log.info("applied migration %s", name)
            applied.append(name)
        return applied


@contextmanager
def exclusively(connection: psycopg.Connection[TupleRow], lock: tuple[int, int]) -> Iterator[None]:
    """Hold a session advisory lock (two-integer key) for the block: of several
    processes running it at once, one runs it while the others wait."""
    connection.execute("SELECT pg_advisory_lock(%s, %s)", lock)
    try:
        yield
    finally:
        connection.execute("SELECT pg_advisory_unlock(%s, %s)", lock)
