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

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
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
# The shortest wait for a read with timeout 0 (a pull request must expire).
_MIN_WAIT = 0.01


class NatsStreamReader:
    """A ``QueueReader`` over one subject (a partition, or the processed events)."""

    def __init__(
        self,
        client: NatsClient,
        stream: str,
        subject: str,
        ensure: Callable[[JetStreamContext], Awaitable[None]],
    ) -> None:
        self._client = client
        self.stream = stream
        self.subject = subject
        self._ensure = ensure
        self._ready = False
        self._sub: JetStreamContext.PullSubscription | None = None
        self._consumer: str | None = None
        self._cursor = 0  # where the consumer's next message is at or after
        self._delivered = 0  # the consumer sequence of its last message
        self._held: list[Msg] = []  # delivered past a read's byte limit, in order
        self._restart = False
        self._idle_since: float | None = None
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
        if position - 1 <= self._released or now - self._released_at < _RELEASE_EVERY_SECONDS:
            return
        self._client.call(
            lambda js: js.purge_stream(self.stream, seq=position - 1, subject=self.subject)
        )
        self._released, self._released_at = position - 1, now

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
        assert self._sub is not None
        messages, self._held = self._held, []
        if not messages:
            try:
                messages = await self._sub.fetch(max_records, timeout=max(timeout, _MIN_WAIT))
            except TimeoutError:  # nats-py raises its own and plain ones
                await self._check_not_stuck(js)
                return []
            except Exception:
                # The consumer may be gone (NATS restarted, or removed it as idle):
                # the next read starts a new one where this left off.
                self._restart = True
                raise
        self._idle_since = None
        return self._entries(messages, max_records, max_bytes)

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
        self._sub = await js.pull_subscribe_bind(name, stream=self.stream)
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
