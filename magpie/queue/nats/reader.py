"""The worker's side: one subject of one stream read in order, positioned by stream sequence.

An ``Entry``'s position is its message's stream sequence and ``next_position``
that plus one, so the position a worker commits (``ingest:p03`` in
PostgreSQL, with what it wrote) says exactly which records are done: after a
crash or a takeover, reading resumes at the first record not committed.
A partition's sequences are not contiguous (the partitions share one
stream), which is why "from position P" means "the first message of this
subject at or after P".

Reading goes through an ephemeral pull consumer of this subject, started at
the position asked for and acknowledging nothing (the position is the
acknowledgement). A read from anywhere else than where the last one ended (a
transaction rolled back and is read again) starts a new consumer there. Every
message's consumer sequence is checked to follow the previous one, so a
message lost between the server and this reader (the connection dropped
mid-batch) is noticed and read again, never skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from magpie.queue import Entry
from magpie.queue.nats.client import NatsClient

log = logging.getLogger(__name__)

# Removed by the server when no read came for this long (a reader that died).
_INACTIVE_SECONDS = 120.0
# Purging consumed messages is a stream write: at most this often per reader.
_RELEASE_EVERY_SECONDS = 1.0
# How long reads may come back empty before the consumer is checked against the stream.
_STUCK_CHECK_SECONDS = 5.0
# Status messages: no messages (no_wait), the request expired, and a heartbeat.
_REQUEST_ENDED = ("404", "408")
_HEARTBEAT = "100"
# The server ends a request whose next message would take it past its max_bytes
# with a 409 of this description: the request is done, not the consumer.
_MAX_BYTES_REACHED = "Message Size Exceeds MaxBytes"
# Bytes one pull request may bring at most. The server sends a request's whole
# batch at once, and a client that has more than its max_pending (64 MB by
# default) unread is disconnected as a slow consumer: every pull, lease
# heartbeat and publish on that connection then fails until it reconnects.
# One process's readers share a connection (16 partitions and the loader in
# ``magpie serve``), so each asks for a few megabytes, not for the read's
# ``max_bytes`` (the loader's is 256 MB) or a count of messages of any size.
PULL_BYTES = 8 << 20
# What the server counts of a message beyond its payload (subject, reply, headers).
_HEADROOM = 4 << 10


class ConsumerLost(RuntimeError):
    """The server ended a pull request otherwise than by its limits (the consumer
    was deleted, or NATS restarted without it)."""


class NatsStreamReader:
    """A ``QueueReader`` over one subject (a partition, or the processed events)."""

    def __init__(
        self,
        client: NatsClient,
        stream: str,
        subject: str,
        ensure: Callable[[JetStreamContext], Awaitable[None]],
        *,
        pull_bytes: int = PULL_BYTES,
    ) -> None:
        self._client = client
        self._pull_bytes = pull_bytes
        self.stream = stream
        self.subject = subject
        self._ensure = ensure
        self._ready = False
        self._sub: Subscription | None = None
        self._next: str | None = None  # where pull requests go
        self._consumer: str | None = None
        self._cursor = 0  # where the consumer's next message is at or after
        self._delivered = 0  # the consumer sequence of its last message
        self._held: list[Msg] = []  # delivered past a read's byte limit, in order
        self._restart = False
        self._idle_since: float | None = None
        self._answer: _Answer | None = None  # the pull request in flight
        self._released = 0
        self._released_at = 0.0

    # -- QueueReader ---------------------------------------------------------

    def read(
        self,
        position: int,
        *,
        max_records: int = 1000,
        max_bytes: int = 16 << 20,
        timeout: float = 0.0,
    ) -> list[Entry]:
        return self._client.call(
            lambda js: self._read(js, position, max_records, max_bytes, timeout)
        )

    def release(self, position: int) -> None:
        """Purge this subject's messages before the last one consumed. That one stays,
        so ``end`` never falls below a committed position."""
        now = time.monotonic()
        keep = position - 1  # the last message consumed: purged are those before it
        # JetStream reads a purge from sequence 0 or 1 as "no sequence given" and
        # purges the subject whole, unread messages with it; and before sequence 1
        # there is nothing to purge anyway.
        if keep <= max(self._released, 1) or now - self._released_at < _RELEASE_EVERY_SECONDS:
            return
        self._client.call(lambda js: js.purge_stream(self.stream, seq=keep, subject=self.subject))
        self._released, self._released_at = keep, now

    @property
    def end(self) -> int:
        """The position after this subject's last message (0 when it has none)."""
        return self._client.call(self._end)

    @property
    def start(self) -> int:
        """The position of this subject's first message kept (0 when it has none)."""
        return self._client.call(self._start)

    def close(self) -> None:
        try:
            self._client.call(self._drop_consumer)
        except Exception as exc:  # NATS gone: the server drops it once inactive
            log.debug("queue reader close: %s", exc)

    # -- on the client's loop ------------------------------------------------

    async def _read(
        self, js: JetStreamContext, position: int, max_records: int, max_bytes: int, timeout: float
    ) -> list[Entry]:
        await self._ready_stream(js)
        if self._sub is None or self._restart or position != self._cursor:
            await self._start_consumer(js, position)
        messages, self._held = self._held, []
        if not messages:
            try:
                messages = await self._fetch(max_records, max_bytes, timeout)
            except ConsumerLost as lost:
                # Gone with a NATS restart, or removed as idle: once more, anew.
                log.info("queue reader: %s; starting a new consumer", lost)
                await self._start_consumer(js, position)
                messages = await self._fetch_or_restart(max_records, max_bytes, timeout)
            except Exception:
                # A request may still be out: the next read starts anew from the cursor.
                self._restart = True
                raise
            if not messages:
                await self._check_not_stuck(js)
                return []
        self._idle_since = None
        return self._entries(messages, max_records, max_bytes)

    async def _fetch_or_restart(self, batch: int, max_bytes: int, wait: float) -> list[Msg]:
        try:
            return await self._fetch(batch, max_bytes, wait)
        except Exception:
            self._restart = True
            raise

    async def _fetch(self, batch: int, max_bytes: int, wait: float) -> list[Msg]:
        """What is there now; else the first message within ``wait`` and what came
        with it. (A pull request that waits returns only once its batch is full, so
        the waiting is done for one message.)"""
        limit = self._request_bytes(max_bytes)
        messages = await self._pull(batch, 0, limit)
        if messages or wait <= 0:
            return messages
        messages = await self._pull(1, wait, limit)
        if messages and batch > 1:
            messages += await self._pull(batch - 1, 0, limit - len(messages[0].data))
        return messages

    def _request_bytes(self, max_bytes: int) -> int:
        """A pull request's byte limit: the read's, no more than ``pull_bytes``, and
        never below a message of the largest size the server takes (a request
        that cannot hold the next message would bring nothing, for ever)."""
        largest = self._client.nc.max_payload + _HEADROOM
        return max(min(max_bytes, self._pull_bytes), largest)

    async def _pull(self, batch: int, wait: float, max_bytes: int) -> list[Msg]:
        """One pull request: up to ``batch`` messages, waiting up to ``wait`` seconds
        for them, or none at all (``no_wait``: the server answers at once with what
        it has). The server ends a request it cannot fill with a status message, so
        an empty answer means "nothing there", however slow this machine is."""
        assert self._sub is not None and self._next is not None
        request: dict[str, object] = {"batch": batch, "max_bytes": max(max_bytes, 1)}
        if wait > 0:
            request["expires"] = int(wait * 1e9)
        else:
            request["no_wait"] = True
        answer = self._answer = _Answer(batch, self.subject)
        try:
            await self._client.nc.publish(
                self._next, orjson.dumps(request), reply=self._sub.subject
            )
            await asyncio.wait_for(answer.ended.wait(), wait + self._client.request_timeout)
        finally:
            self._answer = None
        if answer.error is not None:
            raise answer.error
        return answer.messages

    async def _on_message(self, msg: Msg) -> None:
        if self._answer is None or self._answer.ended.is_set():
            # Nothing asked for it (an answer that came too late): start anew.
            self._restart = True
            return
        self._answer.take(msg)

    async def _check_not_stuck(self, js: JetStreamContext) -> None:
        """Now and then while reads come back empty, ask whether the subject has
        messages past the cursor: then the consumer is lost (its server restarted,
        say) and a new one must start, rather than wait for ever in silence."""
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= _STUCK_CHECK_SECONDS:
            self._idle_since = now
            if await self._end(js) > self._cursor:
                log.warning("queue %s: consumer delivered nothing; starting anew", self.subject)
                self._restart = True

    def _entries(self, messages: list[Msg], max_records: int, max_bytes: int) -> list[Entry]:
        entries: list[Entry] = []
        taken = 0
        for index, msg in enumerate(messages):
            sequence = msg.metadata.sequence
            if sequence.consumer != self._delivered + 1 or sequence.stream < self._cursor:
                log.warning(
                    "queue %s: expected consumer message %d, got %d; reading again from %d",
                    self.subject,
                    self._delivered + 1,
                    sequence.consumer,
                    self._cursor,
                )
                self._restart = True  # a new consumer from the cursor, on the next read
                self._held = []
                return entries
            if entries and (len(entries) >= max_records or taken + len(msg.data) > max_bytes):
                self._held = messages[index:]
                return entries
            entries.append(Entry(msg.data, sequence.stream, sequence.stream + 1))
            taken += len(msg.data)
            self._delivered = sequence.consumer
            self._cursor = sequence.stream + 1
        return entries

    async def _start_consumer(self, js: JetStreamContext, position: int) -> None:
        await self._drop_consumer(js)
        name = uuid.uuid4().hex
        config = ConsumerConfig(
            name=name,
            filter_subject=self.subject,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=_INACTIVE_SECONDS,
            mem_storage=True,
            num_replicas=1,
            # Position 0 or 1 is the stream's start; JetStream sequences begin at 1.
            deliver_policy=DeliverPolicy.ALL if position <= 1 else DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=None if position <= 1 else position,
        )
        await js.add_consumer(self.stream, config)
        self._consumer = name
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{name}"
        self._sub = await self._client.nc.subscribe(
            self._client.nc.new_inbox(), cb=self._on_message
        )
        self._cursor = position
        self._delivered = 0
        self._held = []
        self._restart = False

    async def _drop_consumer(self, js: JetStreamContext | None = None) -> None:
        sub, consumer = self._sub, self._consumer
        self._sub = self._consumer = None
        if sub is None:
            return
        try:
            await sub.unsubscribe()
            if js is not None and consumer is not None:
                await js.delete_consumer(self.stream, consumer)
        except Exception as exc:  # it expires on the server by itself
            log.debug("queue reader: dropping consumer %s: %s", consumer, exc)

    async def _ready_stream(self, js: JetStreamContext) -> None:
        if not self._ready:
            await self._ensure(js)
            self._ready = True

    async def _end(self, js: JetStreamContext) -> int:
        await self._ready_stream(js)
        try:
            last = await js.get_last_msg(self.stream, self.subject)
        except nats.js.errors.NotFoundError:
            return 0
        return int(last.seq or 0) + 1

    async def _start(self, js: JetStreamContext) -> int:
        await self._ready_stream(js)
        try:
            first = await js.get_msg(self.stream, seq=1, subject=self.subject, next=True)
        except nats.js.errors.NotFoundError:
            return 0
        return int(first.seq or 0)


class _Answer:
    """What the server sent for one pull request, gathered by the subscription's
    callback (one wake-up per request, not one per message)."""

    def __init__(self, batch: int, subject: str) -> None:
        self.batch = batch
        self.subject = subject
        self.messages: list[Msg] = []
        self.error: Exception | None = None
        self.ended = asyncio.Event()

    def take(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status")
        if status is None:
            self.messages.append(msg)
            if len(self.messages) >= self.batch:
                self.ended.set()
        elif status in _REQUEST_ENDED or headers.get("Description") == _MAX_BYTES_REACHED:
            self.ended.set()
        elif status != _HEARTBEAT:
            self.error = ConsumerLost(f"{self.subject}: {status} {headers.get('Description')}")
            self.ended.set()
