"""What a query runs with: its project, the engine and its dialect, the time, and
its timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlglot import exp

from magpie.query.deadline import Deadline
from magpie.query.dialects.base import Dialect
from magpie.query.filters import field as hogql_field
from magpie.query.hogql.compiler import CompiledQuery, compile_hogql
from magpie.query.models import PropertyFilter
from magpie.query.runner import QueryResult, QueryRunner


class ProjectSettings(Protocol):
    """What queries need to know of a project."""

    @property
    def id(self) -> int: ...

    @property
    def timezone(self) -> str: ...

    @property
    def test_account_filters(self) -> list[dict[str, Any]]: ...

    @property
    def week_start_day(self) -> int: ...

    @property
    def path_cleaning_filters(self) -> list[dict[str, Any]]: ...


@dataclass
class QueryContext:
    project: ProjectSettings
    runner: QueryRunner
    now: datetime  # aware, UTC
    timings: list[dict[str, Any]] = field(default_factory=list)
    # One deadline for everything the query does, from the moment it arrived.
    deadline: Deadline | None = None
    # The engine's dialect: every query of this context compiles for it.
    dialect: Dialect = field(init=False)

    def __post_init__(self) -> None:
        self.dialect = self.runner.dialect
        if self.deadline is None:
            self.deadline = self.runner.deadline()

    @property
    def now_naive(self) -> datetime:
        return self.now.astimezone(UTC).replace(tzinfo=None)

    @property
    def test_account_filters(self) -> list[PropertyFilter]:
        return [PropertyFilter.model_validate(f) for f in self.project.test_account_filters]

    @property
    def week_start(self) -> int:
        return self.project.week_start_day

    def compile(self, tree: exp.Query) -> CompiledQuery:
        """An insight's HogQL tree (handed over, not copied) for this engine, unlimited."""
        return compile_hogql(
            tree, self.project.id, dialect=self.dialect, default_limit=None, copy=False
        )

    def execute(self, compiled: CompiledQuery) -> QueryResult:
        result = self.runner.execute(compiled, deadline=self.deadline)
        self.timings.extend(result.timings)
        return result

    def run(self, compiled: CompiledQuery) -> list[list[Any]]:
        return self.execute(compiled).results

    def check_deadline(self) -> None:
        """For Python-side work between and after engine calls."""
        assert self.deadline is not None
        self.deadline.check()

    def earliest_event(self) -> datetime | None:
        query = exp.select(exp.Min(this=hogql_field("timestamp"))).from_("events")
        rows = self.run(self.compile(query))
        return rows[0][0] if rows and rows[0][0] else None
