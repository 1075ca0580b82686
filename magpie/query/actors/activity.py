"""The actors behind the numbers of retention, lifecycle, stickiness and paths, for
``InsightActorsQuery``: each kind names its number with the query's fields.

- retention: ``interval`` is the cohort's row (as PostHog names it); ``day``, if
  given, the value in that row (0 is the cohort itself, k those who came back k
  periods later); ``breakdown`` a breakdown value;
- lifecycle: ``day`` is the period as the result's ``days`` names it, ``status``
  the bar;
- stickiness: ``day`` is the number of intervals, ``series`` the series (0 by
  default), ``compare`` the range;
- paths: the source's ``pathsFilter.pathStartKey`` and ``pathEndKey``.
"""

from __future__ import annotations

from magpie.errors import InvalidInput
from magpie.query.actors.actor_set import ActorSet, actor_set
from magpie.query.actors.models import InsightActorsQuery
from magpie.query.context import QueryContext
from magpie.query.lifecycle import LifecycleQuery, lifecycle_actors
from magpie.query.paths import PathsQuery, path_actors
from magpie.query.retention import RetentionQuery, retention_actors
from magpie.query.stickiness import StickinessQuery, stickiness_actors


def _whole(value: str | int | None, attr: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    raise InvalidInput(f"{attr} must be a whole number", attr=attr)


def _one_breakdown(source: InsightActorsQuery) -> str | None:
    value = source.breakdown
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


def retention(
    insight: RetentionQuery, source: InsightActorsQuery, context: QueryContext
) -> ActorSet:
    cohort = _whole(source.interval, "interval")
    value = _whole(source.day, "day", default=0)
    ids = retention_actors(insight, context, cohort, value, _one_breakdown(source))
    return actor_set(ids, group_type_index=insight.aggregation_group_type_index)


def lifecycle(
    insight: LifecycleQuery, source: InsightActorsQuery, context: QueryContext
) -> ActorSet:
    if source.day is None or source.status is None:
        raise InvalidInput("a lifecycle bar is named by its day and status", attr="day")
    ids = lifecycle_actors(insight, context, str(source.day), source.status)
    return actor_set(ids, group_type_index=insight.aggregation_group_type_index)


def stickiness(
    insight: StickinessQuery, source: InsightActorsQuery, context: QueryContext
) -> ActorSet:
    intervals = _whole(source.day, "day")
    series = source.series or 0
    ids = stickiness_actors(insight, context, intervals, series, source.compare)
    node = insight.series[series] if series < len(insight.series) else None
    group = node.math_group_type_index if node and node.math == "unique_group" else None
    return actor_set(ids, group_type_index=group)


def paths(insight: PathsQuery, source: InsightActorsQuery, context: QueryContext) -> ActorSet:
    return actor_set(path_actors(insight, context))
