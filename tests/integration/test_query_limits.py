"""Bounded work: one deadline per query, caps on breakdowns, buckets, result bytes and
memory, each refused with a code that names the limit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from magpie.query.context import QueryContext
from magpie.query.deadline import Deadline
from magpie.query.dialects.duckdb import DUCKDB
from magpie.query.errors import (
    BreakdownLimitTooLarge,
    QueryMemoryExceeded,
    QueryTimeout,
    ResultTooLarge,
    TooManyBuckets,
)
from magpie.query.hogql.compiler import compile_hogql
from magpie.query.kinds import run_query
from magpie.query.limits import MAX_BREAKDOWN_LIMIT, MAX_STRING_BYTES
from magpie.store.duckdb.query_runner import DuckDBQueryRunner as QueryRunner
from tests.harness import Ingest

NOW = datetime(2026, 3, 2, tzinfo=UTC)
CROSS_JOIN = "SELECT count() FROM events a, events b, events c, events d WHERE a.uuid != d.uuid"


def run(ingest: Ingest, query: dict, runner: QueryRunner | None = None) -> dict:
    project = ingest.magpie.projects.get(ingest.project_id)
    assert project is not None
    return run_query(query, QueryContext(project, runner or ingest.magpie.query_runner, NOW))


def hogql(ingest: Ingest, sql: str, runner: QueryRunner | None = None) -> dict:
    return run(ingest, {"kind": "HogQLQuery", "query": sql}, runner)


@pytest.fixture
def busy(ingest: Ingest) -> Ingest:
    ingest.send(*[ingest.event("bulk", f"u{i}", anonymous=True, n=i) for i in range(300)])
    return ingest


def test_string_builders_are_capped(ingest: Ingest) -> None:
    sql = "SELECT length(repeat('xy', 100000000)), length(lpad('a', 999999999, 'b'))"
    [[repeated, padded]] = hogql(ingest, sql)["results"]
    assert repeated <= MAX_STRING_BYTES and padded == MAX_STRING_BYTES
    assert hogql(ingest, "SELECT repeat('ab', 3)")["results"] == [["ababab"]]


def test_results_larger_than_the_cap_are_refused(busy: Ingest) -> None:
    runner = QueryRunner(busy.magpie.db, max_result_bytes=10_000)
    with pytest.raises(ResultTooLarge) as raised:
        hogql(busy, "SELECT uuid, properties FROM events LIMIT 300", runner)
    assert raised.value.code == "result_too_large" and "limit" in raised.value.message
    assert len(hogql(busy, "SELECT uuid FROM events LIMIT 5", runner)["results"]) == 5


def test_queries_past_the_memory_budget_are_stopped(busy: Ingest) -> None:
    runner = QueryRunner(busy.magpie.db, memory_budget_bytes=1)
    with pytest.raises(QueryMemoryExceeded) as raised:
        runner.execute(compile_hogql(CROSS_JOIN, busy.project_id, dialect=DUCKDB))
    assert raised.value.code == "query_memory_exceeded" and raised.value.status == 400
    assert hogql(busy, "SELECT count() FROM events")["results"] == [[300]]


def test_a_query_waits_for_a_slot_within_its_deadline(busy: Ingest) -> None:
    runner = QueryRunner(busy.magpie.db, concurrency=1, timeout_seconds=1.0)
    errors: list[Exception] = []

    def heavy() -> None:
        try:
            runner.execute(compile_hogql(CROSS_JOIN, busy.project_id, dialect=DUCKDB))
        except QueryTimeout as exc:
            errors.append(exc)

    thread = threading.Thread(target=heavy)
    thread.start()
    while runner._slots._value:  # the heavy query holds the only slot
        pass
    with pytest.raises(QueryTimeout):
        runner.execute(
            compile_hogql("SELECT 1", busy.project_id, dialect=DUCKDB), deadline=Deadline(0.2)
        )
    thread.join()
    assert errors, "the heavy query outlived its deadline"


def test_one_deadline_covers_every_step(busy: Ingest) -> None:
    project = busy.magpie.projects.get(busy.project_id)
    assert project is not None
    context = QueryContext(project, busy.magpie.query_runner, NOW, deadline=Deadline(0))
    with pytest.raises(QueryTimeout):
        run_query({"kind": "TrendsQuery", "series": [{"event": "bulk"}]}, context)


def test_breakdown_limit_is_capped(busy: Ingest) -> None:
    query = {
        "kind": "TrendsQuery",
        "series": [{"event": "bulk"}],
        "breakdownFilter": {"breakdown": "distinct_id", "breakdown_type": "hogql"},
    }
    query["breakdownFilter"]["breakdown_limit"] = MAX_BREAKDOWN_LIMIT + 1  # type: ignore[index]
    with pytest.raises(BreakdownLimitTooLarge) as raised:
        run(busy, query)
    assert f"{MAX_BREAKDOWN_LIMIT:,}" in raised.value.message
    query["breakdownFilter"]["breakdown_limit"] = MAX_BREAKDOWN_LIMIT  # type: ignore[index]
    assert run(busy, query)["results"]


@pytest.mark.parametrize(
    ("interval", "date_from"), [("hour", "-200y"), ("hour", "-10y"), ("day", "-200y")]
)
def test_too_many_buckets_are_refused_before_any_work(
    ingest: Ingest, interval: str, date_from: str
) -> None:
    query = {
        "kind": "TrendsQuery",
        "series": [{"event": "x"}],
        "interval": interval,
        "dateRange": {"date_from": date_from},
    }
    with pytest.raises(TooManyBuckets) as raised:
        run(ingest, query)
    assert raised.value.code == "too_many_buckets" and "50,000" in raised.value.message
