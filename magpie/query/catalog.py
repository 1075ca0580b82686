"""The tables and columns as HogQL sees them: the logical catalog.

Users query ``events``, ``persons``, ``person_distinct_ids``, ``groups`` and
``cohort_people``.
Nothing here knows how an engine stores them: each dialect
(``magpie/query/dialects/``) turns a logical table into a project-scoped
subquery over its own stored tables, and that subquery gives every field the
column name written here. Which stored tables and joins a field needs, and
which properties live in materialised columns, is the dialect's business.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP_INDEXES = range(5)


@dataclass(frozen=True)
class Scalar:
    """A plain value; ``column`` is its name in the table's subquery."""

    column: str


@dataclass(frozen=True)
class Json:
    """A JSON object whose keys are read as text (``properties.$browser``)."""

    column: str


@dataclass(frozen=True)
class Nested:
    """A joined object, e.g. ``events.person``: its own fields."""

    fields: dict[str, Scalar | Json]


Field = Scalar | Json | Nested


@dataclass(frozen=True)
class LogicalTable:
    name: str
    fields: dict[str, Field]
    # Public columns, in order, for SELECT *.
    star: tuple[str, ...]


_EVENT_SCALARS = (
    "uuid",
    "event",
    "distinct_id",
    "timestamp",
    "elements_chain",
    "person_mode",
    "created_at",
)

EVENTS = LogicalTable(
    "events",
    {
        **{name: Scalar(name) for name in _EVENT_SCALARS},
        "properties": Json("properties"),
        # Resolved through identity merges: events sent before an identify count
        # for the merged person.
        "person_id": Scalar("person_id"),
        "$session_id": Scalar("$session_id"),
        **{f"$group_{i}": Scalar(f"$group_{i}") for i in GROUP_INDEXES},
        "person": Nested(
            {
                "id": Scalar("person_id"),
                "properties": Json("person_properties"),
                "created_at": Scalar("person_created_at"),
                "is_identified": Scalar("person_is_identified"),
            }
        ),
        # The event's group of type index N (events.group_N.properties.x).
        **{
            f"group_{i}": Nested(
                {
                    "key": Scalar(f"$group_{i}"),
                    "properties": Json(f"group_{i}_properties"),
                    "created_at": Scalar(f"group_{i}_created_at"),
                }
            )
            for i in GROUP_INDEXES
        },
    },
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
)

# Only people with a person profile: anonymous visitors never appear here.
PERSONS = LogicalTable(
    "persons",
    {
        "id": Scalar("id"),
        "created_at": Scalar("created_at"),
        "properties": Json("properties"),
        "is_identified": Scalar("is_identified"),
        "last_seen_at": Scalar("last_seen_at"),
    },
    ("id", "created_at", "properties", "is_identified", "last_seen_at"),
)

PERSON_DISTINCT_IDS = LogicalTable(
    "person_distinct_ids",
    {"distinct_id": Scalar("distinct_id"), "person_id": Scalar("person_id")},
    ("distinct_id", "person_id"),
)

GROUPS = LogicalTable(
    "groups",
    {
        "group_type_index": Scalar("group_type_index"),
        "group_type": Scalar("group_type"),
        "group_key": Scalar("group_key"),
        "properties": Json("properties"),
        "created_at": Scalar("created_at"),
    },
    ("group_type_index", "group_type", "group_key", "properties", "created_at"),
)

# Stored cohort membership: one row per (cohort, member person), the membership
# last computed (or uploaded, for a static cohort).
COHORT_PEOPLE = LogicalTable(
    "cohort_people",
    {"cohort_id": Scalar("cohort_id"), "person_id": Scalar("person_id")},
    ("cohort_id", "person_id"),
)

TABLES: dict[str, LogicalTable] = {
    table.name: table for table in (EVENTS, PERSONS, PERSON_DISTINCT_IDS, GROUPS, COHORT_PEOPLE)
}
