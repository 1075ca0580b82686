"""Running compiled queries on ClickHouse within one deadline.

The server enforces the limits itself (``max_execution_time`` from what is
left of the deadline, ``max_result_bytes``, ``max_memory_usage``) and the
watchdog cancels the query by its id if the deadline passes anyway; rows come
back block by block through the shared result cap (``query/execution.py``).
Errors are mapped by ClickHouse's stable error codes to the same kinds of
problem the DuckDB runner reports.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from magpie.query.deadline import Deadline
from magpie.query.dialects.clickhouse import ClickHouseDialect
from magpie.query.execution import (
    SlottedRunner,
    memory_exceeded,
    query_failed,
    result_too_large,
)
from magpie.query.hogql.compiler import CompiledQuery
from magpie.query.limits import MAX_RESULT_BYTES
from magpie.query.runner import QueryResult

log = logging.getLogger(__name__)

_CODE = re.compile(r"Code: (\d+)")
_TIMEOUT = {159, 394}  # TIMEOUT_EXCEEDED, QUERY_WAS_CANCELLED
_MEMORY = {241}  # MEMORY_LIMIT_EXCEEDED
_TOO_LARGE = {396}  # TOO_MANY_ROWS_OR_BYTES
# ClickHouse error code → the kind of problem the caller is told.
_KINDS: dict[int, str] = {
    **dict.fromkeys((6, 27, 38, 41, 70, 72, 349), "conversion"),
    **dict.fromkeys((69, 321, 407), "range"),
    **dict.fromkeys((43, 44, 47, 53, 184, 215, 386, 352), "binding"),
    **dict.fromkeys((35, 36, 42), "argument"),
    **dict.fromkeys((1, 48), "unsupported"),
}


class ClickHouseQueryRunner(SlottedRunner):
    def __init__(
        self,
        client: Client,
        database: str,
        *,
        timeout_seconds: float = 30.0,
        max_result_bytes: int = MAX_RESULT_BYTES,
        memory_budget_bytes: int | None = None,
        max_memory_usage: int | None = None,
        concurrency: int = 2,
    ) -> None:
        super().__init__(
            timeout_seconds=timeout_seconds,
            max_result_bytes=max_result_bytes,
            memory_budget_bytes=memory_budget_bytes,
            concurrency=concurrency,
        )
        self._client = client
        self._max_memory_usage = max_memory_usage
        self.dialect = ClickHouseDialect(database)

    def _settings(self, deadline: Deadline, query_id: str) -> dict[str, Any]:
        settings: dict[str, Any] = {
            **self.dialect.settings,
            # Queries read; they never write or create (settings still apply).
            "readonly": 2,
            "max_execution_time": max(math.ceil(deadline.remaining() * 1000) / 1000, 0.001),
            "timeout_overflow_mode": "throw",
            # The cap counts JSON text; ClickHouse counts its own blocks, a
            # little larger, so it stops a runaway result before Python sees it.
            "max_result_bytes": self.max_result_bytes * 2,
            "result_overflow_mode": "throw",
            "query_id": query_id,
        }
        if self._max_memory_usage is not None:
            settings["max_memory_usage"] = self._max_memory_usage
        return settings

    def _execute(self, compiled: CompiledQuery, deadline: Deadline) -> QueryResult:
        query_id = str(uuid.uuid4())
        settings = self._settings(deadline, query_id)
        with self.interruptible(deadline, lambda: self._cancel(query_id)) as guard:
            try:
                with self._client.query_row_block_stream(
                    compiled.sql, parameters=compiled.parameters, settings=settings
                ) as stream:
                    names = list(stream.source.column_names)
                    types = [t.name for t in stream.source.column_types]
                    rows = self.collect(_plain_blocks(stream), deadline)
            except ClickHouseError as exc:
                code = _code(exc)
                if code in _TIMEOUT:
                    if self.stopped_for_memory(guard):
                        raise memory_exceeded() from None
                    raise deadline.expired() from None
                if code in _MEMORY:
                    raise memory_exceeded() from None
                if code in _TOO_LARGE:
                    raise result_too_large(self.max_result_bytes) from None
                log.info("query failed in ClickHouse: %s\nSQL: %s", exc, compiled.sql)
                raise query_failed(_KINDS.get(code or 0, "other")) from None
        if compiled.columns is not None and len(compiled.columns) == len(names):
            names = list(compiled.columns)
        return QueryResult(columns=names, types=types, results=rows)

    def _cancel(self, query_id: str) -> None:
        try:
            self._client.command(
                "KILL QUERY WHERE query_id = {query_id:String} ASYNC",
                parameters={"query_id": query_id},
            )
        except ClickHouseError as exc:  # it may have ended meanwhile
            log.debug("could not cancel query %s: %s", query_id, exc)


def _code(exc: ClickHouseError) -> int | None:
    found = _CODE.search(str(exc))
    return int(found.group(1)) if found else None


def _plain_blocks(stream: Any) -> Any:
    """Blocks of rows with instants as naive UTC, as every store returns them."""
    for block in stream:
        yield [[_utc(v) for v in row] for row in block]


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
