"""The tables HogQL queries see, and how each becomes a project-scoped subquery.

Users query virtual tables (``events``, ``persons``, ``person_distinct_ids``,
``groups``); the compiler replaces each reference with a subquery over the
stored tables that filters on the project, so no query can see another
project's rows. Joins are added only when the query needs them: merge
overrides when ``person_id`` or ``person.*`` is read, persons when
``person.*`` is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from magpie.store.columns import MATERIALIZED_PROPERTIES


@dataclass(frozen=True)
class Scalar:
    column: str  # the subquery's column
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Json:
    column: str
    # property key → subquery column holding it (materialised properties)
    materialized: dict[str, str] = field(default_factory=dict)
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Nested:
    """A joined object, e.g. ``events.person``: its own fields."""

    fields: dict[str, Scalar | Json]


Field = Scalar | Json | Nested


@dataclass(frozen=True)
class VirtualTable:
    name: str
    fields: dict[str, Field]
    # Public columns, in order, for SELECT *.
    star: tuple[str, ...]
    build: Callable[[frozenset[str], int], exp.Select]


def _project_filter(alias: str, project_id: int) -> exp.Expr:
    return exp.EQ(this=exp.column("project_id", alias), expression=exp.Literal.number(project_id))


def _col(name: str, table: str, alias: str | None = None) -> exp.Expr:
    column = exp.column(name, table)
    return exp.alias_(column, alias) if alias and alias != name else column


# -- events ------------------------------------------------------------------

_EVENT_SCALARS = (
    "uuid",
    "event",
    "distinct_id",
    "timestamp",
    "elements_chain",
    "person_mode",
    "created_at",
)
_PERSON = frozenset({"person"})
_PERSON_ID = frozenset({"person_id"})

EVENT_FIELDS: dict[str, Field] = {
    **{name: Scalar(name) for name in _EVENT_SCALARS},
    "properties": Json("properties", materialized=dict(MATERIALIZED_PROPERTIES)),
    "person_id": Scalar("person_id", needs=_PERSON_ID),
    "$session_id": Scalar("mat_session_id"),
    **{f"$group_{i}": Scalar(f"group_{i}") for i in range(5)},
    "person": Nested(
        {
            "id": Scalar("person_id", needs=_PERSON_ID),
            "properties": Json("person_properties", needs=_PERSON),
            "created_at": Scalar("person_created_at", needs=_PERSON),
            "is_identified": Scalar("person_is_identified", needs=_PERSON),
        }
    ),
    # The group each event belongs to for group type index N (events.group_N.properties.x).
    **{
        f"group_{i}": Nested(
            {
                "key": Scalar(f"group_{i}"),
                "properties": Json(f"group_{i}_properties", needs=frozenset({f"group_{i}"})),
                "created_at": Scalar(f"group_{i}_created_at", needs=frozenset({f"group_{i}"})),
            }
        )
        for i in range(5)
    },
}


def _events(needs: frozenset[str], project_id: int) -> exp.Select:
    resolved_person = (
        exp.func("coalesce", exp.column("person_uuid", "o"), exp.column("person_id", "e"))
        if needs & {"person_id", "person"}
        else exp.column("person_id", "e")
    )
    columns: list[exp.Expr] = [
        *(_col(name, "e") for name in _EVENT_SCALARS),
        _col("properties", "e"),
        exp.alias_(resolved_person, "person_id"),
        *(_col(column, "e") for column in MATERIALIZED_PROPERTIES.values()),
        *(_col(f"group_{i}", "e") for i in range(5)),
    ]
    query = exp.select(*columns).from_("events AS e").where(_project_filter("e", project_id))
    if needs & {"person_id", "person"}:
        query = query.join(
            "person_overrides AS o",
            join_type="left",
            on="o.project_id = e.project_id AND o.distinct_id = e.distinct_id",
        )
    if "person" in needs:
        query = query.join(
            "persons AS p",
            join_type="left",
            on=exp.and_(
                exp.condition("p.project_id = e.project_id"),
                exp.EQ(this=exp.column("uuid", "p"), expression=resolved_person.copy()),
            ),
        ).select(
            _col("properties", "p", "person_properties"),
            _col("created_at", "p", "person_created_at"),
            _col("is_identified", "p", "person_is_identified"),
        )
    for index in range(5):
        if f"group_{index}" in needs:
            alias = f"g{index}"
            query = query.join(
                f"groups AS {alias}",
                join_type="left",
                on=exp.and_(
                    exp.condition(f"{alias}.project_id = e.project_id"),
                    exp.condition(f"{alias}.group_type_index = {index}"),
                    exp.condition(f"{alias}.group_key = e.group_{index}"),
                ),
            ).select(
                _col("properties", alias, f"group_{index}_properties"),
                _col("created_at", alias, f"group_{index}_created_at"),
            )
    return query


# -- persons, distinct ids, groups ----------------------------------------------

PERSON_FIELDS: dict[str, Field] = {
    "id": Scalar("id"),
    "created_at": Scalar("created_at"),
    "properties": Json("properties"),
    "is_identified": Scalar("is_identified"),
    "last_seen_at": Scalar("last_seen_at"),
}


def _persons(needs: frozenset[str], project_id: int) -> exp.Select:
    return (
        exp.select(
            _col("uuid", "p", "id"),
            _col("created_at", "p"),
            _col("properties", "p"),
            _col("is_identified", "p"),
            _col("last_seen_at", "p"),
        )
        .from_("persons AS p")
        .where(_project_filter("p", project_id))
    )


DISTINCT_ID_FIELDS: dict[str, Field] = {
    "distinct_id": Scalar("distinct_id"),
    "person_id": Scalar("person_id"),
}


def _distinct_ids(needs: frozenset[str], project_id: int) -> exp.Select:
    return (
        exp.select(_col("distinct_id", "d"), _col("person_uuid", "d", "person_id"))
        .from_("person_distinct_ids AS d")
        .where(_project_filter("d", project_id))
    )


GROUP_FIELDS: dict[str, Field] = {
    "group_type_index": Scalar("group_type_index"),
    "group_type": Scalar("group_type"),
    "group_key": Scalar("group_key"),
    "properties": Json("properties"),
    "created_at": Scalar("created_at"),
}


def _groups(needs: frozenset[str], project_id: int) -> exp.Select:
    return (
        exp.select(
            _col("group_type_index", "g"),
            _col("group_type", "m"),
            _col("group_key", "g"),
            _col("properties", "g"),
            _col("created_at", "g"),
        )
        .from_("groups AS g")
        .join(
            "group_type_mapping AS m",
            join_type="left",
            on="m.project_id = g.project_id AND m.group_type_index = g.group_type_index",
        )
        .where(_project_filter("g", project_id))
    )


TABLES: dict[str, VirtualTable] = {
    "events": VirtualTable(
        "events",
        EVENT_FIELDS,
        (
            "uuid",
            "event",
            "distinct_id",
            "timestamp",
            "properties",
            "elements_chain",
            "person_id",
            "person_mode",
            "created_at",
            "$session_id",
        ),
        _events,
    ),
    "persons": VirtualTable("persons", PERSON_FIELDS, tuple(PERSON_FIELDS), _persons),
    "person_distinct_ids": VirtualTable(
        "person_distinct_ids", DISTINCT_ID_FIELDS, tuple(DISTINCT_ID_FIELDS), _distinct_ids
    ),
    "groups": VirtualTable("groups", GROUP_FIELDS, tuple(GROUP_FIELDS), _groups),
}
