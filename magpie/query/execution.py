"""The engine-independent half of running a query, shared by every runner.

A query takes one of a few slots (so heavy queries queue instead of piling
onto two cores and the interpreter lock), brings its rows back in chunks,
counting their bytes as the JSON they become, and is interrupted when its
deadline passes or the server nears its memory budget. Engine errors reach
the caller as a kind of problem with a stable code; the engine's own words
(which name stored tables and columns) stay in the server log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import orjson

from magpie.query.deadline import Deadline
from magpie.query.errors import QueryFailed, QueryMemoryExceeded, ResultTooLarge
from magpie.query.hogql.compiler import CompiledQuery
from magpie.query.limits import MAX_RESULT_BYTES
from magpie.query.memory import MemoryGuard
from magpie.query.runner import QueryResult
from magpie.query.watchdog import Watchdog

# Kinds of engine failure → what the caller is told (query_failed).
FAILURES: dict[str, str] = {
    "conversion": "a value could not be converted to the type the query asks for",
    "range": "a number or date in the query is out of range",
    "binding": "the query's columns or types do not fit together",
    "argument": "a function was given an argument it cannot use",
    "unsupported": "the query uses something the engine does not support",
    "other": "the engine could not run it",
}


def query_failed(kind: str) -> QueryFailed:
    return QueryFailed(f"the query failed: {FAILURES.get(kind, FAILURES['other'])}")


def memory_exceeded() -> QueryMemoryExceeded:
    return QueryMemoryExceeded(
        "the query needed more memory than the server allows a query: "
        "narrow the date range, filter more, or select less"
    )


def result_too_large(limit: int) -> ResultTooLarge:
    return ResultTooLarge(
        f"the result is larger than {limit // 2**20} MiB "
        "(the result size limit): select fewer rows or columns"
    )


class SlottedRunner:
    """Slots, the deadline, the watchdog and the memory guard; an engine's runner
    adds ``_execute`` (run one query, holding a slot)."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 30.0,
        max_result_bytes: int = MAX_RESULT_BYTES,
        memory_budget_bytes: int | None = None,
        concurrency: int = 2,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.max_result_bytes = max_result_bytes
        self._watchdog = Watchdog()
        self._memory = MemoryGuard(memory_budget_bytes)
        self._slots = threading.BoundedSemaphore(concurrency)

    def deadline(self) -> Deadline:
        return Deadline(self.timeout_seconds)

    def execute(self, compiled: CompiledQuery, *, deadline: Deadline | None = None) -> QueryResult:
        deadline = deadline or self.deadline()
        if not self._slots.acquire(timeout=max(deadline.remaining(), 0)):
            raise deadline.expired()
        try:
            deadline.check()
            started = time.perf_counter()
            result = self._execute(compiled, deadline)
            result.timings.append({"k": "execute", "t": round(time.perf_counter() - started, 6)})
            return result
        finally:
            self._slots.release()

    def _execute(self, compiled: CompiledQuery, deadline: Deadline) -> QueryResult:
        raise NotImplementedError

    @contextmanager
    def interruptible(self, deadline: Deadline, interrupt: Callable[[], None]) -> Iterator[int]:
        """Interrupt the query when the deadline passes or memory runs out; yields the
        memory guard's handle (``stopped_for_memory`` tells which it was)."""
        timer = self._watchdog.arm(deadline.remaining(), interrupt)
        guard = self._memory.watch(interrupt)
        try:
            yield guard
        finally:
            self._watchdog.disarm(timer)
            self._memory.release(guard)

    def stopped_for_memory(self, guard: int) -> bool:
        return self._memory.release(guard)

    def collect(
        self, chunks: Iterable[Sequence[Sequence[Any]]], deadline: Deadline
    ) -> list[list[Any]]:
        """Rows in chunks, each measured as the JSON it becomes, until the cap."""
        rows: list[list[Any]] = []
        size = 0
        for chunk in chunks:
            deadline.check()
            plain = [[_plain(v) for v in row] for row in chunk]
            size += len(orjson.dumps(plain, default=str, option=orjson.OPT_NON_STR_KEYS))
            if size > self.max_result_bytes:
                raise result_too_large(self.max_result_bytes)
            rows.extend(plain)
        return rows


def _plain(value: Any) -> Any:
    """JSON-friendly values (orjson handles dates, times and uuids itself)."""
    return float(value) if isinstance(value, Decimal) else value
