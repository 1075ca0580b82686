"""$feature_flag_called usage per flag and value, alike on DuckDB and ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from magpie.flags.usage import UsageRow, flag_usage
from tests.golden.conftest import Engines, engines_over
from tests.harness import Ingest

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _calls(ingest: Ingest) -> None:
    sent = [
        ("checkout", "test", "u1"),
        ("checkout", "test", "u1"),
        ("checkout", "test", "u2"),
        ("checkout", "control", "u3"),
        ("checkout", False, "u4"),
        ("beta", True, "u1"),
        ("beta", True, "u2"),
        ("beta", False, "u5"),
    ]
    for key, response, distinct_id in sent:
        ingest.send(
            ingest.event(
                "$feature_flag_called",
                distinct_id,
                anonymous=True,
                after=timedelta(minutes=1),
                **{"$feature_flag": key, "$feature_flag_response": response},
            )
        )
    ingest.send(ingest.event("$pageview", "u1", anonymous=True, **{"$feature_flag": "checkout"}))


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, _calls)


@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
def test_calls_by_value(engines: Engines, engine: str) -> None:
    project = engines.ingest.project_id
    runner = engines.runners[engine]
    since, until = NOW - timedelta(days=400), NOW + timedelta(days=400)
    assert flag_usage(runner, project, "checkout", since, until) == [
        UsageRow("test", 3, 2),
        UsageRow("control", 1, 1),
        UsageRow("false", 1, 1),
    ]
    assert flag_usage(runner, project, "beta", since, until) == [
        UsageRow("true", 2, 2),
        UsageRow("false", 1, 1),
    ]
    assert flag_usage(runner, project, "nothing", since, until) == []
    assert flag_usage(runner, project, "beta", until, until + timedelta(days=1)) == []
