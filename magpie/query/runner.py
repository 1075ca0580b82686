"""Running compiled SQL within a query's deadline, memory and result-size limits.

A query takes one of a few slots (so heavy queries queue instead of piling
onto two cores and the interpreter lock), runs on a cursor of its own that is
interrupted when the deadline passes or the server nears its memory budget,
and brings its rows back in chunks, counting their bytes as it goes. Engine
errors reach the caller as a kind of problem with a stable code; the engine's
own words (which name stored tables and columns) stay in the server log.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import orjson

from magpie.query.deadline import Deadline
from magpie.query.errors import QueryFailed, QueryMemoryExceeded, ResultTooLarge
from magpie.query.hogql.compiler import CompiledQuery
from magpie.query.limits import MAX_RESULT_BYTES
from magpie.query.memory import MemoryGuard
from magpie.query.watchdog import Watchdog
from magpie.store.duckdb.database import Database

log = logging.getLogger(__name__)

FETCH_ROWS = 2048

# Engine error class → what the caller is told.
_ENGINE_ERRORS: tuple[tuple[type[duckdb.Error], str], ...] = (
    (duckdb.ConversionException, "a value could not be converted to the type the query asks for"),
    (duckdb.OutOfRangeException, "a number or date in the query is out of range"),
    (duckdb.BinderException, "the query's columns or types do not fit together"),
    (duckdb.InvalidInputException, "a function was given an argument it cannot use"),
    (duckdb.NotImplementedException, "the query uses something the engine does not support"),
)


@dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    results: list[list[Any]]
    timings: list[dict[str, Any]] = field(default_factory=list)


class QueryRunner:
    def __init__(
        self,
        db: Database,
        *,
        timeout_seconds: float = 30.0,
        max_result_bytes: int = MAX_RESULT_BYTES,
        memory_budget_bytes: int | None = None,
        concurrency: int = 2,
    ) -> None:
        self._db = db
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
            return self._execute(compiled, deadline)
        finally:
            self._slots.release()

    def _execute(self, compiled: CompiledQuery, deadline: Deadline) -> QueryResult:
        deadline.check()
        cursor = self._db.new_cursor()
        timer = self._watchdog.arm(deadline.remaining(), cursor.interrupt)
        guard = self._memory.watch(cursor.interrupt)
        started = time.perf_counter()
        try:
            cursor.execute(compiled.sql, compiled.parameters)
            description = cursor.description or []
            rows = self._fetch(cursor, deadline)
        except duckdb.InterruptException:
            if self._memory.release(guard):
                raise _memory_exceeded() from None
            raise deadline.expired() from None
        except duckdb.OutOfMemoryException:
            raise _memory_exceeded() from None
        except duckdb.Error as exc:
            log.info("query failed in the engine: %s\nSQL: %s", exc, compiled.sql)
            raise QueryFailed(f"the query failed: {_safe_message(exc)}") from None
        finally:
            self._watchdog.disarm(timer)
            self._memory.release(guard)
            cursor.close()
        return QueryResult(
            columns=[d[0] for d in description],
            types=[str(d[1]) for d in description],
            results=rows,
            timings=[{"k": "execute", "t": round(time.perf_counter() - started, 6)}],
        )

    def _fetch(self, cursor: duckdb.DuckDBPyConnection, deadline: Deadline) -> list[list[Any]]:
        """Rows in chunks, each measured as the JSON it becomes, until the cap."""
        rows: list[list[Any]] = []
        size = 0
        while chunk := cursor.fetchmany(FETCH_ROWS):
            deadline.check()
            plain = [[_plain(v) for v in row] for row in chunk]
            size += len(orjson.dumps(plain, default=str, option=orjson.OPT_NON_STR_KEYS))
            if size > self.max_result_bytes:
                raise ResultTooLarge(
                    f"the result is larger than {self.max_result_bytes // 2**20} MiB "
                    "(the result size limit): select fewer rows or columns"
                )
            rows.extend(plain)
        return rows


def _memory_exceeded() -> QueryMemoryExceeded:
    return QueryMemoryExceeded(
        "the query needed more memory than the server allows a query: "
        "narrow the date range, filter more, or select less"
    )


def _safe_message(exc: duckdb.Error) -> str:
    for kind, message in _ENGINE_ERRORS:
        if isinstance(exc, kind):
            return message
    return "the engine could not run it"


def _plain(value: Any) -> Any:
    """JSON-friendly values (orjson handles dates, times and uuids itself)."""
    return float(value) if isinstance(value, Decimal) else value
