"""The ingest unit of work on PostgreSQL, with events in another store.

A unit is one PostgreSQL transaction holding the batch's person and group
changes, usage counters, warnings, dropped counts and the consumer's new
queue position. The events go to an ``EventSink`` (ClickHouse in cluster
mode), which no transaction shares with PostgreSQL.

Why person state is applied exactly once
----------------------------------------
The position is committed in the same transaction as the changes it covers,
so PostgreSQL holds either both or neither. A worker that dies before the
commit leaves the position where it was, and whoever consumes the partition
next (the worker restarted, or another that took it over) reads from there
and applies those records again, onto state that never saw them. A worker
that dies after the commit leaves a position past them, so they are never
applied again. A worker that only seemed dead cannot commit them a second
time either: the position moves by compare-and-set from the value this store
last read or wrote (``ConsumerTakenOver`` otherwise). A COMMIT whose answer
was lost with its connection is settled the same way: the unit counts as
committed if the positions it saved are in the database.

What the event sink must guarantee
----------------------------------
A unit appends its events before it commits, so a unit that dies in between
leaves events in the sink whose person changes were undone. Two things make
that harmless:

- the sink is idempotent by (project, uuid): the replay appends the same
  events again and queries see one copy, the last appended (and appends are
  durable when ``append`` returns);
- every unit appends under a batch id of its own and records that id in its
  transaction (``ingest_batches``). The worker skips events the store already
  holds (SDK retries), and asks ``known_uuids`` which those are: an event
  counts as held only if a committed batch (or this unit itself) wrote it.
  An event left by a unit that died is not held, so the replay applies its
  person changes and stores it once more, instead of skipping it for good.

Until the replay, such orphan events are in the sink without their person
changes; a reader that must never see that (the issue's read-your-writes
rule) keeps to events of committed batches (``committed_batches``).

Concurrency
-----------
Two units may change the same persons at once (a person's distinct ids live
on different partitions). ``persons.py`` locks them in a fixed order when it
loads them and checks every insert; ``groups.py`` compares and sets. A unit
that loses (a deadlock, a row inserted by the other, a group changed under it)
is rolled back and ``transact`` runs it again from a fresh read.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import psycopg

from magpie.clock import uuid7
from magpie.errors import ServiceUnavailable
from magpie.store.base import IngestUnit
from magpie.store.model import IngestionWarning, UsageCount
from magpie.store.person_rows import PersonRows, group_rows, person_rows
from magpie.store.postgres import billing, groups, ingest_log, persons
from magpie.store.postgres.conflicts import RETRYABLE
from magpie.store.postgres.database import Connection, PostgresDatabase, connection_lost
from magpie.store.postgres.sink import EventSink
from magpie.store.state import GroupKey, GroupState, Key, PersonState

log = logging.getLogger(__name__)

T = TypeVar("T")
# Runs of one unit before a lost race is reported (PostHog tries a merge 5 times).
ATTEMPTS = 5
# A worker stuck inside a unit must not hold persons from the others for ever:
# a lock wait gives up (and the unit runs again), and PostgreSQL ends a session
# left idle in a transaction (a frozen process), releasing its locks.
LOCK_TIMEOUT = "20s"
IDLE_TIMEOUT = "60s"

_LIMITS = """
SELECT set_config('lock_timeout', %s, true),
       set_config('idle_in_transaction_session_timeout', %s, true)
