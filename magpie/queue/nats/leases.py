"""Which worker consumes which partition: leases in a JetStream KV bucket.

The bucket ``S_leases`` keeps each key for ``lease_seconds`` after its last
write (its TTL, kept by the server's clock, so no two machines' clocks are
compared). Two kinds of keys:

- ``members.<owner>``: a live worker, rewritten at every heartbeat;
- ``partition.pNN``: the lease on a partition, ``{"owner", "token"}``, taken
  with ``create`` (only when no one holds it) and renewed with ``update``
  from the revision last written (compare-and-set), so of two workers only
  one can hold a partition, and a worker whose lease expired or was taken
  cannot renew it.

**Fair share.** With N live members sorted by id, the member at index i owns
``P // N`` partitions plus one if ``i < P % N``. A worker over its share stops
consuming its surplus partitions and then deletes their leases; one under it
takes free ones. A worker that dies stops renewing: its keys expire after
the lease time, the others see one member fewer and take its partitions.

**Fencing.** ``token`` is the KV revision at which the lease was acquired;
renewals keep it. ``fence(partition)`` gives the worker a check to call right
before it commits: it raises ``LeaseLost`` unless this worker's lease is still
valid by its own clock (renewed less than the lease time ago) and the key
still names this owner and token. A check and a commit are two steps, so a
worker frozen in between could still commit after losing its lease; what
makes that harmless is the commit itself: the consumer's position in
PostgreSQL moves by compare-and-set from the position the worker started
from (``store/postgres/ingest_log.py``), so of the old and the new owner only
the first to commit records a batch, and the other's unit is refused
(``ConsumerTakenOver``) and rolled back whole, events' person changes and
all. The fence keeps a stale worker from even trying in the normal case.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import re
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import nats.js.errors
import orjson
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from magpie.errors import QueueUnavailable
from magpie.queue.nats.client import NatsClient

log = logging.getLogger(__name__)

_MEMBERS = "members"
_PARTITION = "partition"
# JetStream's answer to a write whose expected last revision is not the key's.
_WRONG_LAST_SEQUENCE = 10071


class LeaseLost(RuntimeError):
    """This worker no longer holds the partition's lease: it must not commit."""


@dataclass
class Lease:
    partition: int
    token: int  # the KV revision it was acquired at: the fencing token
    revision: int  # the revision of its last renewal (the next update's expectation)
    valid_until: float  # monotonic; a renewal sent at t is kept by the server past t + ttl


@dataclass(frozen=True)
class Changes:
    gained: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # taken by another or expired: stop at once
    surplus: list[int] = field(default_factory=list)  # over the fair share: stop, then release


