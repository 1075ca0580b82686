"""Exactly once without a shared transaction: a worker killed with SIGKILL after
sending a unit's events to the sink and before committing it leaves, once the
queue is consumed again, the same persons, usage and events as a worker that
never crashed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from magpie.queue.local import LocalLog
from magpie.store.model import EventFilter
from magpie.store.postgres import PostgresDatabase
from magpie.store.postgres.billing import PostgresBillingStore
from magpie.store.postgres.ingest import PostgresIngestStore
from magpie.store.postgres.person_reader import PostgresPersonReader
from tests.store.event_table import EventTable
from tests.store.races import T0, raw_event

ROOT = Path(__file__).resolve().parents[2]
P = 1


def records() -> list[bytes]:
    """Three queue records (capture requests): anonymous browsing, an identify, later
    updates; each event as capture queues it, its time resolved to naive UTC."""
    minute = [T0.replace(minute=m) for m in range(10)]
    requests = [
        [
            raw_event("$pageview", "anon", at=minute[0], **{"$process_person_profile": False}),
            raw_event("$pageview", "anon", at=minute[1], **{"$process_person_profile": False}),
            raw_event("$pageview", "user", at=minute[1], **{"$set": {"plan": "free"}}),
        ],
        [raw_event("$identify", "user", at=minute[2], **{"$anon_distinct_id": "anon"})],
        [
            raw_event("$set", "user", at=minute[3], **{"$set": {"plan": "pro"}}),
            raw_event("$set", "user", at=minute[4], **{"$set_once": {"first": 1}}),
        ],
    ]
    out = []
    for events in requests:
        for event in events:
            event["timestamp"] = event["timestamp"].replace("Z", "")
        out.append(
            orjson.dumps(
                {
                    "project_id": P,
                    "ip": None,
                    "sent_at": None,
                    "historical_migration": False,
                    "events": events,
                }
            )
        )
    return out


def run_worker(url: str, queue: Path, *mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "tests.store.crashing_worker", url, str(queue), *mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode not in (0, -9):
        raise AssertionError(done.stderr)
    return done.returncode


def outcome(url: str) -> dict[str, Any]:
    db = PostgresDatabase(url)
    try:
        persons = PostgresPersonReader(db)
        found = [persons.get_person(P, p.uuid) for p in persons.list_persons(P)]
        events = EventTable(db)
        return {
            "persons": [
                (p.uuid, p.properties, p.is_identified, p.version, sorted(p.distinct_ids))
                for p in found
                if p is not None
            ],
            "merges": [
                [(m.kind, m.distinct_ids) for m in p.merge_history or []]
                for p in found
                if p is not None
            ],
            "usage": PostgresBillingStore(db).usage_rows(P, date(2000, 1, 1), date(3000, 1, 1)),
            "events": sorted(
                (str(e.uuid), e.person_id, e.person_mode)
                for e in events.list_events(EventFilter(P, limit=100))
            ),
            "position": PostgresIngestStore(db, events).position("ingest"),
        }
    finally:
        db.close()


def queue_of(folder: Path, queued: list[bytes]) -> Path:
    log = LocalLog(folder)
    for record in queued:
        log.append_sync(record)
    log.close()
    return folder


def test_a_worker_killed_before_its_commit_leaves_everything_once(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    reference, crashed = new_database(), new_database()
    queued = records()
    assert run_worker(reference, queue_of(tmp_path / "reference", queued)) == 0
    expected = outcome(reference)
    assert len(expected["events"]) == 6 and len(expected["persons"]) == 1

    queue = queue_of(tmp_path / "crashed", queued)
    assert run_worker(crashed, queue, "crash") == -9
    # The sink has the unit's events; PostgreSQL has nothing of that unit.
    db = PostgresDatabase(crashed)
    try:
        assert len(EventTable(db).rows()) == 6
        assert PostgresPersonReader(db).list_persons(P) == []
        assert PostgresIngestStore(db, EventTable(db)).position("ingest") == 0
    finally:
        db.close()

    assert run_worker(crashed, queue) == 0
    assert outcome(crashed) == expected
    db = PostgresDatabase(crashed)
    try:
        rows = EventTable(db).rows()
    finally:
        db.close()
    # Each event is stored once, the second append replacing the orphan copy.
    assert len(rows) == 6 and {r[4] for r in rows} == {2}
