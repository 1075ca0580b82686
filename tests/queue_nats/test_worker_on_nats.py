"""The real ingest worker draining a JetStream partition into each store."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from magpie.capture.parsing import EventContext, build_event
from magpie.ingest.worker import IngestWorker
from magpie.queue.nats import NatsQueue
from magpie.store.model import EventFilter
from tests.store.conftest import T0, make_backend

PROJECT = 1


def capture_record(*events: dict[str, Any]) -> bytes:
    context = EventContext(now=T0 + timedelta(hours=1), sent_at=None)
    return orjson.dumps(
        {
            "project_id": PROJECT,
            "ip": "127.0.0.1",
            "sent_at": None,
            "received_at": None,
            "historical_migration": False,
            "events": [build_event(e, context) for e in events],
        }
    )


def event(name: str, distinct_id: str, minute: int, **properties: Any) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "uuid": str(uuid.uuid4()),
        "timestamp": (T0 + timedelta(minutes=minute)).isoformat(),
        "properties": properties,
    }


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_the_worker_ingests_from_a_partition_once(
    engine: str,
    make_queue: Callable[..., NatsQueue],
    tmp_path: Path,
    new_database: Callable[[], str],
) -> None:
    backend = make_backend(engine, tmp_path, new_database)
    queue = make_queue(partitions=1)
    writer = queue.writer()
    first = capture_record(event("$pageview", "anon-1", 0), event("$pageview", "anon-1", 1))
    writer.append_sync(first)
    writer.append_sync(
        capture_record(
            event("$identify", "user-1", 2, **{"$anon_distinct_id": "anon-1"}),
            event("$pageview", "user-1", 3),
        )
    )
    writer.append_sync(first)  # capture's retry of the first request: stored once
    worker = IngestWorker(backend.stores.ingest, queue.reader(0), backend.clock)
    worker.start()
    try:
        assert worker.wait_until_caught_up(60)
        assert not worker.stats.errors and not worker.stats.dead_letters
        stored = backend.stores.events.list_events(EventFilter(PROJECT, limit=100))
        assert len(stored) == 4
        # The identify merged the anonymous person: every event has the one person.
        assert len({e.person_id for e in stored}) == 1
        assert backend.stores.ingest.position("ingest") == queue.reader(0).end
    finally:
        worker.stop()
        backend.close()
