"""When an ingest unit lost a race to another worker and must run again."""

from __future__ import annotations

import psycopg.errors
from psycopg.rows import TupleRow


class ConcurrentChange(Exception):
    """Rows this unit read changed under it: a row it meant to insert was inserted
    by another worker, or one it meant to change was not as it read it."""


# What ``PostgresIngestStore.transact`` answers by running the unit again from
# a fresh read: PostgreSQL's own verdicts (a deadlock between two workers'
# locks, a serialization failure) and this store's checks.
RETRYABLE: tuple[type[Exception], ...] = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.LockNotAvailable,
    ConcurrentChange,
)


def expect_rows(cursor: psycopg.Cursor[TupleRow], expected: int, what: str) -> None:
    """The statement just run touched ``expected`` rows, or another worker got there first."""
    if cursor.rowcount != expected:
        raise ConcurrentChange(f"{what}: {cursor.rowcount} rows where {expected} were expected")
