"""Query kinds → their runners. A new insight is one more entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.actors.models import ActorsQuery
from magpie.query.actors.run import run_actors
from magpie.query.context import QueryContext
from magpie.query.errors import QueryTooComplex
from magpie.query.funnels.models import FunnelsQuery
from magpie.query.funnels.views import run_funnels
from magpie.query.hogql.compiler import compile_hogql, parse
from magpie.query.hogql_filters import fill_filters
from magpie.query.lifecycle import LifecycleQuery, run_lifecycle
from magpie.query.models import HogQLQuery, TrendsQuery
from magpie.query.paths import PathsQuery, run_paths
from magpie.query.retention import RetentionQuery, run_retention
from magpie.query.stickiness import StickinessQuery, run_stickiness
from magpie.query.trends import run_trends


def run_hogql(query: HogQLQuery, context: QueryContext) -> dict[str, Any]:
    source: str | exp.Query = query.query
    if "{filters}" in query.query:
        source = parse(query.query)
        fill_filters(source, query.filters, context)
    compiled = compile_hogql(source, context.project.id, query.values, dialect=context.dialect)
    result = context.execute(compiled)
    # The engine's SQL is not part of the answer: it names stored tables and columns.
    return {
        "columns": result.columns,
        "types": result.types,
        "results": result.results,
        "hogql": query.query,
        "timings": result.timings,
    }


KINDS: dict[str, tuple[type[BaseModel], Callable[[Any, QueryContext], dict[str, Any]]]] = {
    "HogQLQuery": (HogQLQuery, run_hogql),
    "TrendsQuery": (TrendsQuery, run_trends),
    "FunnelsQuery": (FunnelsQuery, run_funnels),
    "RetentionQuery": (RetentionQuery, run_retention),
    "LifecycleQuery": (LifecycleQuery, run_lifecycle),
    "StickinessQuery": (StickinessQuery, run_stickiness),
    "PathsQuery": (PathsQuery, run_paths),
    "ActorsQuery": (ActorsQuery, run_actors),
}


def run_query(payload: Any, context: QueryContext) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput("query must be an object with a kind", attr="query")
    kind = payload.get("kind")
    known = ", ".join(sorted(KINDS))
    if not isinstance(kind, str):
        raise InvalidInput(f"query.kind must be one of {known}", attr="kind")
    if kind not in KINDS:
        raise InvalidInput(f"unknown query kind {kind[:100]!r}; kinds are {known}", attr="kind")
    model, runner = KINDS[kind]
    try:
        query = model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"] if not _is_union_branch(p))
        raise InvalidInput(f"{path}: {first['msg']}", attr=path or None) from None
    try:
        return runner(query, context)
    except RecursionError:
        # The SQL parser and compiler recurse once per level of nesting.
        raise QueryTooComplex(
            "the query nests too deeply to compile; flatten its parentheses or subqueries"
        ) from None


def _is_union_branch(part: int | str) -> bool:
    """pydantic names the union member it tried (``list[union[...]]``, ``PropertyFilter``)
    in an error's location; the caller's path has only field names and indexes."""
    return isinstance(part, str) and ("[" in part or part[:1].isupper())
