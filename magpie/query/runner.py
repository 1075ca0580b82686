"""What the query layer asks of an engine: run compiled SQL within one deadline.

Each engine implements it under ``magpie/store/`` (DuckDB in
``store/duckdb/query_runner.py``, ClickHouse in
``store/clickhouse/query_runner.py``), on the shared pieces in
``query/execution.py``: query slots, the result-size cap while fetching, the
memory guard and the safe messages for engine errors. The composition root
(``app.py``) picks one; nothing in ``query/`` knows which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from magpie.query.deadline import Deadline
from magpie.query.dialects.base import Dialect
from magpie.query.hogql.compiler import CompiledQuery


@dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    results: list[list[Any]]
    timings: list[dict[str, Any]] = field(default_factory=list)


class QueryRunner(Protocol):
    @property
    def dialect(self) -> Dialect:
        """The dialect queries for this engine compile with."""
        ...

    def deadline(self) -> Deadline:
        """A fresh deadline of the runner's query timeout."""
        ...

    def execute(self, compiled: CompiledQuery, *, deadline: Deadline | None = None) -> QueryResult:
        """Rows of ``compiled``, or a QueryError with a stable code: query_timeout,
        result_too_large, query_memory_exceeded or query_failed (never the engine's
        own words)."""
        ...
