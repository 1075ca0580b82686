"""The durable queue on NATS JetStream (cluster mode).

``NatsQueue`` is what ``app.py`` builds from ``MAGPIE_QUEUE_URL``; it hands
out the pieces each role needs, all over one connection:

- capture: ``writer()``, a ``QueueWriter`` that splits records by partition;
- ingest workers: ``leases()``/``keeper(...)`` to own a fair share of the
  partitions, ``reader(partition)`` (a ``QueueReader``) with its consumer name
  ``consumer(partition)``, and ``processed()`` to pass events on;
- the ClickHouse loader: ``processed_reader()``.

docs/queue.md describes partitions, leases, fencing and deduplication.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from magpie.queue.nats.client import NatsClient
from magpie.queue.nats.leases import LeaseKeeper, LeaseLost, PartitionLeases, new_owner_id
from magpie.queue.nats.partitions import partition_of
from magpie.queue.nats.processed import ProcessedWriter
from magpie.queue.nats.reader import NatsStreamReader
from magpie.queue.nats.streams import (
    QueueMisconfigured,
    StreamLimits,
    StreamNames,
    ensure_events_stream,
    ensure_lease_bucket,
    ensure_processed_stream,
)
from magpie.queue.nats.url import InvalidQueueUrl, QueueUrl, parse_queue_url
from magpie.queue.nats.writer import NatsQueueWriter

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_PARTITIONS",
    "InvalidQueueUrl",
    "LeaseKeeper",
    "LeaseLost",
    "NatsQueue",
    "NatsQueueWriter",
    "NatsStreamReader",
    "PartitionLeases",
    "ProcessedWriter",
    "QueueMisconfigured",
    "QueueUrl",
    "StreamLimits",
    "parse_queue_url",
    "partition_of",
]

DEFAULT_PARTITIONS = 16
DEFAULT_LEASE_SECONDS = 10.0


class NatsQueue:
    def __init__(
        self,
        url: str | QueueUrl,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        limits: StreamLimits = StreamLimits(),  # noqa: B008 (frozen)
        request_timeout: float = 5.0,
        name: str = "magpie",
    ) -> None:
        if partitions < 1:
            raise ValueError("the queue needs at least one partition")
        self.url = parse_queue_url(url) if isinstance(url, str) else url
        self.names = StreamNames(self.url.stream)
        self.partitions = partitions
        self.lease_seconds = lease_seconds
        self.limits = limits
        self.client = NatsClient(self.url, request_timeout=request_timeout, name=name)
        self._writer = NatsQueueWriter(self.client, self.names, partitions, limits)
        self._processed = ProcessedWriter(self.client, self.names, limits)
        self._bucket: tuple[KeyValue, float] | None = None

    def writer(self) -> NatsQueueWriter:
        return self._writer

    def reader(self, partition: int) -> NatsStreamReader:
        if not 0 <= partition < self.partitions:
            raise ValueError(f"partition {partition} is not in 0..{self.partitions - 1}")

        async def ensure(js: JetStreamContext) -> None:
            await ensure_events_stream(js, self.names, self.partitions, self.limits)

        return NatsStreamReader(
            self.client, self.names.events, self.names.partition_subject(partition), ensure
        )

    @staticmethod
    def consumer(partition: int) -> str:
        """The name a worker commits a partition's position under."""
        return f"ingest:p{partition:02d}"

    def processed(self) -> ProcessedWriter:
        return self._processed

    def processed_reader(self) -> NatsStreamReader:
        async def ensure(js: JetStreamContext) -> None:
            await ensure_processed_stream(js, self.names, self.limits)

        return NatsStreamReader(
            self.client, self.names.processed, self.names.processed_subject, ensure
        )

    def leases(self, owner: str | None = None) -> PartitionLeases:
        return PartitionLeases(
            self.client, self._lease_bucket, owner or new_owner_id(), self.partitions
        )

    def keeper(
        self,
        on_gained: Callable[[int, Callable[[], None]], None],
        on_lost: Callable[[int], None],
        owner: str | None = None,
    ) -> LeaseKeeper:
        return LeaseKeeper(self.leases(owner), on_gained, on_lost)

    async def _lease_bucket(self, js: JetStreamContext) -> tuple[KeyValue, float]:
        if self._bucket is None:
            self._bucket = await ensure_lease_bucket(
                js, self.names, self.lease_seconds, self.limits.replicas
            )
        return self._bucket

    def close(self) -> None:
        self._writer.close()
        self.client.close()
