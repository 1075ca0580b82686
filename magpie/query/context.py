"""What a query runs with: its project, the engine and its dialect, the time, its
timings, and the project's actions it names (each read and compiled once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlglot import exp

from magpie.errors import UnknownAction
from magpie.query.actions import CompiledAction, compile_action
from magpie.query.deadline import Deadline
from magpie.query.dialects.base import Dialect
from magpie.query.filters import field as hogql_field
from magpie.query.hogql.compiler import CompiledQuery, compile_hogql
from magpie.query.models import PropertyFilter
from magpie.query.runner import QueryResult, QueryRunner
from magpie.store.model import Action


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


class ActionSource(Protocol):
    """Where a query reads the actions it names (the project's action store)."""

    def get(self, project_id: int, action_id: int) -> Action | None: ...


@dataclass
class QueryContext:
    project: ProjectSettings
    runner: QueryRunner
    now: datetime  # aware, UTC
    timings: list[dict[str, Any]] = field(default_factory=list)
    # One deadline for everything the query does, from the moment it arrived.
    deadline: Deadline | None = None
    # The project's actions; None where a caller has none to offer (then a query
    # that names an action is refused like one naming an unknown action).
    actions: ActionSource | None = None
    # The engine's dialect: every query of this context compiles for it.
    dialect: Dialect = field(init=False)
    _compiled_actions: dict[int, CompiledAction] = field(
        default_factory=dict, init=False, repr=False
    )

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

    def action(self, action_id: int) -> CompiledAction:
        """The action as this query matches it, read from the store the first time
        it is asked for; unknown and deleted actions are refused (400)."""
        compiled = self._compiled_actions.get(action_id)
        if compiled is None:
            found = None if self.actions is None else self.actions.get(self.project.id, action_id)
            if found is None or found.deleted:
                raise UnknownAction(
                    f"action {action_id} does not exist in this project (or was deleted)",
                    attr="id",
                )
            compiled = compile_action(found, self.now_naive)
            self._compiled_actions[action_id] = compiled
        return compiled

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
