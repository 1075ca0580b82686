"""Query kinds → their runners. A new insight is one more entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from magpie.errors import InvalidInput
from magpie.query.actors.models import ActorsQuery
from magpie.query.actors.run import run_actors
from magpie.query.context import QueryContext
from magpie.query.errors import QueryTooComplex
from magpie.query.funnels.models import FunnelsQuery
from magpie.query.funnels.views import run_funnels
from magpie.query.hogql.compiler import compile_hogql
from magpie.query.models import HogQLQuery, TrendsQuery
from magpie.query.trends import run_trends


def run_hogql(query: HogQLQuery, context: QueryContext) -> dict[str, Any]:
    compiled = compile_hogql(query.query, context.project.id, query.values, dialect=context.dialect)
    result = context.execute(compiled)
    # The engine's SQL is not part of the answer: it names stored tables and columns.
    return {
        "columns": result.columns,
        "types": result.types,
        "results": result.results,
        "hogql": compiled.hogql,
        "timings": result.timings,
    }


KINDS: dict[str, tuple[type[BaseModel], Callable[[Any, QueryContext], dict[str, Any]]]] = {
    "HogQLQuery": (HogQLQuery, run_hogql),
    "TrendsQuery": (TrendsQuery, run_trends),
    "FunnelsQuery": (FunnelsQuery, run_funnels),
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
