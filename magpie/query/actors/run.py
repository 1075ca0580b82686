"""ActorsQuery: one page of the actors a source names, with their properties."""

from __future__ import annotations

from typing import Any

from magpie.errors import InvalidInput
from magpie.query.actors.cache import cached_actors
from magpie.query.actors.lookup import PAGES
from magpie.query.actors.models import ActorsQuery
from magpie.query.actors.sources import ACTOR_SOURCES
from magpie.query.context import QueryContext

# The columns an actors page can show, from each actor's row.
COLUMNS: dict[str, Any] = {
    "actor": lambda actor: actor,
    "id": lambda actor: actor["id"],
    "distinct_id": lambda actor: actor.get("distinct_ids", [None])[0],
    "created_at": lambda actor: actor.get("created_at"),
    "is_identified": lambda actor: actor.get("is_identified"),
}


def run_actors(query: ActorsQuery, context: QueryContext) -> dict[str, Any]:
    select = query.select or ["actor"]
    unknown = [c for c in select if c not in COLUMNS]
    if unknown:
        raise InvalidInput(
            f"ActorsQuery can select {', '.join(COLUMNS)}, not {unknown[0][:100]!r}", attr="select"
        )
    # Pages of one list come from one computation of it (see cache.py).
    actors = cached_actors(
        query.source, context, lambda: ACTOR_SOURCES[query.source.kind](query.source, context)
    )
    page = actors.ids[query.offset : query.offset + query.limit]
    shown = PAGES[actors.kind](actors, page, context)
    context.check_deadline()
    return {
        "columns": select,
        "results": [[COLUMNS[c](actor) for c in select] for actor in shown],
        "hasMore": len(actors.ids) > query.offset + query.limit,
        "limit": query.limit,
        "offset": query.offset,
        "timings": context.timings,
    }
