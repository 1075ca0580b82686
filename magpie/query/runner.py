"""Running compiled SQL: a cursor per query, interrupted when it runs too long."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from magpie.query.errors import QueryError, QueryTimeout
from magpie.query.hogql.compiler import CompiledQuery
from magpie.query.watchdog import Watchdog
from magpie.store.duckdb.database import Database


@dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    results: list[list[Any]]
    timings: list[dict[str, Any]] = field(default_factory=list)


class QueryRunner:
    def __init__(self, db: Database, *, timeout_seconds: float = 30.0) -> None:
        self._db = db
        self.timeout_seconds = timeout_seconds
        self._watchdog = Watchdog()

    def execute(self, compiled: CompiledQuery, *, timeout: float | None = None) -> QueryResult:
        cursor = self._db.new_cursor()
        limit = timeout or self.timeout_seconds
        started = time.perf_counter()
        alarm = self._watchdog.arm(limit, cursor.interrupt)
        try:
            cursor.execute(compiled.sql, compiled.parameters)
            rows = cursor.fetchall()
            description = cursor.description or []
        except duckdb.InterruptException:
            raise QueryTimeout(f"the query ran longer than {limit:g} s and was stopped") from None
        except duckdb.Error as exc:
            raise QueryError(f"the query failed: {_message(exc)}") from None
        finally:
            self._watchdog.disarm(alarm)
            cursor.close()
        elapsed = time.perf_counter() - started
        return QueryResult(
            columns=[d[0] for d in description],
            types=[str(d[1]) for d in description],
            results=[[_plain(v) for v in row] for row in rows],
            timings=[{"k": "execute", "t": round(elapsed, 6)}],
        )


def _message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _plain(value: Any) -> Any:
    """JSON-friendly values (orjson handles dates, times and uuids itself)."""
    return float(value) if isinstance(value, Decimal) else value
