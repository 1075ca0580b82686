"""Running compiled queries on the embedded DuckDB file.

Each query runs on a cursor of its own, which the watchdog or the memory
guard interrupts; rows come back in chunks through the shared result cap
(``query/execution.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import duckdb

from magpie.query.deadline import Deadline
from magpie.query.dialects.duckdb import DUCKDB, DuckDBDialect
from magpie.query.execution import SlottedRunner, memory_exceeded, query_failed
from magpie.query.hogql.compiler import CompiledQuery
from magpie.query.limits import MAX_RESULT_BYTES
from magpie.query.runner import QueryResult
from magpie.store.duckdb.database import Database

log = logging.getLogger(__name__)

FETCH_ROWS = 2048

# Engine error class → the kind of problem the caller is told.
_ENGINE_ERRORS: tuple[tuple[type[duckdb.Error], str], ...] = (
    (duckdb.ConversionException, "conversion"),
    (duckdb.OutOfRangeException, "range"),
    (duckdb.BinderException, "binding"),
    (duckdb.InvalidInputException, "argument"),
    (duckdb.NotImplementedException, "unsupported"),
)


class DuckDBQueryRunner(SlottedRunner):
    dialect: DuckDBDialect = DUCKDB

    def __init__(
        self,
        db: Database,
        *,
        timeout_seconds: float = 30.0,
        max_result_bytes: int = MAX_RESULT_BYTES,
        memory_budget_bytes: int | None = None,
        concurrency: int = 2,
    ) -> None:
        super().__init__(
            timeout_seconds=timeout_seconds,
            max_result_bytes=max_result_bytes,
            memory_budget_bytes=memory_budget_bytes,
            concurrency=concurrency,
        )
        self._db = db

    def _execute(self, compiled: CompiledQuery, deadline: Deadline) -> QueryResult:
        cursor = self._db.new_cursor()
        try:
            with self.interruptible(deadline, cursor.interrupt) as guard:
                try:
                    cursor.execute(compiled.sql, compiled.parameters)
                    description = cursor.description or []
                    rows = self.collect(_chunks(cursor), deadline)
                except duckdb.InterruptException:
                    if self.stopped_for_memory(guard):
                        raise memory_exceeded() from None
                    raise deadline.expired() from None
                except duckdb.OutOfMemoryException:
                    raise memory_exceeded() from None
                except duckdb.Error as exc:
                    log.info("query failed in the engine: %s\nSQL: %s", exc, compiled.sql)
                    raise query_failed(_kind(exc)) from None
        finally:
            cursor.close()
        return QueryResult(
            columns=[d[0] for d in description],
            types=[str(d[1]) for d in description],
            results=rows,
        )


def _chunks(cursor: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[Any, ...]]]:
    while chunk := cursor.fetchmany(FETCH_ROWS):
        yield chunk


def _kind(exc: duckdb.Error) -> str:
    for kind, name in _ENGINE_ERRORS:
        if isinstance(exc, kind):
            return name
    return "other"
