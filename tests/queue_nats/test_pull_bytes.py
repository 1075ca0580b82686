"""A read asks the server for a bounded number of bytes, whatever its own limits.

The loader reads up to 2,000 processed records (256 MB) at a time. Its pull
requests used to ask for a count of messages only, so with a backlog the
server sent the whole of it at once; past the client's max_pending (64 MB) the
server cut the connection as a slow consumer, and every reader, lease
heartbeat and publish of the process failed with it (seen in bench/cluster.py
at 100,000 events: the status answered 503 "the queue did not answer")."""

from __future__ import annotations

from collections.abc import Callable

from magpie.queue.nats import NatsQueue
from magpie.queue.nats.reader import PULL_BYTES

RECORD_BYTES = 600 << 10
RECORDS = 24  # 14 MB: more than one pull request may bring


def test_a_backlog_arrives_in_bounded_pulls_in_order(make_queue: Callable[..., NatsQueue]) -> None:
    queue = make_queue()
    writer = queue.processed()
    for n in range(RECORDS):
        writer.publish_processed(f"batch-{n}", n.to_bytes(4, "big") * (RECORD_BYTES // 4))
    reader = queue.processed_reader()
    largest = queue.client.nc.max_payload
    position, seen, reads = 0, [], 0
    while len(seen) < RECORDS:
        entries = reader.read(position, max_records=2_000, max_bytes=256 << 20)
        assert entries, f"a read brought nothing after {len(seen)} of {RECORDS} records"
        reads += 1
        # The server's side of the bound: one request's bytes (what may sit unread).
        assert sum(len(e.payload) for e in entries) <= max(PULL_BYTES, largest) + largest
        seen += [int.from_bytes(e.payload[:4], "big") for e in entries]
        position = entries[-1].next_position
    assert seen == list(range(RECORDS))  # nothing skipped or repeated across the pulls
    assert reads >= 2
    assert reader.read(position, timeout=0) == []
    reader.close()
