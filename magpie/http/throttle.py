"""Counting failures per client address, to slow down whoever keeps failing."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class FailureLimiter:
    """At most ``limit`` failures per address in a fixed window of ``window`` seconds.

    Only failures are counted, so an address that also sends good requests
    (several users behind one NAT) is never slowed down for those.
    """

    # Beyond this many addresses, windows that have ended are forgotten.
    MAX_ADDRESSES = 10_000

    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._monotonic = monotonic
        self._windows: dict[str, tuple[float, int]] = {}  # address → (start, failures)
        self._lock = threading.Lock()

    def failed(self, address: str) -> int | None:
        """Count a failure; the seconds to wait if the address is now over its limit."""
        now = self._monotonic()
        with self._lock:
            start, count = self._windows.get(address, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            count += 1
            if len(self._windows) >= self.MAX_ADDRESSES and address not in self._windows:
                self._forget_ended(now)
            self._windows[address] = (start, count)
        if count <= self.limit:
            return None
        return max(1, math.ceil(start + self.window - now))

    def waiting(self, address: str) -> int | None:
        """The seconds an address over its limit must still wait, without counting."""
        now = self._monotonic()
        with self._lock:
            start, count = self._windows.get(address, (now, 0))
        if count <= self.limit or now - start >= self.window:
            return None
        return max(1, math.ceil(start + self.window - now))

    def _forget_ended(self, now: float) -> None:
        ended = [a for a, (start, _) in self._windows.items() if now - start >= self.window]
        for address in ended:
            del self._windows[address]
        if len(self._windows) >= self.MAX_ADDRESSES:
            # Under a flood from very many addresses memory stays bounded; their
            # counts start again.
            self._windows.clear()
