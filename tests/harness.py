"""Drive the real ingest path (capture validation → durable queue → worker → DuckDB)
without HTTP, with control over how events are split into worker batches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from magpie.app import Magpie
from magpie.capture.parsing import EventContext, build_event
from magpie.http.api.events import public_event
from magpie.http.api.persons import public_person, public_warning
from magpie.ingest.persons import person_uuid_for
from magpie.settings import Settings
from magpie.store.model import EventFilter

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Ingest:
    def __init__(self, data_dir: Path, *, start: bool = True, **settings: Any) -> None:
        """``start=False`` leaves the worker stopped, so records can be queued first."""
        self.magpie = Magpie(
            Settings.load(env={}, data_dir=data_dir, capture_process=False, **settings)
        )
        if start:
            self.magpie.start()
        self.project_id = self.magpie.projects.create("test").id
        self.clock = T0

    def new_project(self) -> int:
        self.project_id = self.magpie.projects.create("test").id
        return self.project_id

    def close(self) -> None:
        self.magpie.close()

    # -- sending ------------------------------------------------------------

    def event(
        self,
        name: str,
        distinct_id: str,
        /,
        *,
        anonymous: bool = False,
        after: timedelta = timedelta(seconds=1),
        **properties: Any,
    ) -> dict[str, Any]:
        """An SDK-shaped event; ``anonymous`` sends it with $process_person_profile false."""
        self.clock += after
        props = dict(properties)
        if anonymous:
            props["$process_person_profile"] = False
        return {
            "event": name,
            "distinct_id": distinct_id,
            "uuid": str(uuid.uuid4()),
            "timestamp": self.clock.isoformat(),
            "properties": props,
        }

    def record(self, *events: dict[str, Any]) -> dict[str, Any]:
        """The queue record capture would write for one request carrying ``events``."""
        context = EventContext(now=self.clock + timedelta(hours=1), sent_at=None)
        built = [build_event(e, context) for e in events]
        return {
            "project_id": self.project_id,
            "ip": "127.0.0.1",
            "sent_at": None,
            "received_at": None,
            "historical_migration": False,
            "events": built,
        }

    def send(self, *events: dict[str, Any], wait: bool = True) -> list[str]:
        """Append the events as one capture request; returns their uuids."""
        record = self.record(*events)
        self.magpie.queue.append_sync(orjson.dumps(record))
        if wait:
            self.settle()
        return [e["uuid"] for e in record["events"]]

    def settle(self) -> None:
        assert self.magpie.wait_until_caught_up(20)

    # -- reading ------------------------------------------------------------

    @property
    def cursor(self) -> Any:
        return self.magpie.db.cursor()

    # Reads go through the stores and come back as the read API shows them.

    def person(self, distinct_id: str) -> dict[str, Any] | None:
        reader = self.magpie.stores.persons
        found = reader.list_persons(self.project_id, distinct_id=distinct_id)
        if not found:
            return None
        one = reader.get_person(self.project_id, found[0].uuid)
        return None if one is None else public_person(one)

    def persons(self) -> list[dict[str, Any]]:
        found = self.magpie.stores.persons.list_persons(self.project_id, limit=10_000)
        return [public_person(p) for p in found]

    def events(self, **where: Any) -> list[dict[str, Any]]:
        found = self.magpie.stores.events.list_events(
            EventFilter(self.project_id, limit=10_000, **where)
        )
        return sorted((public_event(e) for e in found), key=lambda e: str(e["timestamp"]))

    def event_by_uuid(self, event_uuid: str) -> dict[str, Any]:
        return next(e for e in self.events() if e["uuid"] == event_uuid)

    def warnings(self) -> list[dict[str, Any]]:
        found = self.magpie.stores.persons.list_warnings(self.project_id, limit=10_000)
        return [public_warning(w) for w in found]

    def warning_types(self) -> list[str]:
        return sorted(w["type"] for w in self.warnings())

    def uuid5(self, distinct_id: str) -> str:
        return str(person_uuid_for(self.project_id, distinct_id))
