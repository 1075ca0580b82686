"""A page of actors as people read them: persons with their properties and
distinct ids, anonymous visitors by their distinct id, groups by their key.

Everything is read through the query layer (HogQL over ``persons``,
``person_distinct_ids``, ``events`` and ``groups``), so it works on every engine.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlglot import exp

from magpie.query.actors.actor_set import ActorSet
from magpie.query.context import QueryContext
from magpie.query.filters import field

# Ids after a page whose visitors the page's scan of the events names as well.
NAMED_AHEAD = 1_000


def _utc_text(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat() + "Z"


def _properties(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    parsed = orjson.loads(value)
    return parsed if isinstance(parsed, dict) else {}


def _in(column: exp.Expr, values: list[str]) -> exp.Expr:
    return exp.In(this=column, expressions=[exp.Literal.string(v) for v in values])


def _rows(context: QueryContext, query: exp.Select) -> list[list[Any]]:
    return context.run(context.compile(query))


def persons_page(actors: ActorSet, page: list[str], context: QueryContext) -> list[dict[str, Any]]:
    if not page:
        return []
    found = _rows(
        context,
        exp.select(field("id"), field("created_at"), field("properties"), field("is_identified"))
        .from_("persons")
        .where(_in(field("id"), page)),
    )
    persons = {str(r[0]): r for r in found}
    ids: dict[str, list[str]] = defaultdict(list)
    if persons:
        for person_id, distinct_id in _rows(
            context,
            exp.select(field("person_id"), field("distinct_id"))
            .from_("person_distinct_ids")
            .where(_in(field("person_id"), list(persons))),
        ):
            ids[str(person_id)].append(str(distinct_id))
    _name_visitors(actors, page, persons, context)
    names = actors.distinct_ids
    out = []
    for actor in page:
        row = persons.get(actor)
        if row is None:
            name = names.get(actor, actor)
            out.append(_anonymous(name))
            continue
        out.append(
            {
                "type": "person",
                "id": actor,
                "uuid": actor,
                "distinct_ids": sorted(ids.get(actor, [])),
                "properties": _properties(row[2]),
                "created_at": _utc_text(row[1]),
                "is_identified": bool(row[3]),
            }
        )
    return out


def _name_visitors(
    actors: ActorSet, page: list[str], persons: dict[str, Any], context: QueryContext
) -> None:
    """Find a distinct id for each anonymous visitor of ``page`` that the source did
    not name, from its events, and keep it in ``actors`` (the list kept between
    pages). Finding them is a scan of the events that costs about as much for a
    thousand ids as for a page's, so the ids of the pages after this one are
    named by the same scan (persons among them too, harmlessly: a person is shown
    by its profile, never by this name)."""
    known = actors.distinct_ids
    unnamed = [a for a in page if a not in persons and a not in known]
    if not unnamed:
        return
    after = bisect.bisect_right(actors.ids, page[-1])
    ahead = [a for a in actors.ids[after : after + NAMED_AHEAD] if a not in known]
    for person_id, distinct_id in _rows(
        context,
        exp.select(field("person_id"), exp.Min(this=field("distinct_id")))
        .from_("events")
        .where(_in(field("person_id"), unnamed + ahead))
        .group_by(field("person_id")),
    ):
        known.setdefault(str(person_id), str(distinct_id))


def _anonymous(distinct_id: str) -> dict[str, Any]:
    """A visitor without a person profile: known only by its distinct id."""
    return {
        "type": "person",
        "id": distinct_id,
        "uuid": None,
        "distinct_ids": [distinct_id],
        "properties": {},
        "created_at": None,
        "is_identified": False,
    }


def groups_page(actors: ActorSet, page: list[str], context: QueryContext) -> list[dict[str, Any]]:
    if not page:
        return []
    index = actors.group_type_index
    found = _rows(
        context,
        exp.select(field("group_key"), field("properties"), field("created_at"))
        .from_("groups")
        .where(
            exp.and_(
                exp.EQ(this=field("group_type_index"), expression=exp.Literal.number(index)),
                _in(field("group_key"), page),
            )
        ),
    )
    groups = {str(r[0]): r for r in found}
    out = []
    for key in page:
        row = groups.get(key)
        out.append(
            {
                "type": "group",
                "id": key,
                "group_key": key,
                "group_type_index": index,
                "properties": _properties(row[1]) if row else {},
                "created_at": _utc_text(row[2]) if row else None,
            }
        )
    return out


PAGES = {"person": persons_page, "group": groups_page}
