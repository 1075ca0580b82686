"""What the layers above ``magpie/store/`` may ask of a store, whatever its engine.

Each backend (``duckdb/`` embedded, ``clickhouse/`` and ``postgres/`` at
scale) implements these Protocols; ``magpie/app.py`` picks the
implementations from the settings, and nothing else names an engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from magpie.store.model import IngestionWarning, UsageCount
from magpie.store.state import GroupState, Key, PersonState

T = TypeVar("T")


class IngestUnit(Protocol):
    """One ingest unit of work: everything written through it is kept together or
    not at all, the queue position with it, so each queued event is stored once."""

    def known_uuids(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> set[str]:
        """Which of these (project, event uuid) pairs, timed between ``earliest`` and
        ``latest``, are stored already (SDK retries, replays)."""
        ...

    def load_persons(self, keys: set[Key]) -> PersonState:
        """The persons owning these (project, distinct id) pairs, with all their ids."""
        ...

    def load_groups(self, projects: set[int], keys: set[tuple[int, str, str]]) -> GroupState:
        """Group types of these projects, and the groups named (project, type, key)."""
        ...

    def save_persons(self, state: PersonState, recorded_at: datetime) -> None:
        """Write back what the batch changed: persons, distinct ids, overrides, merges."""
        ...

    def save_groups(self, state: GroupState) -> None: ...

    def append_events(self, columns: dict[str, list[Any]]) -> int:
        """Store new, distinct events given as column lists; returns how many."""
        ...

    def add_usage(self, counts: Sequence[UsageCount]) -> None: ...

    def add_dropped(self, project_id: int, day: date, events: int) -> None:
        """Events capture dropped for a project over its quota."""
        ...

    def add_warnings(self, warnings: Sequence[IngestionWarning]) -> None: ...

    def save_position(self, consumer: str, position: int) -> None: ...


class IngestStore(Protocol):
    """Where the ingest worker keeps what it has read from the queue."""

    def position(self, consumer: str) -> int:
        """How far ``consumer`` has committed (0 when it never has)."""
        ...

    def transact(self, work: Callable[[IngestUnit], T]) -> T:
        """Run ``work`` as one unit of work and commit it. Work that loses a write
        conflict to another writer is run again from the start (so ``work`` must
        only read and write through the unit); any other error undoes it all."""
        ...

    def dead_letter(
        self,
        consumer: str,
        position: int,
        next_position: int,
        payload: bytes,
        error: str,
        at: datetime,
    ) -> None:
        """Keep a record that could not be ingested, and move ``consumer`` past it."""
        ...
