"""Throughput of the JetStream queue: capture's appends, then the workers' reads.

    python bench/nats_queue.py --events 100000 [--url nats://127.0.0.1:4222]

Publishes capture records (``--per-record`` events each, distinct ids drawn
from ``--people``) from ``--concurrency`` requests at once on one event loop,
as a capture process does, then reads every partition back as the ingest
workers would. Works under a stream of its own, deleted at the end. Prints
the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import time
import uuid
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from magpie.queue.nats import NatsQueue  # noqa: E402


def records(events: int, per_record: int, people: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for start in range(0, events, per_record):
        batch = [
            {
                "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                "event": "$pageview",
                "distinct_id": f"user-{rng.randrange(people)}",
                "timestamp": "2026-03-01T12:00:00",
                "properties": {
                    "$current_url": "https://example.com/pricing",
                    "$browser": "Firefox",
                },
            }
            for _ in range(min(per_record, events - start))
        ]
        out.append(
            orjson.dumps(
                {
                    "project_id": 1,
                    "ip": "127.0.0.1",
                    "sent_at": None,
                    "received_at": "2026-03-01T12:00:00",
                    "historical_migration": False,
                    "events": batch,
                }
            )
        )
    return out


async def publish(queue: NatsQueue, payloads: list[bytes], concurrency: int) -> float:
    writer = queue.writer()
    await writer.append(payloads[0])  # creates the stream; not timed
    pending = iter(payloads[1:])

    async def client() -> None:
        for payload in pending:
            await writer.append(payload)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - start


def read_all(queue: NatsQueue) -> tuple[float, int, int]:
    start = time.perf_counter()
    messages = events = 0
    for partition in range(queue.partitions):
        reader = queue.reader(partition)
        position = 0
        while entries := reader.read(position, max_records=1000, max_bytes=16 << 20, timeout=0):
            messages += len(entries)
            events += sum(len(orjson.loads(e.payload)["events"]) for e in entries)
            position = entries[-1].next_position
        reader.close()
    return time.perf_counter() - start, messages, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--per-record", type=int, default=10)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    # As the server runs (app.tune_interpreter): capture's loop and the queue
    # connection's loop are two threads handing work to each other.
    sys.setswitchinterval(0.0005)

    payloads = records(args.events, args.per_record, args.people)
    queue = NatsQueue(f"{args.url}/bench_{secrets.token_hex(4)}", partitions=args.partitions)
    try:
        publish_seconds = asyncio.run(publish(queue, payloads, args.concurrency))
        read_seconds, messages, events = read_all(queue)
    finally:
        queue.client.call(lambda js: js.delete_stream(queue.names.events))
        queue.close()
    published = args.events - len(orjson.loads(payloads[0])["events"])
    print(
        json.dumps(
            {
                "events": args.events,
                "events_per_record": args.per_record,
                "partitions": args.partitions,
                "concurrency": args.concurrency,
                "append_records_per_s": round((len(payloads) - 1) / publish_seconds),
                "append_events_per_s": round(published / publish_seconds),
                "messages_stored": messages,
                "read_messages_per_s": round(messages / read_seconds),
                "read_events_per_s": round(events / read_seconds),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
