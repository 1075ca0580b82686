"""Stops queries that would take the server past its memory budget.

DuckDB's memory limit bounds its buffers (sorts, joins, aggregates), but not
every allocation: the strings of a result are outside it. While any query
runs, one thread samples the process's resident memory; past the budget it
interrupts every running query, which then fails with
``query_memory_exceeded`` instead of taking the server down.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_STATM = "/proc/self/statm"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int | None:
    try:
        with open(_STATM, "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class MemoryGuard:
    def __init__(self, budget_bytes: int | None, interval_seconds: float = 0.05) -> None:
        self.budget_bytes = budget_bytes if resident_bytes() is not None else None
        self._interval = interval_seconds
        self._cond = threading.Condition()
        self._running: dict[int, Callable[[], None]] = {}
        self.tripped: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, interrupt: Callable[[], None]) -> int:
        handle = next(self._ids)
        if self.budget_bytes is None:
            return handle
        with self._cond:
            self._running[handle] = interrupt
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="magpie-memory", daemon=True)
                self._thread.start()
            self._cond.notify()
        return handle

    def release(self, handle: int) -> bool:
        """Stop watching; True when this query was interrupted for memory."""
        with self._cond:
            self._running.pop(handle, None)
            if handle in self.tripped:
                self.tripped.discard(handle)
                return True
            return False

    def _run(self) -> None:
        assert self.budget_bytes is not None
        while True:
            with self._cond:
                while not self._running:
                    self._cond.wait()
                self._cond.wait(self._interval)
                resident = resident_bytes() or 0
                if resident <= self.budget_bytes or not self._running:
                    continue
                victims = dict(self._running)
                self.tripped.update(victims)
            log.warning(
                "server memory %d MB is past the budget of %d MB: stopping %d running queries",
                resident // 2**20,
                self.budget_bytes // 2**20,
                len(victims),
            )
            for interrupt in victims.values():
                interrupt()
