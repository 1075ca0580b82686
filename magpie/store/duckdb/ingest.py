"""The ingest unit of work on DuckDB: one ACID transaction per unit.

Events, person and group changes, usage, warnings and the queue position
commit together, so exactly-once holds by construction: a crash keeps a whole
unit or none of it, and the worker resumes after the last committed position.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import duckdb

from magpie.store.base import IngestUnit
from magpie.store.duckdb import billing, events, ingest_log, persons
from magpie.store.duckdb.database import Database, transaction
from magpie.store.model import IngestionWarning, UsageCount
from magpie.store.state import GroupState, Key, PersonState

T = TypeVar("T")
CONFLICT_RETRIES = 3


class DuckDBIngestUnit:
    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self._cursor = cursor

    def known_uuids(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> set[str]:
        return events.stored_uuids(self._cursor, list(keys), earliest, latest)

    def load_persons(self, keys: set[Key]) -> PersonState:
        return persons.load_person_state(self._cursor, keys)

    def load_groups(self, projects: set[int], keys: set[tuple[int, str, str]]) -> GroupState:
        return persons.load_group_state(self._cursor, projects, keys)

    def save_persons(self, state: PersonState, recorded_at: datetime) -> None:
        persons.save_person_state(self._cursor, state, recorded_at)

    def save_groups(self, state: GroupState) -> None:
        persons.save_group_state(self._cursor, state)

    def append_events(self, columns: dict[str, list[Any]]) -> int:
        return events.insert_events(self._cursor, columns)

    def add_usage(self, counts: Sequence[UsageCount]) -> None:
        billing.add_usage(self._cursor, counts)

    def add_dropped(self, project_id: int, day: date, events_dropped: int) -> None:
        billing.add_dropped(self._cursor, project_id, day, events_dropped)

    def add_warnings(self, warnings: Sequence[IngestionWarning]) -> None:
        ingest_log.insert_warnings(self._cursor, list(warnings))

    def save_position(self, consumer: str, position: int) -> None:
        ingest_log.save_position(self._cursor, consumer, position)


class DuckDBIngestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def position(self, consumer: str) -> int:
        return ingest_log.load_position(self._db.cursor(), consumer)

    def committed_positions(self, consumers: Sequence[str]) -> dict[str, int]:
        cursor = self._db.cursor()
        return {c: ingest_log.load_position(cursor, c) for c in consumers}

    def transact(self, work: Callable[[IngestUnit], T]) -> T:
        """A write conflict (another transaction changed a person or group this one
        changed too) rolls back; the work runs again and re-reads, so no update is lost."""
        for attempt in range(CONFLICT_RETRIES):
            cursor = self._db.cursor()
            try:
                with transaction(cursor):
                    return work(DuckDBIngestUnit(cursor))
            except duckdb.TransactionException:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def dead_letter(
        self,
        consumer: str,
        position: int,
        next_position: int,
        payload: bytes,
        error: str,
        at: datetime,
    ) -> None:
        cursor = self._db.cursor()
        with transaction(cursor):
            ingest_log.insert_dead_letter(cursor, position, payload, error, at)
            ingest_log.save_position(cursor, consumer, next_position)
