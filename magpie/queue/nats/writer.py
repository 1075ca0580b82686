"""Capture's side of the JetStream queue: a record is durable once JetStream acknowledged it.

``append`` splits a capture record by partition (``partitions.py``), publishes
every part with its ``Nats-Msg-Id`` and returns only after JetStream has
acknowledged them all: stored on disk (file storage) and, in a NATS cluster,
on a majority of its replicas. If any part fails, ``append`` raises
``QueueUnavailable`` and capture answers 503; the SDK's retry publishes the
same message ids again, so the parts that did get in are not stored twice.
"""

from __future__ import annotations

import asyncio
import logging

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck

from magpie.errors import QueueUnavailable
from magpie.queue.nats.client import NatsClient
from magpie.queue.nats.partitions import Message, split_record
from magpie.queue.nats.streams import StreamLimits, StreamNames, ensure_events_stream

log = logging.getLogger(__name__)

_MSG_ID = "Nats-Msg-Id"


class NatsQueueWriter:
    def __init__(
        self,
        client: NatsClient,
        names: StreamNames,
        partitions: int,
        limits: StreamLimits,
    ) -> None:
        self._client = client
        self._names = names
        self.partitions = partitions
        self._limits = limits
        self._ready = False
        self._end = 0

    async def append(self, payload: bytes) -> int:
        """Store one capture record; returns the stream position after it, once acknowledged."""
        return await self._client.acall(lambda js: self._publish_record(js, payload))

    def append_sync(self, payload: bytes) -> int:
        return self._client.call(lambda js: self._publish_record(js, payload))

    @property
    def end(self) -> int:
        """The stream position after the last record this writer had acknowledged."""
        return self._end

    def close(self) -> None:
        """The client is shared (``NatsQueue`` closes it)."""

    async def _publish_record(self, js: JetStreamContext, payload: bytes) -> int:
        if not self._ready:
            await ensure_events_stream(js, self._names, self.partitions, self._limits)
            self._ready = True
        messages = split_record(payload, self.partitions, self._client.nc.max_payload)
        try:
            # Sent back to back, acknowledged together: one round trip for the record.
            pending = [await self._send(js, m) for m in messages]
            acks = await asyncio.wait_for(
                asyncio.gather(*pending, return_exceptions=True), self._client.request_timeout
            )
        except (TimeoutError, nats.js.errors.TooManyStalledMsgsError) as exc:
            raise _unavailable(exc, len(messages), len(messages)) from exc
        failures = [a for a in acks if isinstance(a, BaseException)]
        if failures:
            if any(isinstance(f, nats.js.errors.NoStreamResponseError) for f in failures):
                # The stream is gone (deleted by hand, or JetStream lost its store):
                # create it again before the next record.
                self._ready = False
            raise _unavailable(failures[0], len(failures), len(messages)) from failures[0]
        end = max(a.seq for a in acks if isinstance(a, PubAck)) + 1
        self._end = max(self._end, end)
        return end

    async def _send(self, js: JetStreamContext, message: Message) -> asyncio.Future[PubAck]:
        return await js.publish_async(
            self._names.partition_subject(message.partition),
            message.payload,
            wait_stall=self._client.request_timeout,
            stream=self._names.events,
            headers={_MSG_ID: message.msg_id},
        )


def _unavailable(error: BaseException, failed: int, parts: int) -> QueueUnavailable:
    if isinstance(error, QueueUnavailable):
        return error
    if isinstance(error, nats.js.errors.APIError):
        # The stream refused the record (full, or misconfigured): say so in the log,
        # keep the caller's answer a plain 503.
        log.error("queue refused a record (%d of %d parts): %s", failed, parts, error)
        return QueueUnavailable("the queue cannot store events now")
    log.warning("queue publish failed (%d of %d parts): %r", failed, parts, error)
    return QueueUnavailable("the queue did not acknowledge the events")
