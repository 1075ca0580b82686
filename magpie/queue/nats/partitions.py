"""Which partition a record goes to, and how a capture record is split across them.

A partition is chosen by ``crc32(f"{project_id}:{distinct_id}") % partitions``
(zlib's CRC-32 of the UTF-8 key): stable across processes, machines and Python
versions, unlike ``hash()``. The key is PostHog's ``token:distinct_id`` with
the token replaced by the project it names, so a project's distinct id keeps
its partition if the project's token is ever rotated.

A capture record holds a request's events, which may belong to many distinct
ids (a server SDK's batch). It becomes one message per partition it touches,
holding the record's head (project, ip, sent_at, received_at …) and that
partition's events in their order, so each distinct id's events stay in order
on one partition. A drop record (a project over quota) has no distinct id and
goes to the partition of ``f"{project_id}:"``.

Each message carries a ``Nats-Msg-Id`` from its events' uuids: a capture that
publishes a request again (its acknowledgement was lost, the SDK retried)
publishes the same ids, and JetStream stores each once within its duplicate
window. A record without uuids (a drop record) is identified by its content.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from magpie.errors import PayloadTooLarge

# Room for the message's headers and the JSON around the events.
_FRAMING = 1024


@dataclass(frozen=True)
class Message:
    partition: int
    msg_id: str
    payload: bytes


def partition_of(project_id: object, distinct_id: str, partitions: int) -> int:
    return zlib.crc32(f"{project_id}:{distinct_id}".encode()) % partitions


def split_record(payload: bytes, partitions: int, max_payload: int) -> list[Message]:
    """The messages one capture record becomes (see the module's docstring)."""
    record = orjson.loads(payload)
    project_id = record.get("project_id")
    events = record.get("events")
    if not isinstance(events, list):
        partition = partition_of(project_id, "", partitions)
        digest = hashlib.blake2b(payload, digest_size=16).hexdigest()
        return [Message(partition, f"{project_id}:record:{digest}", payload)]
    head = {k: v for k, v in record.items() if k != "events"}
    groups: dict[int, list[Any]] = {}
    for event in events:
        distinct_id = event.get("distinct_id") if isinstance(event, dict) else None
        groups.setdefault(partition_of(project_id, str(distinct_id), partitions), []).append(event)
    # A part of a record that fits is no larger than the record: measure only when it does not.
    fits = len(payload) + _FRAMING <= max_payload
    messages = []
    for partition, group in groups.items():
        for chunk in [group] if fits else _chunks(group, max_payload):
            body = orjson.dumps({**head, "events": chunk})
            messages.append(Message(partition, _events_id(project_id, chunk, body), body))
    return messages


def _chunks(events: list[Any], max_payload: int) -> Iterator[list[Any]]:
    """The events in runs whose message fits the server's max_payload."""
    limit = max_payload - _FRAMING
    chunk: list[Any] = []
    size = 0
    for event in events:
        length = len(orjson.dumps(event)) + 1
        if length > limit:
            raise PayloadTooLarge(
                f"an event of {length} bytes is larger than the queue accepts"
                f" (NATS max_payload {max_payload} bytes)"
            )
        if chunk and size + length > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += length
    if chunk:
        yield chunk


def _events_id(project_id: object, events: list[Any], body: bytes) -> str:
    uuids = [e.get("uuid") if isinstance(e, dict) else None for e in events]
    if not all(isinstance(u, str) for u in uuids):
        return f"{project_id}:record:{hashlib.blake2b(body, digest_size=16).hexdigest()}"
    if len(uuids) == 1:
        return f"{project_id}:{uuids[0]}"
    joined = "\n".join(uuids).encode()  # type: ignore[arg-type]
    return f"{project_id}:events:{hashlib.blake2b(joined, digest_size=16).hexdigest()}"
