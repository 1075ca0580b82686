"""Processed events, from the ingest workers to the ClickHouse loader.

A worker publishes each batch of processed events under its batch id, which
is the message's ``Nats-Msg-Id``: a worker that publishes a batch again (its
acknowledgement was lost) stores it once. The loader reads the stream with
the same reader as the partitions (``NatsStreamReader``), its position being
the stream sequence, committed where it commits what it loaded.
"""

from __future__ import annotations

from nats.js import JetStreamContext

from magpie.queue.nats.client import NatsClient
from magpie.queue.nats.streams import StreamLimits, StreamNames, ensure_processed_stream


class ProcessedWriter:
    def __init__(self, client: NatsClient, names: StreamNames, limits: StreamLimits) -> None:
        self._client = client
        self._names = names
        self._limits = limits
        self._ready = False

    def publish_processed(self, batch_id: str, payload: bytes) -> int:
        """Store one batch; returns the position after it, once JetStream acknowledged it."""
        return self._client.call(lambda js: self._publish(js, batch_id, payload))

    async def _publish(self, js: JetStreamContext, batch_id: str, payload: bytes) -> int:
        if not self._ready:
            await ensure_processed_stream(js, self._names, self._limits)
            self._ready = True
        ack = await js.publish(
            self._names.processed_subject,
            payload,
            stream=self._names.processed,
            headers={"Nats-Msg-Id": batch_id},
        )
        return int(ack.seq) + 1
