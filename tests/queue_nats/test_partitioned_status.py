"""Two worker processes share the partitions: the ingestion status of either one
says how far the whole queue is committed, not only its own share.

The status used to list only the partitions held by the process asked, and its
events counter only what that process stored, so a caller waiting for every
event it sent (bench/cluster.py with two workers) waited for ever."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from magpie.ingest.partitioned import PartitionedWorkers
from magpie.ingest.worker import IngestWorker
from magpie.queue.nats import NatsQueue, partition_of
from tests.queue_nats.test_worker_on_nats import PROJECT, capture_record, event
from tests.store.conftest import Backend, make_backend

PARTITIONS = 4
USERS = 24


def workers(queue: NatsQueue, backend: Backend) -> PartitionedWorkers:
    store = backend.stores.ingest

    def committed(partitions: list[int]) -> dict[int, int]:
        found = store.committed_positions([queue.consumer(p) for p in partitions])
        return {p: found[queue.consumer(p)] for p in partitions}

    return PartitionedWorkers(
        lambda partition, fence: IngestWorker(
            store,
            queue.reader(partition),
            backend.clock,
            consumer=queue.consumer(partition),
            before_commit=fence,
        ),
        queue.keeper,
        PARTITIONS,
        committed,
        lambda partition: queue.reader(partition).end,
    )


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.1)


def test_either_process_reports_every_partition_committed(
    make_queue: Callable[..., NatsQueue],
    tmp_path: Path,
    new_database: Callable[[], str],
) -> None:
    url = new_database()
    # Two processes' worth: each its own connection to NATS and pool to PostgreSQL.
    first_backend = make_backend("postgres", tmp_path / "a", lambda: url)
    second_backend = make_backend("postgres", tmp_path / "b", lambda: url)
    first_queue = make_queue(partitions=PARTITIONS, lease_seconds=2.0)
    second_queue = make_queue(partitions=PARTITIONS, lease_seconds=2.0)
    first, second = workers(first_queue, first_backend), workers(second_queue, second_backend)
    first.start()
    second.start()
    try:
        wait_for(
            lambda: len(first.owned) == len(second.owned) == PARTITIONS // 2,
            "the partitions are shared",
        )
        users = [f"user-{n}" for n in range(USERS)]
        assert {partition_of(PROJECT, u, PARTITIONS) for u in users} == set(range(PARTITIONS))
        writer = first_queue.writer()
        for minute, user in enumerate(users):
            writer.append_sync(capture_record(event("$pageview", user, minute)))

        wait_for(lambda: first.queue_status()["caught_up"], "the first reports all committed")
        status = first.queue_status()
        partitions = status["partitions"]
        assert isinstance(partitions, dict)
        assert sorted(partitions) == [str(p) for p in range(PARTITIONS)]
        elsewhere = [s for s in partitions.values() if not s["here"]]
        assert len(elsewhere) == PARTITIONS // 2
        # Held by the second process, committed by it, reported by the first.
        assert all(s["committed"] == s["end"] > 0 and s["lag"] == 0 for s in elsewhere)
        assert second.queue_status()["caught_up"]
        # What each process stored is its share; together, every event once.
        assert 0 < first.stats.events_stored < USERS
        assert first.stats.events_stored + second.stats.events_stored == USERS
    finally:
        first.stop()
        second.stop()
        first_backend.close()
        second_backend.close()


def test_not_caught_up_while_a_partition_held_elsewhere_lags(
    make_queue: Callable[..., NatsQueue],
    tmp_path: Path,
    new_database: Callable[[], str],
) -> None:
    """Events on a partition no one here consumes: the status says so."""
    url = new_database()
    backend = make_backend("postgres", tmp_path, lambda: url)
    queue = make_queue(partitions=PARTITIONS, lease_seconds=2.0)
    here = workers(queue, backend)
    # Another member holds half the partitions, and consumes nothing.
    idle = make_queue(partitions=PARTITIONS, lease_seconds=2.0).keeper(
        lambda partition, fence: None, lambda partition: None
    )
    idle.start()
    here.start()
    try:
        wait_for(lambda: len(here.owned) == PARTITIONS // 2, "the partitions are shared")
        user = next(
            f"user-{n}"
            for n in range(100)
            if partition_of(PROJECT, f"user-{n}", PARTITIONS) not in here.owned
        )
        queue.writer().append_sync(capture_record(event("$pageview", user, 0)))
        status = here.queue_status()
        lagging = status["partitions"][str(partition_of(PROJECT, user, PARTITIONS))]  # type: ignore[index]
        assert lagging == {
            "committed": 0,
            "end": lagging["end"],
            "lag": lagging["end"],
            "here": False,
        }
        assert lagging["end"] > 0
        assert status["caught_up"] is False
    finally:
        here.stop()
        idle.stop()
        backend.close()
