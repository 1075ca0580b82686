"""Both engines over the same events: the DuckDB store the harness ingests into,
and a ClickHouse database (chdb) holding a copy of every row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from magpie.errors import MagpieError
from magpie.query.context import QueryContext
from magpie.query.kinds import run_query
from magpie.query.runner import QueryRunner
from tests.clickhouse import (
    clickhouse_runner,
    copy_to_clickhouse,
    events_as_ingested,
    new_database,
)
from tests.harness import Ingest


@dataclass
class Answer:
    value: dict[str, Any] | None
    error: tuple[int, str] | None  # (status, code) of a refusal


@dataclass
class Engines:
    ingest: Ingest
    runners: dict[str, QueryRunner]

    def run(self, engine: str, payload: dict[str, Any], now: datetime, project_id: int) -> Answer:
        project = self.ingest.magpie.projects.get(project_id)
        assert project is not None
        context = QueryContext(
            project, self.runners[engine], now, actions=self.ingest.magpie.stores.actions
        )
        try:
            return Answer(run_query(payload, context), None)
        except MagpieError as exc:
            return Answer(None, (exc.status, exc.code))


def engines_over(
    tmp_path_factory: pytest.TempPathFactory, dsn: str, fill: Callable[[Ingest], None]
) -> Iterator[Engines]:
    ingest = Ingest(tmp_path_factory.mktemp("golden") / "data")
    with events_as_ingested() as events:
        fill(ingest)
    client, database = new_database(dsn, "golden")
    copy_to_clickhouse(ingest, client, events)
    yield Engines(
        ingest,
        {"duckdb": ingest.magpie.query_runner, "clickhouse": clickhouse_runner(client, database)},
    )
    ingest.close()
    client.command(f"DROP DATABASE IF EXISTS {database}")
