"""Where actors come from: a registry per source kind, and, for
``InsightActorsQuery``, per insight kind. An insight adds its actors by adding
an entry: ``INSIGHT_ACTORS["RetentionQuery"] = (RetentionQuery, retention_actors)``,
where the function takes the validated insight, the InsightActorsQuery (its
``day``, ``series``, ``breakdown``, ``status`` …) and the context, and returns an
``ActorSet``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from magpie.errors import InvalidInput
from magpie.query.actors import activity
from magpie.query.actors.actor_set import ActorSet
from magpie.query.actors.models import InsightActorsQuery
from magpie.query.actors.trends import trends_actors
from magpie.query.context import QueryContext
from magpie.query.funnels.actors import funnel_actors
from magpie.query.lifecycle import LifecycleQuery
from magpie.query.models import TrendsQuery
from magpie.query.paths import PathsQuery
from magpie.query.retention import RetentionQuery
from magpie.query.stickiness import StickinessQuery

InsightActors = Callable[[Any, InsightActorsQuery, QueryContext], ActorSet]

# insight kind → (its model, the actors behind one of its values)
INSIGHT_ACTORS: dict[str, tuple[type[BaseModel], InsightActors]] = {
    "TrendsQuery": (TrendsQuery, trends_actors),
    "RetentionQuery": (RetentionQuery, activity.retention),
    "LifecycleQuery": (LifecycleQuery, activity.lifecycle),
    "StickinessQuery": (StickinessQuery, activity.stickiness),
    "PathsQuery": (PathsQuery, activity.paths),
}


def insight_actors(source: InsightActorsQuery, context: QueryContext) -> ActorSet:
    kind = source.source.get("kind")
    known = ", ".join(sorted(INSIGHT_ACTORS))
    if not isinstance(kind, str) or kind not in INSIGHT_ACTORS:
        raise InvalidInput(f"source.source.kind must be one of {known}", attr="source.source.kind")
    model, actors = INSIGHT_ACTORS[kind]
    try:
        insight = model.model_validate(source.source)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"source.source.{path}: {first['msg']}", attr=f"source.source.{path}"
        ) from None
    return actors(insight, source, context)


# source kind → the actors it names
ACTOR_SOURCES: dict[str, Callable[[Any, QueryContext], ActorSet]] = {
    "InsightActorsQuery": insight_actors,
    "FunnelsActorsQuery": funnel_actors,
}
