"""One deadline for the whole of a query: compiling, the engine, and shaping results.

The engine is interrupted when the deadline passes (the runner arms its
watchdog with what is left); Python-side work between and after engine calls
asks ``check()`` at its loops, so no part of a query outlives the limit.
"""

from __future__ import annotations

import time

from magpie.query.errors import QueryTimeout


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._ends - time.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise self.expired()

    def expired(self) -> QueryTimeout:
        return QueryTimeout(f"the query ran longer than {self.seconds:g} s and was stopped")
