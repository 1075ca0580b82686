"""Interrupts queries that outlive their deadline, from one shared thread.

A timer thread per query would cost a thread start (milliseconds) on every
query; one watchdog waiting on the nearest deadline costs nothing per query.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._actions: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, action: Callable[[], None]) -> int:
        """Run ``action`` in ``seconds`` unless disarmed first; returns a handle."""
        handle = next(self._ids)
        with self._cond:
            self._actions[handle] = action
            heapq.heappush(self._heap, (time.monotonic() + seconds, handle))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="magpie-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return handle

    def disarm(self, handle: int) -> None:
        with self._cond:
            self._actions.pop(handle, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, handle = self._heap[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
                action = self._actions.pop(handle, None)
            if action is not None:
                action()
