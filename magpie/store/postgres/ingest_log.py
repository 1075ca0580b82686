"""Rows the ingest worker writes beside persons: queue positions, warnings, dead
letters and the record of committed batches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from magpie.store.model import IngestionWarning
from magpie.store.postgres.database import Connection, PostgresDatabase
from magpie.store.postgres.text import jsonb_text, pg_text


class ConsumerTakenOver(Exception):
    """The consumer's position is not where this process last saw it: another
    worker has taken over its partition and moved on. Nothing is committed;
    this process must stop consuming it (running again would fail the same way)."""


_POSITION = "SELECT position FROM queue_positions WHERE consumer = %s"

_POSITIONS = "SELECT consumer, position FROM queue_positions WHERE consumer = ANY(%s::text[])"

_FIRST_POSITION = """
INSERT INTO queue_positions (consumer, position) VALUES (%s, %s) ON CONFLICT DO NOTHING
"""

_MOVE_POSITION = """
UPDATE queue_positions SET position = %s WHERE consumer = %s AND position = %s
"""

_SET_POSITION = """
INSERT INTO queue_positions (consumer, position) VALUES (%s, %s)
ON CONFLICT (consumer) DO UPDATE SET position = excluded.position
"""

_INSERT_WARNINGS = """
INSERT INTO ingestion_warnings (project_id, type, details, event_uuid, timestamp)
SELECT project_id, type, details::jsonb, event_uuid, timestamp
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::uuid[], %s::timestamp[])
     AS k (project_id, type, details, event_uuid, timestamp)
"""

_INSERT_DEAD_LETTER = """
INSERT INTO dead_letters (consumer, queue_position, payload, error, failed_at)
VALUES (%s, %s, %s, %s, %s)
"""

_RECORD_BATCH = """
INSERT INTO ingest_batches (batch, committed_at) VALUES (%s, now() AT TIME ZONE 'UTC')
"""

# A unit holds its batch's lock from before anything is sent under the batch
# until its transaction ends. PostgreSQL makes a commit visible before it
# releases the transaction's locks, so whoever gets the lock next finds the
# batch's row if and only if the unit committed.
_LOCK_BATCH = "SELECT pg_advisory_xact_lock(hashtextextended(%s::text, 0))"
_TRY_BATCH = "SELECT pg_try_advisory_xact_lock(hashtextextended(%s::text, 0))"

_COMMITTED_BATCHES = "SELECT batch FROM ingest_batches WHERE batch = ANY(%s::uuid[])"


def load_position(connection: Connection, consumer: str) -> int:
    row = connection.execute(_POSITION, (consumer,)).fetchone()
    return int(row[0]) if row else 0


def load_positions(connection: Connection, consumers: Sequence[str]) -> dict[str, int]:
    rows = connection.execute(_POSITIONS, (list(consumers),)).fetchall()
    found: dict[str, int] = {str(c): int(p) for c, p in rows}
    return {c: found.get(c, 0) for c in consumers}


def save_position(
    connection: Connection, consumer: str, position: int, expected: int | None
) -> None:
    """Move ``consumer`` to ``position``, from ``expected`` if given (else from anywhere).

    The compare-and-set is what keeps a worker that was thought dead, and whose
    partition another worker took over, from committing the same records twice.
    """
    if expected is None:
        connection.execute(_SET_POSITION, (consumer, position))
        return
    cursor = connection.execute(_MOVE_POSITION, (position, consumer, expected))
    if cursor.rowcount == 0 and expected == 0:
        cursor = connection.execute(_FIRST_POSITION, (consumer, position))
    if cursor.rowcount != 1:
        raise ConsumerTakenOver(
            f"consumer {consumer!r} is no longer at {expected}: another worker has moved it"
        )


def insert_warnings(connection: Connection, warnings: Sequence[IngestionWarning]) -> None:
    if not warnings:
        return
    connection.execute(
        _INSERT_WARNINGS,
        (
            [w.project_id for w in warnings],
            [pg_text(w.type) for w in warnings],
            [jsonb_text(w.details, default=str) for w in warnings],
            [w.event_uuid for w in warnings],
            [w.timestamp for w in warnings],
        ),
    )


def insert_dead_letter(
    connection: Connection,
    consumer: str,
    position: int,
    payload: bytes,
    error: str,
    at: datetime,
) -> None:
    connection.execute(
        _INSERT_DEAD_LETTER, (consumer, position, payload, pg_text(error[:2000]), at)
    )


def record_batch(connection: Connection, batch: uuid.UUID) -> None:
    connection.execute(_LOCK_BATCH, (str(batch),))
    connection.execute(_RECORD_BATCH, (batch,))


def batch_outcomes(
    db: PostgresDatabase, batches: Sequence[uuid.UUID]
) -> dict[uuid.UUID, bool | None]:
    """True for a batch whose unit committed, False for one whose unit ended without
    committing, None for one whose unit is still running."""
    with db.connection() as connection:
        committed = committed_batches(connection, batches)
    outcomes: dict[uuid.UUID, bool | None] = dict.fromkeys(committed, True)
    for batch in batches:
        if batch in outcomes:
            continue
        with db.transaction() as connection:
            row = connection.execute(_TRY_BATCH, (str(batch),)).fetchone()
            if not (row and row[0]):
                outcomes[batch] = None  # its unit holds the lock: still running
                continue
            # The unit has ended; it committed only if its row is there now.
            outcomes[batch] = bool(committed_batches(connection, [batch]))
    return outcomes


def committed_batches(connection: Connection, batches: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not batches:
        return set()
    return {row[0] for row in connection.execute(_COMMITTED_BATCHES, (list(batches),))}