def new_owner_id() -> str:
    """A worker id unique across machines and restarts, usable in a KV key."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40]
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def partition_key(partition: int) -> str:
    return f"{_PARTITION}.p{partition:02d}"


class PartitionLeases:
    """One worker's leases. Methods are called from one thread (the keeper's), except
    the fence checks, which any thread may call."""

    def __init__(
        self,
        client: NatsClient,
        bucket: Callable[[JetStreamContext], Awaitable[tuple[KeyValue, float]]],
        owner: str,
        partitions: int,
    ) -> None:
        self._client = client
        self._bucket = bucket  # the bucket and its TTL, created on first use
        self.owner = owner
        self.partitions = partitions
        self._lock = threading.Lock()
        self._owned: dict[int, Lease] = {}
        self.lease_seconds = 0.0

    @property
    def owned(self) -> dict[int, Lease]:
        with self._lock:
            return dict(self._owned)

    def heartbeat(self) -> Changes:
        """Renew what is held, then move towards the fair share (see the module)."""
        return self._client.call(self._heartbeat)

    def expire(self) -> list[int]:
        """Drop leases past their validity by this process's clock (NATS unreachable:
        the others may take them soon)."""
        now = time.monotonic()
        with self._lock:
            gone = [p for p, lease in self._owned.items() if lease.valid_until <= now]
            for partition in gone:
                del self._owned[partition]
        return gone

    def release(self, partition: int) -> None:
        """Give a partition up (its consumption stopped), so another may take it now."""
        with self._lock:
            lease = self._owned.pop(partition, None)
        if lease is not None:
            self._client.call(lambda js: self._delete(js, partition_key(partition), lease.revision))

    def leave(self) -> None:
        """Give everything up and stop being a member (a worker shutting down)."""
        for partition in list(self.owned):
            try:
                self.release(partition)
            except QueueUnavailable:
                break  # they expire on their own
        with contextlib.suppress(QueueUnavailable):
            self._client.call(lambda js: self._delete(js, f"{_MEMBERS}.{self.owner}", None))

    def fence(self, partition: int) -> Callable[[], None]:
        """A check for the worker to call before each commit: raises ``LeaseLost``, or
        ``QueueUnavailable`` when NATS cannot confirm the lease; either way, do not commit."""
        with self._lock:
            lease = self._owned.get(partition)
        if lease is None:
            raise LeaseLost(f"partition {partition} is not leased by {self.owner}")
        token = lease.token

        def check() -> None:
            with self._lock:
                held = self._owned.get(partition)
            if held is None or held.token != token or held.valid_until <= time.monotonic():
                raise LeaseLost(f"the lease on partition {partition} was lost")
            self._client.call(lambda js: self._confirm(js, partition, token))

        return check

    # -- on the client's loop ------------------------------------------------

    async def _kv(self, js: JetStreamContext) -> KeyValue:
        kv, self.lease_seconds = await self._bucket(js)
        return kv

    async def _heartbeat(self, js: JetStreamContext) -> Changes:
        kv = await self._kv(js)
        await kv.put(f"{_MEMBERS}.{self.owner}", self.owner.encode())
        changes = Changes()
        for partition, lease in self.owned.items():
            if not await self._renew(kv, lease):
                changes.lost.append(partition)
        share = self._share(await _members(kv), self.owner)
        held = sorted(self.owned)
        if len(held) > share:
            changes.surplus.extend(held[share:])
        elif len(held) < share:
            changes.gained.extend(await self._acquire(kv, share - len(held)))
        return changes

    async def _renew(self, kv: KeyValue, lease: Lease) -> bool:
        sent = time.monotonic()
        value = self._value(lease.token)
        try:
            revision = await kv.update(partition_key(lease.partition), value, last=lease.revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            log.warning("lease on partition %d lost (expired or taken over)", lease.partition)
            with self._lock:
                self._owned.pop(lease.partition, None)
            return False
        with self._lock:
            lease.revision, lease.valid_until = revision, sent + self.lease_seconds
        return True

    async def _acquire(self, kv: KeyValue, wanted: int) -> list[int]:
        """Take up to ``wanted`` free partitions, starting at a place of our own so
        members starting together do not all race for partition 0."""
        gained: list[int] = []
        offset = zlib.crc32(self.owner.encode()) % self.partitions
        for step in range(self.partitions):
            if len(gained) == wanted:
                break
            partition = (offset + step) % self.partitions
            if partition in self._owned:
                continue
            sent = time.monotonic()
            try:
                revision = await kv.create(partition_key(partition), self._value(0))
            except nats.js.errors.KeyWrongLastSequenceError:
                continue  # held by another member
            # The fencing token is the revision it was created at; written into the
            # value at the first renewal's compare-and-set below.
            try:
                renewed = await kv.update(
                    partition_key(partition), self._value(revision), last=revision
                )
            except nats.js.errors.KeyWrongLastSequenceError:
                continue
            with self._lock:
                self._owned[partition] = Lease(
                    partition, revision, renewed, sent + self.lease_seconds
                )
            gained.append(partition)
        return gained

    async def _confirm(self, js: JetStreamContext, partition: int, token: int) -> None:
        kv = await self._kv(js)
        try:
            entry = await kv.get(partition_key(partition))
        except nats.js.errors.KeyNotFoundError as exc:
            raise LeaseLost(f"the lease on partition {partition} expired") from exc
        held = orjson.loads(entry.value or b"{}")
        if held.get("owner") != self.owner or held.get("token") != token:
            raise LeaseLost(f"partition {partition} is now leased by {held.get('owner')}")

    async def _delete(self, js: JetStreamContext, key: str, revision: int | None) -> None:
        kv = await self._kv(js)
        try:
            await kv.delete(key, last=revision)
        except nats.js.errors.APIError as exc:
            if exc.err_code != _WRONG_LAST_SEQUENCE:
                raise
            # Renewed by someone else since: it is theirs now, nothing to give up.

    def _value(self, token: int) -> bytes:
        return orjson.dumps({"owner": self.owner, "token": token})

    def _share(self, members: list[str], owner: str) -> int:
        if owner not in members:
            members = sorted([*members, owner])
        index = members.index(owner)
        base, extra = divmod(self.partitions, len(members))
        return base + (1 if index < extra else 0)


async def _members(kv: KeyValue) -> list[str]:
    try:
        keys = await kv.keys()
    except nats.js.errors.NoKeysError:
        return []
    prefix = f"{_MEMBERS}."
    return sorted(k[len(prefix) :] for k in keys if k.startswith(prefix))


class LeaseKeeper:
    """Heartbeats a worker's leases in a thread and tells the worker what changed.

    ``on_gained(partition, fence)`` starts consuming a partition; ``on_lost(partition)``
    must return only once its consumption stopped (a surplus partition's lease is
    deleted right after, for another member to take).

    The callbacks run in a second thread, in the order the changes were seen, so
    the heartbeat never waits for them. Stopping a partition waits for its unit
    in progress, which under load takes seconds; when the heartbeat waited too,
    a second worker joining (eight partitions to hand over, one after another)
    kept every lease unrenewed past its lifetime, all of them lapsed at once,
    and every unit in the process was refused at its fence, again and again.
    A surplus partition's lease is renewed until it is released."""

    def __init__(
        self,
        leases: PartitionLeases,
        on_gained: Callable[[int, Callable[[], None]], None],
        on_lost: Callable[[int], None],
    ) -> None:
        self.leases = leases
        self._on_gained = on_gained
        self._on_lost = on_lost
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="magpie-leases", daemon=True)
        self._changes: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._handler = threading.Thread(
            target=self._handle, name="magpie-lease-changes", daemon=True
        )
        self._releasing: set[int] = set()  # surplus, being stopped before release
        self._releasing_lock = threading.Lock()

    def start(self) -> None:
        self._handler.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop every partition, give the leases up and leave."""
        self._stopping.set()
        self._thread.join()
        if self._handler.is_alive():
            self._changes.put(None)  # after every change already seen
            self._handler.join()
        for partition in sorted(self.leases.owned):
            self._on_lost(partition)
        self.leases.leave()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.beat()
            except Exception:
                # A callback failed: keep beating, or every lease here would lapse.
                log.exception("lease keeper: handling a change failed")
            # A lease is renewed three times within its lifetime, so one late or
            # failed heartbeat does not lose it.
            self._stopping.wait(max(self.leases.lease_seconds, 0.3) / 3)

    def beat(self) -> None:
        try:
            changes = self.leases.heartbeat()
        except QueueUnavailable as exc:
            log.warning("lease heartbeat failed: %s", exc)
            for partition in self.leases.expire():
                self._dispatch(functools.partial(self._on_lost, partition))
            return
        except Exception:
            log.exception("lease heartbeat failed")
            return
        for partition in changes.lost:
            self._dispatch(functools.partial(self._on_lost, partition))
        for partition in changes.surplus:
            with self._releasing_lock:
                if partition in self._releasing:
                    continue  # still stopping since an earlier beat
                self._releasing.add(partition)
            self._dispatch(functools.partial(self._give_up, partition))
        for partition in changes.gained:
            fence = self.leases.fence(partition)
            self._dispatch(functools.partial(self._on_gained, partition, fence))

    def _give_up(self, partition: int) -> None:
        try:
            self._on_lost(partition)
            self.leases.release(partition)
        finally:
            with self._releasing_lock:
                self._releasing.discard(partition)

    def _dispatch(self, change: Callable[[], None]) -> None:
        """To the handler thread once it runs; in the caller's thread before (a
        keeper driven by hand, one ``beat`` at a time)."""
        if self._handler.is_alive():
            self._changes.put(change)
        else:
            change()

    def _handle(self) -> None:
        while (change := self._changes.get()) is not None:
            try:
                change()
            except Exception:
                log.exception("lease keeper: handling a change failed")
