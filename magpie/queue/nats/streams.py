"""The JetStream streams and bucket Magpie uses under one name ``S`` (the URL's path).

| what | JetStream name | subjects |
|---|---|---|
| capture records, by partition | stream ``S`` | ``S.events.p00`` … one per partition |
| processed events (worker → ClickHouse loader) | stream ``S_processed`` | ``S.processed`` |
| partition leases | KV bucket ``S_leases`` | ``$KV.S_leases.>`` |

Every process creates what it uses on first use, with the same configuration,
so several starting together all succeed (JetStream accepts the creation of a
stream that exists with an identical configuration). The partition subjects
are listed one by one, so the stream itself records how many partitions there
are: a process configured with another count is refused with a clear error
instead of routing events to partitions no worker reads.

Limits: file storage; nothing expires by age; a stream that reaches its byte
limit refuses new records (capture answers 503) rather than discarding
records not yet consumed. Consumed records are purged by the readers
(``release``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

# JetStream's "stream name already in use with a different configuration".
_NAME_IN_USE = 10058


class QueueMisconfigured(RuntimeError):
    """The streams on the server disagree with this process's settings."""


@dataclass(frozen=True)
class StreamLimits:
    # Seconds within which a record published again with the same Nats-Msg-Id
    # is stored once (a capture retry after a lost acknowledgement).
    duplicate_window: float = 120.0
    # Bytes a stream may hold before it refuses records; -1: no limit but the
    # server's own (max_file_store).
    max_bytes: int = -1
    # Copies of each stream in a NATS cluster (1 on a single server).
    replicas: int = 1


@dataclass(frozen=True)
class StreamNames:
    base: str

    @property
    def events(self) -> str:
        return self.base

    def partition_subject(self, partition: int) -> str:
        return f"{self.base}.events.p{partition:02d}"

    @property
    def processed(self) -> str:
        return f"{self.base}_processed"

    @property
    def processed_subject(self) -> str:
        return f"{self.base}.processed"

    @property
    def leases(self) -> str:
        return f"{self.base}_leases"


async def ensure_events_stream(
    js: JetStreamContext, names: StreamNames, partitions: int, limits: StreamLimits
) -> None:
    subjects = [names.partition_subject(p) for p in range(partitions)]
    info = await _ensure_stream(js, _config(names.events, subjects, limits))
    found = info.config.subjects or []
    if found != subjects:
        raise QueueMisconfigured(
            f"the queue stream {names.events!r} has {len(found)} partitions, but this process is"
            f" configured with {partitions} (MAGPIE_QUEUE_PARTITIONS): every capture process and"
            " worker must use the stream's count"
        )


async def ensure_processed_stream(
    js: JetStreamContext, names: StreamNames, limits: StreamLimits
) -> None:
    await _ensure_stream(js, _config(names.processed, [names.processed_subject], limits))


async def ensure_lease_bucket(
    js: JetStreamContext, names: StreamNames, lease_seconds: float, replicas: int
) -> tuple[KeyValue, float]:
    """The lease bucket and its lease time: a lease is a key that expires ``ttl``
    after its last renewal, by the server's clock (the bucket's max age)."""
    try:
        kv = await js.create_key_value(
            KeyValueConfig(
                bucket=names.leases,
                history=1,
                ttl=lease_seconds,
                storage=StorageType.FILE,
                replicas=replicas,
            )
        )
    except nats.js.errors.APIError as exc:
        if exc.err_code != _NAME_IN_USE:
            raise
        kv = await js.key_value(names.leases)
    status = await kv.status()
    ttl = float(status.ttl or 0)
    if ttl <= 0:
        raise QueueMisconfigured(f"the lease bucket {names.leases!r} has no TTL; delete it")
    if abs(ttl - lease_seconds) > 1e-3:
        log.warning(
            "lease bucket %s keeps leases for %.1f s, not %.1f s; using the bucket's",
            names.leases,
            ttl,
            lease_seconds,
        )
    return kv, ttl


def _config(name: str, subjects: list[str], limits: StreamLimits) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_bytes=limits.max_bytes,
        max_age=0,
        duplicate_window=limits.duplicate_window,
        num_replicas=limits.replicas,
    )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamInfo:
    assert config.name is not None
    try:
        return await js.add_stream(config)
    except nats.js.errors.APIError as exc:
        if exc.err_code != _NAME_IN_USE:
            raise
    # It exists with other limits (set by an operator, or an older Magpie): keep them.
    info = await js.stream_info(config.name)
    log.info("queue stream %s exists with its own limits; keeping them", config.name)
    return info
