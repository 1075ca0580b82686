"""NATS going away while capture publishes: an error every time, never a silent loss.

These tests stop and start a nats-server of their own (``private_nats``), so
the machine's shared NATS is never disturbed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import orjson
import pytest

from magpie.errors import QueueUnavailable
from magpie.queue.nats import LeaseLost, NatsQueue
from tests.queue_nats.conftest import PrivateNats


def record(distinct_id: str, event_uuid: str) -> bytes:
    return orjson.dumps(
        {
            "project_id": 1,
            "received_at": "2026-03-01T12:00:00",
            "events": [{"uuid": event_uuid, "event": "e", "distinct_id": distinct_id}],
        }
    )


def stored_uuids(queue: NatsQueue, partitions: int) -> list[str]:
    found = []
    for partition in range(partitions):
        reader = queue.reader(partition)
        position = 0
        while entries := reader.read(position, max_records=500, max_bytes=1 << 24, timeout=0):
            found += [orjson.loads(e.payload)["events"][0]["uuid"] for e in entries]
            position = entries[-1].next_position
        reader.close()
    return found


def test_publishing_through_a_nats_restart(private_nats: PrivateNats) -> None:
    queue = NatsQueue(f"{private_nats.url}/restart", partitions=2, request_timeout=1.0)
    writer = queue.writer()
    reader = queue.reader(0)
    acknowledged: list[str] = []
    refused: list[str] = []

    def publish(n: int) -> None:
        for _ in range(n):
            event_uuid = str(uuid.uuid4())
            try:
                writer.append_sync(record(f"user-{len(acknowledged) % 7}", event_uuid))
                acknowledged.append(event_uuid)
            except QueueUnavailable:
                refused.append(event_uuid)

    publish(50)
    assert len(acknowledged) == 50
    # The worker has read partition 0 (its consumer lives in the server that dies).
    assert reader.read(0, max_records=10, max_bytes=1 << 20, timeout=0)
    private_nats.kill()
    publish(5)
    assert len(refused) == 5  # NATS is gone: every append says so (capture answers 503)
    with pytest.raises(QueueUnavailable):
        reader.read(0, max_records=10, max_bytes=1 << 20, timeout=0)

    private_nats.start()  # the same store: what was acknowledged is still there
    _until_connected(writer, acknowledged)
    publish(20)
    # The SDK retries the refused requests; those that did get stored are not doubled.
    for event_uuid in refused:
        _until_stored(writer, record("retry", event_uuid))
    stored = stored_uuids(queue, 2)
    assert sorted(stored) == sorted(acknowledged + refused)  # nothing lost, nothing twice
    # The worker's reader goes on where it was, with a new consumer.
    assert reader.read(0, max_records=500, max_bytes=1 << 24, timeout=1)
    reader.close()
    queue.close()


def test_an_unreachable_nats_at_start_is_an_error_then_recovers(
    private_nats: PrivateNats,
) -> None:
    private_nats.kill()
    queue = NatsQueue(f"{private_nats.url}/late", partitions=1, request_timeout=1.0)
    with pytest.raises(QueueUnavailable, match="unreachable"):
        queue.writer().append_sync(record("a", str(uuid.uuid4())))
    private_nats.start()
    event_uuid = str(uuid.uuid4())
    queue.writer().append_sync(record("a", event_uuid))
    assert stored_uuids(queue, 1) == [event_uuid]
    queue.close()


def _until_connected(writer, acknowledged: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Publish until the client has reconnected (it retries every half second)."""
    for _ in range(200):
        event_uuid = str(uuid.uuid4())
        try:
            writer.append_sync(record("probe", event_uuid))
        except QueueUnavailable:
            time.sleep(0.05)
            continue
        acknowledged.append(event_uuid)
        return
    pytest.fail("the writer never reconnected")


def _until_stored(writer, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        try:
            writer.append_sync(payload)
            return
        except QueueUnavailable:
            time.sleep(0.05)
    pytest.fail("a retried record was never acknowledged")


def test_a_worker_cut_off_from_nats_stops_its_partitions(private_nats: PrivateNats) -> None:
    queue = NatsQueue(
        f"{private_nats.url}/cutoff", partitions=3, lease_seconds=1, request_timeout=0.5
    )
    held: set[int] = set()
    lock = threading.Lock()

    def gained(partition: int, fence: Callable[[], None]) -> None:
        with lock:
            held.add(partition)

    def lost(partition: int) -> None:
        with lock:
            held.discard(partition)

    keeper = queue.keeper(gained, lost, owner="cut-off")
    keeper.start()
    _wait(lambda: held == {0, 1, 2}, "the leases")
    fence = keeper.leases.fence(0)
    private_nats.kill()
    # Its heartbeats fail; by its own clock the leases run out, no later than the
    # server would let another worker take them, and it stops every partition.
    _wait(lambda: held == set(), "the worker to give its partitions up")
    with pytest.raises((LeaseLost, QueueUnavailable)):
        fence()
    keeper.stop()
    queue.close()


def test_a_stream_deleted_under_the_writer_is_created_again(private_nats: PrivateNats) -> None:
    queue = NatsQueue(f"{private_nats.url}/recreated", partitions=1, request_timeout=1.0)
    writer = queue.writer()
    writer.append_sync(record("a", str(uuid.uuid4())))
    queue.client.call(lambda js: js.delete_stream("recreated"))
    with pytest.raises(QueueUnavailable):
        writer.append_sync(record("a", str(uuid.uuid4())))  # refused, never acknowledged
    event_uuid = str(uuid.uuid4())
    writer.append_sync(record("a", event_uuid))
    assert stored_uuids(queue, 1) == [event_uuid]
    queue.close()


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60  # a guard against hanging, not an expectation
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)
