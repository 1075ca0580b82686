"""Capture's side of the JetStream queue: a record is durable once JetStream acknowledged it.

``append`` splits a capture record by partition (``partitions.py``), publishes
every part with its ``Nats-Msg-Id`` and returns only after JetStream has
acknowledged them all: in its store and, in a NATS cluster, on a majority of
the stream's replicas. If any part fails, ``append`` raises
``QueueUnavailable`` and capture answers 503; the SDK's retry publishes the
same message ids again, so the parts that did get in are not stored twice.

Appends are grouped, as the local log groups its fsyncs: every record that
arrives while the connection's loop is busy is published in one go, back to
back, and their acknowledgements awaited together. One wake-up of the loop
then serves many requests, and the publishes of one group overlap those of
the next.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck

from magpie.errors import MagpieError, QueueUnavailable
from magpie.queue.nats.client import UNREACHABLE, NatsClient
from magpie.queue.nats.partitions import Message, split_record
from magpie.queue.nats.streams import (
    QueueMisconfigured,
    StreamLimits,
    StreamNames,
    ensure_events_stream,
)

log = logging.getLogger(__name__)

_MSG_ID = "Nats-Msg-Id"

Pending = tuple[bytes, concurrent.futures.Future[int]]


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
        self._lock = threading.Lock()
        self._pending: list[Pending] = []
        self._woken = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def append(self, payload: bytes) -> int:
        """Store one capture record; returns the stream position after it, once acknowledged."""
        return await asyncio.wrap_future(self.submit(payload))

    def append_sync(self, payload: bytes) -> int:
        return self.submit(payload).result()

    def submit(self, payload: bytes) -> concurrent.futures.Future[int]:
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        with self._lock:
            self._pending.append((payload, future))
            wake, self._woken = not self._woken, True
        if wake:
            self._client.soon(self._take_pending)
        return future

    @property
    def end(self) -> int:
        """The stream position after the last record this writer had acknowledged."""
        return self._end

    def close(self) -> None:
        """Refuse what is still waiting (the client is shared: ``NatsQueue`` closes it)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for _, future in pending:
            future.set_exception(QueueUnavailable("the queue is shutting down"))

    # -- on the client's loop ------------------------------------------------

    def _take_pending(self) -> None:
        with self._lock:
            group, self._pending = self._pending, []
            self._woken = False
        if group:
            task = asyncio.ensure_future(self._publish_group(group))
            self._tasks.add(task)  # held until done (the loop keeps only weak references)
            task.add_done_callback(self._tasks.discard)

    async def _publish_group(self, group: list[Pending]) -> None:
        try:
            js = await self._client.jetstream()
            if not self._ready:
                await ensure_events_stream(js, self._names, self.partitions, self._limits)
                self._ready = True
        except Exception as exc:
            for _, future in group:
                future.set_exception(self._error(exc))
            return
        sent: list[tuple[concurrent.futures.Future[int], list[asyncio.Future[PubAck]]]] = []
        for payload, future in group:
            try:
                messages = split_record(payload, self.partitions, self._client.nc.max_payload)
                sent.append((future, [await self._send(js, m) for m in messages]))
            except Exception as exc:  # too large, or NATS gone mid-way: this record fails
                future.set_exception(self._error(exc))
        acks = [ack for _, record_acks in sent for ack in record_acks]
        if acks:
            await asyncio.wait(acks, timeout=self._client.request_timeout)
        for future, record_acks in sent:
            self._settle(future, record_acks)

    async def _send(self, js: JetStreamContext, message: Message) -> asyncio.Future[PubAck]:
        return await js.publish_async(
            self._names.partition_subject(message.partition),
            message.payload,
            # No wait_stall: it costs a task per publish, and a publish stalled on
            # the pending limit is cancelled with its group's acknowledgements.
            stream=self._names.events,
            headers={_MSG_ID: message.msg_id},
        )

    def _settle(
        self, future: concurrent.futures.Future[int], acks: list[asyncio.Future[PubAck]]
    ) -> None:
        """A record is stored when every part of it is acknowledged."""
        late = [a for a in acks if not a.done()]
        for ack in late:
            ack.cancel()
        if late:
            future.set_exception(QueueUnavailable("the queue did not acknowledge the events"))
            return
        failures = [a.exception() for a in acks if a.exception() is not None]
        if failures:
            future.set_exception(self._error(failures[0]))  # type: ignore[arg-type]
            return
        end = max(a.result().seq for a in acks) + 1
        self._end = max(self._end, end)
        future.set_result(end)

    def _error(self, error: BaseException) -> BaseException:
        if isinstance(error, MagpieError | QueueMisconfigured):
            return error  # too large (413), already unavailable, or misconfigured
        if isinstance(error, nats.js.errors.NoStreamResponseError):
            # The stream is gone (deleted by hand, or JetStream lost its store):
            # create it again before the next record.
            self._ready = False
        if isinstance(error, UNREACHABLE):
            return self._client.unavailable(error)
        if isinstance(error, nats.js.errors.APIError):
            # The stream refused the record (full, or misconfigured): say so in the
            # log, keep the caller's answer a plain 503.
            log.error("queue refused a record: %s", error)
            return QueueUnavailable("the queue cannot store events now")
        log.warning("queue publish failed: %r", error)
        return QueueUnavailable("the queue did not acknowledge the events")
