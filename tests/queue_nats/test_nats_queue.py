"""The JetStream queue against the real NATS: routing, order, dedup, durability, reading."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable

import orjson
import pytest

from magpie.errors import QueueUnavailable
from magpie.queue.nats import NatsQueue, QueueMisconfigured, partition_of

PROJECT = 3


def record(*events: tuple[str, str], project_id: int = PROJECT) -> bytes:
    """A capture record as CaptureService writes it: (distinct_id, uuid) per event."""
    return orjson.dumps(
        {
            "project_id": project_id,
            "ip": "127.0.0.1",
            "sent_at": None,
            "received_at": "2026-03-01T12:00:00",
            "historical_migration": False,
            "events": [
                {"uuid": u, "event": "$pageview", "distinct_id": d, "properties": {}}
                for d, u in events
            ],
        }
    )


def events_of(queue: NatsQueue, partition: int, position: int = 0) -> list[tuple[str, str]]:
    reader = queue.reader(partition)
    try:
        found = []
        while entries := reader.read(position, max_records=100, max_bytes=1 << 20, timeout=0):
            for entry in entries:
                found += [
                    (e["distinct_id"], e["uuid"]) for e in orjson.loads(entry.payload)["events"]
                ]
            position = entries[-1].next_position
        return found
    finally:
        reader.close()


def new_uuid() -> str:
    return str(uuid.uuid4())


def test_each_event_lands_on_its_distinct_ids_partition_in_order(
    make_queue: Callable[..., NatsQueue],
) -> None:
    queue = make_queue(partitions=4)
    writer = queue.writer()
    people = [f"person-{i}" for i in range(12)]
    sent: list[tuple[str, str]] = []
    for batch in range(10):  # server-SDK batches mixing every distinct id
        events = [(people[(batch + i) % 12], new_uuid()) for i in range(12)]
        writer.append_sync(record(*events))
        sent += events
    for partition in range(4):
        got = events_of(queue, partition)
        assert {d for d, _ in got} == {
            d for d in people if partition_of(PROJECT, d, 4) == partition
        }
        # One distinct id's events come back in the order they were captured.
        expected = [e for e in sent if partition_of(PROJECT, e[0], 4) == partition]
        assert got == expected


def test_append_awaits_the_acknowledgement_on_capture_loop(
    make_queue: Callable[..., NatsQueue],
) -> None:
    queue = make_queue(partitions=2)
    writer = queue.writer()

    async def capture() -> list[int]:
        # Concurrent requests, as capture's event loop makes them.
        return await asyncio.gather(
            *(writer.append(record((f"d{i}", new_uuid()))) for i in range(50))
        )

    positions = asyncio.run(capture())
    assert len(set(positions)) == 50  # each acknowledged at a stream position of its own
    assert writer.end == max(positions)
    assert len(events_of(queue, 0)) + len(events_of(queue, 1)) == 50


def test_a_retried_publish_is_stored_once(make_queue: Callable[..., NatsQueue]) -> None:
    queue = make_queue(partitions=4)
    writer = queue.writer()
    events = [(f"d{i}", new_uuid()) for i in range(8)]
    first = writer.append_sync(record(*events))
    # The SDK retries the request (its answer was lost): another received_at,
    # the same events. JetStream keeps one copy of each message.
    retried = orjson.loads(record(*events))
    retried["received_at"] = "2026-03-01T12:00:09"
    again = writer.append_sync(orjson.dumps(retried))
    assert again == first
    stored = [e for p in range(4) for e in events_of(queue, p)]
    assert sorted(stored) == sorted(events)


def test_acknowledged_records_survive_a_new_connection(
    make_queue: Callable[..., NatsQueue],
) -> None:
    events = [("alice", new_uuid()), ("alice", new_uuid())]
    capture = make_queue(partitions=2)
    capture.writer().append_sync(record(*events))
    capture.close()
    worker = make_queue(partitions=2)  # another process's view, after capture went away
    assert events_of(worker, partition_of(PROJECT, "alice", 2)) == events


def test_reading_resumes_from_a_committed_position_and_rereads_after_a_rollback(
    make_queue: Callable[..., NatsQueue],
) -> None:
    queue = make_queue(partitions=1)
    writer = queue.writer()
    uuids = [new_uuid() for _ in range(10)]
    for u in uuids:
        writer.append_sync(record(("bob", u)))
    reader = queue.reader(0)
    first = reader.read(0, max_records=4, max_bytes=1 << 20, timeout=0)
    assert len(first) == 4
    more = reader.read(first[-1].next_position, max_records=4, max_bytes=1 << 20, timeout=0)
    # The transaction over both chunks rolled back: read again from the first.
    again = reader.read(first[0].position, max_records=10, max_bytes=1 << 20, timeout=0)
    assert [e.payload for e in again[:8]] == [e.payload for e in first + more]
    # A worker that committed after the fourth record resumes after it.
    resumed = events_of(queue, 0, first[-1].next_position)
    assert [u for _, u in resumed] == uuids[4:]
    reader.close()


def test_a_read_keeps_to_its_byte_limit_and_loses_nothing(
    make_queue: Callable[..., NatsQueue],
) -> None:
    queue = make_queue(partitions=1)
    writer = queue.writer()
    for i in range(6):
        writer.append_sync(record(("carol", f"u{i}")))
    reader = queue.reader(0)
    size = len(reader.read(0, max_records=1, max_bytes=1 << 20, timeout=0)[0].payload)
    position, got = 0, []
    while entries := reader.read(position, max_records=10, max_bytes=2 * size, timeout=0):
        assert len(entries) <= 2
        got += entries
        position = entries[-1].next_position
    assert [orjson.loads(e.payload)["events"][0]["uuid"] for e in got] == [
        f"u{i}" for i in range(6)
    ]
    reader.close()


def test_a_read_waits_for_the_next_record(make_queue: Callable[..., NatsQueue]) -> None:
    queue = make_queue(partitions=1)
    reader = queue.reader(0)
    assert reader.read(0, max_records=10, max_bytes=1 << 20, timeout=0) == []
    assert (reader.start, reader.end) == (0, 0)
    appended: list[int] = []
    # Appended while the reader waits (or just before: either way it is read).
    appender = threading.Thread(
        target=lambda: appended.append(queue.writer().append_sync(record(("dave", "u1"))))
    )
    appender.start()
    [entry] = reader.read(0, max_records=10, max_bytes=1 << 20, timeout=30)
    appender.join()
    assert entry.next_position == appended[0] == reader.end
    reader.close()


def test_release_purges_what_was_consumed_but_keeps_the_end(
    make_queue: Callable[..., NatsQueue],
) -> None:
    queue = make_queue(partitions=1)
    writer = queue.writer()
    for i in range(5):
        writer.append_sync(record(("erin", f"u{i}")))
    reader = queue.reader(0)
    entries = reader.read(0, max_records=10, max_bytes=1 << 20, timeout=0)
    end = entries[-1].next_position
    reader.release(end)
    # The last consumed record stays, so the end is never behind the committed position.
    assert (reader.start, reader.end) == (entries[-1].position, end)
    assert reader.read(end, max_records=10, max_bytes=1 << 20, timeout=0) == []
    reader.close()


def test_releasing_the_first_message_keeps_every_unread_one(
    make_queue: Callable[..., NatsQueue],
) -> None:
    """JetStream reads a purge up to sequence 1 as a purge of the whole subject: a
    reader that released after consuming only the stream's first message lost
    everything published after it (the loader lost half a run's events so)."""
    queue = make_queue(partitions=1)
    writer, processed = queue.writer(), queue.processed()
    for i in range(4):
        writer.append_sync(record(("erin", f"u{i}")))
        processed.publish_processed(f"batch-{i}", f"p{i}".encode())
    for reader in (queue.reader(0), queue.processed_reader()):
        [first] = reader.read(0, max_records=1, max_bytes=1 << 20, timeout=0)
        assert first.position == 1
        reader.release(first.next_position)
        rest = reader.read(first.next_position, max_records=10, max_bytes=1 << 20, timeout=0)
        assert [e.position for e in rest] == [2, 3, 4]
        assert (reader.start, reader.end) == (1, 5)
        reader.close()


def test_processed_batches_are_published_once_and_read_in_order(
    make_queue: Callable[..., NatsQueue],
) -> None:
    queue = make_queue()
    processed = queue.processed()
    first = processed.publish_processed("batch-1", b"one")
    assert processed.publish_processed("batch-1", b"one") == first  # a retried publish
    processed.publish_processed("batch-2", b"two")
    reader = queue.processed_reader()
    entries = reader.read(0, max_records=10, max_bytes=1 << 20, timeout=0)
    assert [e.payload for e in entries] == [b"one", b"two"]
    reader.close()


def test_a_process_with_another_partition_count_is_refused(
    make_queue: Callable[..., NatsQueue],
) -> None:
    make_queue(partitions=4).writer().append_sync(record(("frank", "u1")))
    other = make_queue(partitions=8)
    with pytest.raises(QueueMisconfigured, match="4 partitions"):
        other.writer().append_sync(record(("frank", "u2")))


def test_processes_starting_together_all_create_the_stream(
    make_queue: Callable[..., NatsQueue],
) -> None:
    # Four capture processes (four connections) whose first appends race to
    # create the stream, and four workers creating the lease bucket.
    queues = [make_queue(partitions=4) for _ in range(4)]
    results: list[object] = []

    def first_use(queue: NatsQueue, n: int) -> None:
        try:
            results.append(queue.writer().append_sync(record((f"p{n}", u))))
            leases = queue.leases(f"worker-{n}")
            results.append(_patiently(leases.heartbeat))
        except Exception as exc:  # reported below
            results.append(exc)

    u = new_uuid()  # the same event from every process: stored once

    threads = [threading.Thread(target=first_use, args=(q, n)) for n, q in enumerate(queues)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [r for r in results if isinstance(r, Exception)]
    assert len(results) == 8
    assert sum(len(events_of(queues[0], p)) for p in range(4)) == 1


def _patiently(work: Callable[[], object]) -> object:
    """A heartbeat may find the lease bucket another process has only just created
    not yet taking messages; the keeper tries again at its next beat, as does this."""
    for _ in range(4):
        try:
            return work()
        except QueueUnavailable:
            continue
    return work()


def test_a_unit_larger_than_a_nats_message_is_published_in_parts(
    make_queue: Callable[..., NatsQueue],
) -> None:
    """A unit's events may come to more than NATS's max_payload (1 MB): the sink
    publishes them in several records, which the loader reads back whole."""
    from datetime import datetime

    from magpie.backends import PROCESSED_RECORD_BYTES
    from magpie.store.event_columns import EVENT_SCHEMA
    from magpie.store.postgres.publishing_sink import PublishingSink
    from magpie.store.processed_events import decode

    queue = make_queue()
    processed = queue.processed()
    sink = PublishingSink(processed.publish_processed, max_record_bytes=PROCESSED_RECORD_BYTES)
    count, now = 3000, datetime(2026, 3, 1, 12)
    uuids = [str(uuid.uuid4()) for _ in range(count)]
    columns = {field.name: [None] * count for field in EVENT_SCHEMA}
    columns.update(
        project_id=[PROJECT] * count,
        uuid=uuids,
        event=["e"] * count,
        distinct_id=["d"] * count,
        timestamp=[now] * count,
        created_at=[now] * count,
        properties=[orjson.dumps({"blob": uuid.uuid4().hex * 16}).decode()] * count,
    )
    batch = uuid.uuid4()
    assert sink.append(columns, batch) == count  # over 1.5 MB in all: no MaxPayloadError
    reader = queue.processed_reader()
    entries = reader.read(0, max_records=100, max_bytes=64 << 20, timeout=0)
    records = [decode(e.payload) for e in entries]
    assert len(records) > 1 and {r.batch for r in records} == {batch}
    assert all(len(e.payload) <= PROCESSED_RECORD_BYTES for e in entries)
    assert [u for r in records for u in r.events["uuid"].to_pylist()] == uuids
    reader.close()
