"""Helpers for racing ingest units against each other on one PostgreSQL database."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from magpie.capture.parsing import EventContext, build_event
from magpie.ingest.events import IncomingEvent
from magpie.ingest.pipeline import normalize
from magpie.ingest.rows import event_columns
from magpie.ingest.worker import apply_persons_and_groups
from magpie.store.base import IngestUnit
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.state import GroupState, PersonState

NOW = datetime(2026, 3, 1, 13, 0)
T0 = datetime(2026, 3, 1, 12, 0)


def raw_event(name: str, distinct_id: str, *, at: datetime = T0, **props: Any) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "uuid": str(uuid.uuid4()),
        "timestamp": at.isoformat() + "Z",
        "properties": props,
    }


def incoming(project: int, *raw: dict[str, Any]) -> list[IncomingEvent]:
    """Fresh pipeline events for these SDK events (each run of a unit needs its own:
    the rules fill them in)."""
    context = EventContext(now=(NOW + timedelta(hours=1)).replace(tzinfo=UTC), sent_at=None)
    record = {"project_id": project, "ip": None, "events": [build_event(e, context) for e in raw]}
    return normalize([record]).events


def ingest(unit: IngestUnit, project: int, *raw: dict[str, Any]) -> list[IncomingEvent]:
    """What the worker does with one chunk: persons, groups, events, usage."""
    events = incoming(project, *raw)
    apply_persons_and_groups(unit, events, [], NOW)
    unit.append_events(event_columns(events, NOW))
    return events


class Paused:
    """A unit whose person or group write-back first runs ``before_save``."""

    def __init__(
        self,
        unit: IngestUnit,
        before_persons: Callable[[], None] | None = None,
        before_groups: Callable[[], None] | None = None,
    ) -> None:
        self._unit = unit
        self._before_persons = before_persons
        self._before_groups = before_groups

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit, name)

    def save_persons(self, state: PersonState, recorded_at: datetime) -> None:
        if self._before_persons is not None:
            self._before_persons()
        self._unit.save_persons(state, recorded_at)

    def save_groups(self, state: GroupState) -> None:
        if self._before_groups is not None:
            self._before_groups()
        self._unit.save_groups(state)


def lock_waiters(db: PostgresDatabase) -> int:
    """Sessions of this database now waiting for a lock another one holds."""
    with db.connection() as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return int(row[0]) if row else 0


def wait_for_lock_waiter(db: PostgresDatabase, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock_waiters(db):
            return True
        time.sleep(0.01)
    return False


class Racer(threading.Thread):
    """Runs ``target`` in a thread, keeping its result or exception."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as exc:  # the test looks at it
            self.error = exc

    def outcome(self, timeout: float = 30.0) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "a racing unit did not finish"
        if self.error is not None:
            raise self.error
        return self.result
