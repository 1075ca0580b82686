"""Events into a store the way production sends them: capture's event rules, a
durable local queue, and the real ingest worker."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from magpie.capture.parsing import EventContext, build_event
from magpie.clock import FrozenClock
from magpie.ingest.worker import IngestWorker
from magpie.queue.local import LocalLog
from magpie.store.base import IngestStore

_EVENT_UUIDS = uuid.UUID("5d1e3c52-8f0e-4f6e-9a53-6d4f0c0b7a21")


class Feed:
    def __init__(self, store: IngestStore, folder: Path, clock: FrozenClock) -> None:
        self.queue = LocalLog(folder)
        self.clock = clock
        self.worker = IngestWorker(store, self.queue, clock)
        self.worker.start()
        self._closed = False
        # Event uuids follow from the feed's name and a count, so that the same
        # scenario fed to two backends makes the same events.
        self._name = folder.name
        self._sent = 0

    def event(
        self,
        name: str,
        distinct_id: str,
        /,
        *,
        after: timedelta = timedelta(seconds=1),
        anonymous: bool = False,
        **properties: Any,
    ) -> dict[str, Any]:
        """An SDK-shaped event one ``after`` later than the last; ``anonymous`` sends
        it with $process_person_profile false."""
        self.clock.set(self.clock.now() + after)
        props = dict(properties)
        if anonymous:
            props["$process_person_profile"] = False
        return {
            "event": name,
            "distinct_id": distinct_id,
            "uuid": str(self._next_uuid()),
            "timestamp": self.clock.now().isoformat(),
            "properties": props,
        }

    def _next_uuid(self) -> uuid.UUID:
        self._sent += 1
        return uuid.uuid5(_EVENT_UUIDS, f"{self._name}:{self._sent}")

    def record(self, project_id: int, *events: dict[str, Any]) -> dict[str, Any]:
        context = EventContext(now=self.clock.now() + timedelta(hours=1), sent_at=None)
        return {
            "project_id": project_id,
            "ip": "127.0.0.1",
            "sent_at": None,
            "received_at": None,
            "historical_migration": False,
            "events": [build_event(e, context) for e in events],
        }

    def send(self, project_id: int, *events: dict[str, Any]) -> list[str]:
        """Queue the events as one capture request, and wait until they are ingested."""
        record = self.record(project_id, *events)
        self.queue.append_sync(orjson.dumps(record))
        self.settle()
        return [e["uuid"] for e in record["events"]]

    def settle(self, timeout: float = 20.0) -> None:
        """Wait until the worker has committed everything queued; a worker step that
        failed, or a record set aside as a dead letter, fails the test at once."""
        deadline = time.monotonic() + timeout
        while not self.worker.wait_until_caught_up(0.05):
            assert not self.worker.stats.errors, "an ingest step failed (see the log)"
            assert time.monotonic() < deadline, "the ingest worker did not catch up"
        assert not self.worker.stats.dead_letters, "a record could not be ingested"

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.queue.close()
            self.worker.stop()
