"""Actor lists kept between pages: a funnel step's (or any number's) actors are
computed once per insight and data version, and every further page is a slice.

Paging through "who dropped off at step 3" asks for the same list again and
again; computing it means running the whole insight (at 10M events, seconds),
while a page of it is a slice and a lookup of a hundred persons. So the list
(an ``ActorSet``: ids only, never properties, which each page reads fresh) is
kept, keyed by:

- the source as given (canonical JSON, without the page's limit and offset),
- what the project's settings change in its answer (time zone, week start,
  test account filters, path cleaning rules),
- the minute of ``now``: relative ranges (``-7d``) move with the clock,
- the data version: a handful of counts the engine answers from two columns
  (events: how many and the latest ``created_at``; persons, distinct ids,
  groups and cohort members: how many). Events, identities, merges and
  person and group properties all change through events, so any new data
  makes a new version and the list is computed again.

Each query runner has its own lists (two engines never share one), bounded by
the number of ids kept, least recently used first out.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import orjson
from pydantic import BaseModel
from sqlglot import exp

from magpie.query.actors.actor_set import ActorSet
from magpie.query.context import QueryContext
from magpie.query.filters import field

# Ids kept per runner, in all lists together (about 100 bytes each), and lists.
MAX_IDS = 2_000_000
MAX_LISTS = 64

# (logical table, the aggregates that change when its rows do)
_VERSION_PARTS: tuple[tuple[str, tuple[exp.Expr, ...]], ...] = (
    ("events", (exp.Count(this=exp.Star()), exp.Max(this=field("created_at")))),
    ("persons", (exp.Count(this=exp.Star()),)),
    ("person_distinct_ids", (exp.Count(this=exp.Star()),)),
    ("groups", (exp.Count(this=exp.Star()),)),
    ("cohort_people", (exp.Count(this=exp.Star()),)),
)


class ActorLists:
    """The lists of one runner, least recently used first."""

    def __init__(self) -> None:
        self._lists: OrderedDict[Hashable, ActorSet] = OrderedDict()
        self._ids = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> ActorSet | None:
        with self._lock:
            found = self._lists.get(key)
            if found is not None:
                self._lists.move_to_end(key)
            return found

    def put(self, key: Hashable, actors: ActorSet) -> None:
        size = len(actors.ids)
        if size > MAX_IDS:
            return
        with self._lock:
            if key in self._lists:
                return
            self._lists[key] = actors
            self._ids += size
            while self._ids > MAX_IDS or len(self._lists) > MAX_LISTS:
                _, dropped = self._lists.popitem(last=False)
                self._ids -= len(dropped.ids)


_BY_RUNNER: weakref.WeakKeyDictionary[Any, ActorLists] = weakref.WeakKeyDictionary()
_BY_RUNNER_LOCK = threading.Lock()


def _lists_of(runner: Any) -> ActorLists:
    with _BY_RUNNER_LOCK:
        lists = _BY_RUNNER.get(runner)
        if lists is None:
            lists = _BY_RUNNER[runner] = ActorLists()
        return lists


def data_version(context: QueryContext) -> tuple[Any, ...]:
    """What changes whenever the project's data does: one small query."""
    parts = [
        exp.select(*(exp.alias_(a.copy(), f"v{i}") for i, a in enumerate(aggregates))).from_(table)
        for table, aggregates in _VERSION_PARTS
    ]
    select = exp.select(exp.Star()).from_(exp.alias_(exp.paren(parts[0]), "q0"))
    for i, part in enumerate(parts[1:], start=1):
        select = select.join(exp.alias_(exp.paren(part), f"q{i}"), join_type="cross")
    rows = context.run(context.compile(select))
    return tuple(str(v) for v in rows[0]) if rows else ()


def _key(source: BaseModel, context: QueryContext) -> Hashable:
    project = context.project
    settings = orjson.dumps(
        [
            project.timezone,
            project.week_start_day,
            project.test_account_filters,
            project.path_cleaning_filters,
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    minute = context.now.replace(second=0, microsecond=0).isoformat()
    source_text = orjson.dumps(source.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return (project.id, settings, minute, source_text, data_version(context))


def cached_actors(
    source: BaseModel, context: QueryContext, compute: Callable[[], ActorSet]
) -> ActorSet:
    """The actors ``source`` names: kept from an earlier page of the same data, or
    computed (and kept)."""
    lists = _lists_of(context.runner)
    key = _key(source, context)
    found = lists.get(key)
    if found is not None:
        return found
    actors = compute()
    lists.put(key, actors)
    return actors