"""


class PostgresIngestUnit:
    def __init__(self, connection: Connection, sink: EventSink, claims: dict[str, int]) -> None:
        self._connection = connection
        self._sink = sink
        self._claims = claims
        self.batch = uuid7()
        self._batch_recorded = False
        self._persons = persons.LoadedPersons()
        # The last version of each person the sink may hold a copy of.
        self._person_versions: dict[tuple[int, uuid.UUID], int] = {}
        self._groups: dict[GroupKey, int] = {}
        self.positions: dict[str, int] = {}
        # Usage and dropped counts, written once at the end of the unit (finish).
        self._usage: list[UsageCount] = []
        self._dropped: Counter[tuple[int, date]] = Counter()

    def known_uuids(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> set[str]:
        if not keys:
            return set()
        stored = self._sink.stored_batches(keys, earliest, latest)
        others = {b for batches in stored.values() for b in batches} - {self.batch}
        held = ingest_log.committed_batches(self._connection, sorted(others)) | {self.batch}
        return {event for event, batches in stored.items() if batches & held}

    def load_persons(self, keys: set[Key]) -> PersonState:
        state = persons.load_person_state(self._connection, keys, self._persons)
        for key, person in state.persons.items():
            self._person_versions.setdefault(key, person.version)
        return state

    def load_groups(self, projects: set[int], keys: set[tuple[int, str, str]]) -> GroupState:
        return groups.load_group_state(self._connection, projects, keys, self._groups)

    def save_persons(self, state: PersonState, recorded_at: datetime) -> None:
        persons.save_person_state(self._connection, state, recorded_at, self._persons)
        rows = person_rows(state, self._person_versions)
        for row in rows.persons:
            self._person_versions[(row.project_id, row.uuid)] = row.version
        self._append_rows(rows)

    def save_groups(self, state: GroupState) -> None:
        groups.save_group_state(self._connection, state, self._groups)
        self._append_rows(group_rows(state))

    def append_events(self, columns: dict[str, list[Any]]) -> int:
        if not columns.get("uuid"):
            return 0
        self._record_batch()
        return self._sink.append(columns, self.batch)

    def _append_rows(self, rows: PersonRows) -> None:
        if rows:
            self._record_batch()
            self._sink.append_rows(rows, self.batch)

    def _record_batch(self) -> None:
        """Before anything reaches the sink under this batch: a reader of the sink
        can then tell this unit committed, or ended without committing."""
        if not self._batch_recorded:
            ingest_log.record_batch(self._connection, self.batch)
            self._batch_recorded = True

    # The counters are a few rows that every unit of a project updates, on every
    # partition and in every worker process. Written chunk by chunk, two units
    # locked them in different orders (a deadlock, seen with two workers) and
    # held them for the rest of the unit, so units of all partitions queued on
    # them. Written once, last, in one sorted statement per table, they are
    # locked in one order and only until the commit.
    def add_usage(self, counts: Sequence[UsageCount]) -> None:
        self._usage.extend(counts)

    def add_dropped(self, project_id: int, day: date, events: int) -> None:
        self._dropped[(project_id, day)] += events

    def finish(self) -> None:
        """Write the counters (the unit's last statements, right before its commit)."""
        billing.add_usage(self._connection, self._usage)
        for (project_id, day), events in sorted(self._dropped.items()):
            billing.add_dropped(self._connection, project_id, day, events)
        self._usage, self._dropped = [], Counter()

    def add_warnings(self, warnings: Sequence[IngestionWarning]) -> None:
        ingest_log.insert_warnings(self._connection, warnings)

    def save_position(self, consumer: str, position: int) -> None:
        expected = self.positions.get(consumer, self._claims.get(consumer))
        ingest_log.save_position(self._connection, consumer, position, expected)
        self.positions[consumer] = position


class PostgresIngestStore:
    """Ingest units on one PostgreSQL database, their events sent to ``sink``."""

    def __init__(self, db: PostgresDatabase, sink: EventSink, *, attempts: int = ATTEMPTS) -> None:
        self._db = db
        self._sink = sink
        self._attempts = attempts
        # Where each consumer was when this process last read or moved it.
        self._claims: dict[str, int] = {}

    def position(self, consumer: str) -> int:
        with self._db.connection() as connection:
            position = ingest_log.load_position(connection, consumer)
        self._claims[consumer] = position
        return position

    def committed_positions(self, consumers: Sequence[str]) -> dict[str, int]:
        # Not ``position``: that records a claim the next commit is fenced on, and
        # a status read must never move a running worker's expectation.
        with self._db.connection() as connection:
            return ingest_log.load_positions(connection, consumers)

    def transact(self, work: Callable[[IngestUnit], T]) -> T:
        for attempt in range(1, self._attempts + 1):
            unit: PostgresIngestUnit | None = None
            done = False
            try:
                with self._db.transaction() as connection:
                    connection.execute(_LIMITS, (LOCK_TIMEOUT, IDLE_TIMEOUT))
                    unit = PostgresIngestUnit(connection, self._sink, self._claims)
                    result = work(unit)
                    unit.finish()
                    done = True
            except RETRYABLE as exc:
                if attempt == self._attempts:
                    raise
                log.info("ingest unit lost a race (%s); running it again", exc)
                # Jittered, so two units that collided do not collide again.
                time.sleep(random.uniform(0.01, 0.05) * attempt)
                continue
            except psycopg.OperationalError as exc:
                if not (done and unit is not None and self._committed_anyway(unit)):
                    if connection_lost(exc):
                        # PostgreSQL is down or restarting: nothing is wrong with the
                        # records, which the worker must keep, not set aside.
                        raise ServiceUnavailable(f"PostgreSQL is unavailable: {exc}") from exc
                    raise
            assert unit is not None
            self._claims.update(unit.positions)
            return result
        raise AssertionError("unreachable")

    def _committed_anyway(self, unit: PostgresIngestUnit) -> bool:
        """Whether a unit whose COMMIT lost its connection was committed all the same.

        Its answer never came back, so the outcome is unknown; the positions it
        saved tell, being in the same transaction. Without this, the worker
        would run the records again, and the fenced position would refuse them
        for ever (the store's claim being older than the committed position).
        """
        if not unit.positions:
            return False
        try:
            with self._db.connection() as connection:
                stored = {c: ingest_log.load_position(connection, c) for c in unit.positions}
        except psycopg.Error:
            return False
        return stored == unit.positions

    def dead_letter(
        self,
        consumer: str,
        position: int,
        next_position: int,
        payload: bytes,
        error: str,
        at: datetime,
    ) -> None:
        with self._db.transaction() as connection:
            ingest_log.insert_dead_letter(connection, consumer, position, payload, error, at)
            ingest_log.save_position(
                connection, consumer, next_position, self._claims.get(consumer)
            )
        self._claims[consumer] = next_position

    def committed_batches(self, batches: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these batches belong to committed units (for a reader of the sink)."""
        with self._db.connection() as connection:
            return ingest_log.committed_batches(connection, batches)

    def batch_outcomes(self, batches: Sequence[uuid.UUID]) -> dict[uuid.UUID, bool | None]:
        """For each batch: True if its unit committed, False if it ended without
        committing (it never will), None while it is still running."""
        return ingest_log.batch_outcomes(self._db, batches)
