"""A bounded FIFO of encoded events, shared by the app's threads and the consumer.

Bounded because the server may be unreachable for hours (a laptop offline):
memory must not grow without limit. When full, the *oldest* event is dropped,
since the newest ones describe what the user is doing now.

Every event gets a sequence number so that ``flush()`` can wait for exactly
the events captured before it, however many arrive meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    seq: int
    data: bytes
    queued_at: float  # time.monotonic()


class EventBuffer:
    def __init__(self, max_size: int) -> None:
        self._max_size = max(1, max_size)
        self._items: deque[Item] = deque()
        self._cond = threading.Condition()
        self._next_seq = 0
        # Every event with seq < _done_seq is finished: sent, given up or dropped.
        self._done_seq = 0
        # Events with seq < _flush_until are sent without waiting for a full batch.
        self._flush_until = 0
        self._closed = False
        self.dropped = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, data: bytes) -> bool:
        """Queue one event; False once the buffer is closed."""
        with self._cond:
            if self._closed:
                return False
            if len(self._items) >= self._max_size:
                self._items.popleft()
                self.dropped += 1
            self._items.append(Item(self._next_seq, data, time.monotonic()))
            self._next_seq += 1
            self._cond.notify_all()
            return True

    def take(self, max_items: int, max_bytes: int, interval: float) -> list[Item] | None:
        """Block until a batch is due, then remove and return it (oldest first).

        A batch is due when ``max_items`` events are waiting, when the oldest
        has waited ``interval`` seconds, when a flush asks for it, or once the
        buffer is closed. Returns None when closed and empty: the consumer stops.
        """
        with self._cond:
            while True:
                if not self._items:
                    if self._closed:
                        return None
                    # Idle: sleep until an event arrives rather than waking up
                    # every interval (desktop apps care about idle wake-ups).
                    self._cond.wait()
                    continue
                if (
                    self._closed
                    or len(self._items) >= max_items
                    or self._items[0].seq < self._flush_until
                ):
                    break
                remaining = self._items[0].queued_at + interval - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch: list[Item] = []
            size = 0
            while self._items and len(batch) < max_items:
                item = self._items[0]
                if batch and size + len(item.data) > max_bytes:
                    break
                batch.append(self._items.popleft())
                size += len(item.data)
            return batch

    def mark_done(self, last_seq: int) -> None:
        """The consumer finished every event up to and including ``last_seq``."""
        with self._cond:
            self._done_seq = max(self._done_seq, last_seq + 1)
            self._cond.notify_all()

    def wait_drained(self, timeout: float | None) -> bool:
        """Ask for everything queued so far to be sent now, and wait until it is
        finished (or ``timeout`` passes). True if it finished in time."""
        with self._cond:
            target = self._next_seq
            self._flush_until = max(self._flush_until, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done_seq >= target, timeout)

    def close(self) -> None:
        """Refuse new events; the consumer sends what is left, then stops."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
