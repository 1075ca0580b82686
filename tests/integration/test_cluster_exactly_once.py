"""Exactly once in cluster mode, end to end: a worker killed with SIGKILL after
publishing a unit's events and before committing it, and a loader killed after
inserting events into ClickHouse and before saving its position, leave, once
restarted, what a run that never crashed leaves: each event stored once, every
person change applied once, in PostgreSQL and in ClickHouse's copy."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from magpie.clock import SystemClock
from magpie.errors import QueueUnavailable
from magpie.ingest.worker import IngestWorker
from magpie.queue.local import LocalLog
from magpie.store.postgres import PostgresDatabase, PostgresIngestStore
from magpie.store.postgres.person_reader import PostgresPersonReader
from magpie.store.postgres.publishing_sink import PublishingSink
from tests.conftest import ROOT
from tests.store.test_postgres_exactly_once import P, queue_of, records


def run(*args: str, killed: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.cluster_roles", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == (-9 if killed else 0), done.stderr
    return done.stdout


def persons(url: str) -> list[Any]:
    db = PostgresDatabase(url)
    try:
        reader = PostgresPersonReader(db)
        found = [reader.get_person(P, p.uuid) for p in reader.list_persons(P)]
        return sorted(
            (str(p.uuid), p.properties, p.version, sorted(p.distinct_ids))
            for p in found
            if p is not None
        )
    finally:
        db.close()


def reference(tmp_path: Path, url: str, queued: list[bytes]) -> tuple[dict[str, Any], list[Any]]:
    """What a run that never crashed leaves."""
    folder = tmp_path / "reference"
    run("worker", url, str(queue_of(folder / "queue", queued)), str(folder / "processed"))
    loaded = orjson.loads(run("loader", url, str(folder / "processed"), str(folder / "chdb")))
    assert loaded.pop("skipped") == 0
    return loaded, persons(url)


def test_a_worker_killed_before_its_commit_leaves_everything_once(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    queued = records()
    expected, expected_persons = reference(tmp_path, new_database(), queued)
    assert len(expected["copies"]) == 6 and len(expected_persons) == 1
    assert {copies for _, copies in expected["copies"]} == {"1"}

    url, folder = new_database(), tmp_path / "crashed"
    queue, processed = queue_of(folder / "queue", queued), folder / "processed"
    run("worker", url, str(queue), str(processed), "crash", killed=True)
    # The unit's events are published; PostgreSQL has nothing of that unit.
    log = LocalLog(processed)
    assert log.end > 0
    log.close()
    assert persons(url) == []

    run("worker", url, str(queue), str(processed))  # restarted
    loaded = orjson.loads(run("loader", url, str(processed), str(folder / "chdb")))
    # The killed unit's records were skipped: the replay's were loaded instead.
    assert loaded.pop("skipped") >= 1
    assert loaded == expected
    assert persons(url) == expected_persons


def test_a_loader_killed_before_saving_its_position_loads_nothing_twice(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    queued = records()
    expected, _ = reference(tmp_path, new_database(), queued)

    url, folder = new_database(), tmp_path / "crashed"
    queue, processed = queue_of(folder / "queue", queued), folder / "processed"
    run("worker", url, str(queue), str(processed))
    chdb = str(folder / "chdb")
    run("loader", url, str(processed), chdb, "crash", killed=True)
    loaded = orjson.loads(run("loader", url, str(processed), chdb))  # restarted
    assert loaded.pop("skipped") == 0
    assert loaded == expected


class FailsWhileTheQueueIsDown(PublishingSink):
    """Publishing processed events fails as with NATS gone, until ``up`` is set."""

    def __init__(self, publish: Any) -> None:
        super().__init__(publish)
        self.up = threading.Event()
        self.refused = 0

    def _send(self, record: Any) -> None:
        if not self.up.is_set():
            self.refused += 1
            raise QueueUnavailable("the queue (NATS) did not answer")
        super()._send(record)


def test_an_outage_of_the_processed_log_sets_no_record_aside(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    """A unit that cannot publish (NATS down) is not the records' fault: they are
    not dead-lettered (which would lose them), but ingested once the log is back."""
    url = new_database()
    db = PostgresDatabase(url)
    processed = LocalLog(tmp_path / "processed")
    queue = LocalLog(queue_of(tmp_path / "queue", records()))
    sink = FailsWhileTheQueueIsDown(lambda _id, record: processed.append_sync(record))
    worker = IngestWorker(PostgresIngestStore(db, sink), queue, SystemClock())
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while sink.refused < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sink.refused >= 3 and worker.position == 0
        sink.up.set()
        assert worker.wait_until_caught_up(60)
    finally:
        worker.stop()
    assert worker.stats.dead_letters == 0
    with db.connection() as connection:
        assert connection.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)
    assert worker.stats.events_stored == sum(len(orjson.loads(r)["events"]) for r in records())
    queue.close()
    processed.close()
    db.close()
