"""Property filters → HogQL conditions, by filter type (event, person, group, hogql).

The conditions are HogQL expressions over the virtual tables (``properties.x``,
``person.properties.x``), so the compiler resolves them like any column a user
writes: materialised columns are used where they exist and the project scope
applies. A person-property filter only ever matches events that have a person:
anonymous visitors have no person properties to match, not even negatively.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from magpie.errors import InvalidInput
from magpie.query.hogql.dialect import HogQL
from magpie.query.models import Properties, PropertyFilter, PropertyGroup
from magpie.query.operators import operator


def field(*parts: str) -> exp.Expr:
    """A HogQL column from its path, e.g. field("person", "properties", "email")."""
    identifiers = [exp.to_identifier(p, quoted=True) for p in parts]
    if len(identifiers) <= 4:
        names = ["this", "table", "db", "catalog"]
        return exp.Column(**dict(zip(names, reversed(identifiers), strict=False)))
    return exp.Dot.build([exp.Column(this=identifiers[0]), *identifiers[1:]])


# Where a property of each kind is read on an event: key, group type index → HogQL.
PROPERTY_FIELDS: dict[str, Callable[[str, int], exp.Expr]] = {
    "event": lambda key, index: field("properties", key),
    "person": lambda key, index: field("person", "properties", key),
    "group": lambda key, index: field(f"group_{index}", "properties", key),
}


def valid_group_index(index: int | None, message: str, attr: str) -> int:
    if index is None or not 0 <= index <= 4:
        raise InvalidInput(message, attr=attr)
    return index


def _event(f: PropertyFilter, now: datetime) -> exp.Expr:
    return operator(f.operator).sql(PROPERTY_FIELDS["event"](f.key, 0), f.value, now)


def _no_person() -> exp.Expr:
    return exp.Is(this=field("person", "created_at"), expression=exp.Null())


def _has_person() -> exp.Expr:
    return exp.Not(this=_no_person())


def _person(f: PropertyFilter, now: datetime) -> exp.Expr:
    condition = operator(f.operator).sql(PROPERTY_FIELDS["person"](f.key, 0), f.value, now)
    return exp.and_(_has_person(), condition)


def _person_exclusion(f: PropertyFilter, now: datetime) -> exp.Expr:
    """In an exclusion list (filter out test accounts), an event without a person is
    never the one excluded: anonymous traffic is kept."""
    condition = operator(f.operator).sql(PROPERTY_FIELDS["person"](f.key, 0), f.value, now)
    return exp.or_(_no_person(), condition)


def _group(f: PropertyFilter, now: datetime) -> exp.Expr:
    index = valid_group_index(
        f.group_type_index, "a group filter needs group_type_index 0-4", "group_type_index"
    )
    return operator(f.operator).sql(PROPERTY_FIELDS["group"](f.key, index), f.value, now)


def _hogql(f: PropertyFilter, now: datetime) -> exp.Expr:
    return hogql_expression(f.key)


def cohort_members(cohort_id: int) -> exp.Expr:
    """The stored members of a cohort, as a subquery of person ids."""
    members = (
        exp.select(field("person_id"))
        .from_("cohort_people")
        .where(exp.EQ(this=field("cohort_id"), expression=exp.Literal.number(cohort_id)))
    )
    return exp.Subquery(this=members)


def in_cohort(cohort_id: int) -> exp.Expr:
    """The event's person is a member of the cohort (as last computed)."""
    return exp.In(this=field("person_id"), query=cohort_members(cohort_id))


def cohort_id_of(value: object, attr: str = "value") -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput("a cohort filter's value is a cohort id", attr=attr)
    try:
        found = int(value)
    except ValueError:
        raise InvalidInput(
            f"a cohort filter's value is a cohort id, not {str(value)[:64]!r}", attr=attr
        ) from None
    if not 0 <= found < 2**63:
        raise InvalidInput("a cohort id is a whole number, not negative", attr=attr)
    return found


def _cohort_membership(f: PropertyFilter) -> exp.Expr:
    member = in_cohort(cohort_id_of(f.value))
    return exp.Not(this=member) if f.negation or f.operator == "not_in" else member


def _cohort(f: PropertyFilter, now: datetime) -> exp.Expr:
    """``{"type": "cohort", "key": "id", "value": N}``: the event's person is in cohort
    N (``operator: "not_in"`` or ``negation``: is not). Like person properties, it
    only ever matches events that have a person."""
    return exp.and_(_has_person(), _cohort_membership(f))


def _cohort_exclusion(f: PropertyFilter, now: datetime) -> exp.Expr:
    return exp.or_(_no_person(), _cohort_membership(f))


FILTER_TYPES: dict[str, Callable[[PropertyFilter, datetime], exp.Expr]] = {
    "event": _event,
    "person": _person,
    "group": _group,
    "hogql": _hogql,
    "cohort": _cohort,
}


def hogql_expression(text: str) -> exp.Expr:
    try:
        return sqlglot.parse_one(text, read=HogQL, into=exp.Condition)
    except (ParseError, TokenError) as exc:
        raise InvalidInput(f"cannot parse the HogQL expression {text!r}: {exc}") from None


# In an exclusion list, the filter types about persons keep events without one.
EXCLUSION_TYPES: dict[str, Callable[[PropertyFilter, datetime], exp.Expr]] = {
    "person": _person_exclusion,
    "cohort": _cohort_exclusion,
}


def property_condition(f: PropertyFilter, now: datetime, *, exclusion: bool = False) -> exp.Expr:
    build = (EXCLUSION_TYPES.get(f.type) if exclusion else None) or FILTER_TYPES.get(f.type)
    if build is None:
        raise InvalidInput(
            f"unknown filter type {f.type!r}; types are {', '.join(sorted(FILTER_TYPES))}",
            attr="type",
        )
    return build(f, now)


def properties_condition(
    properties: Properties, now: datetime, *, exclusion: bool = False
) -> exp.Expr | None:
    """AND of a list, or a nested AND/OR group; None when there is nothing to filter.

    ``exclusion`` marks lists that describe what to keep by excluding someone
    (test accounts), where events without a person always stay.
    """
    if properties is None:
        return None
    if isinstance(properties, PropertyGroup):
        return _combine(properties.type, properties.values, now, exclusion)
    return _combine("AND", properties, now, exclusion)


def _combine(
    kind: str, items: Sequence[PropertyFilter | PropertyGroup], now: datetime, exclusion: bool
) -> exp.Expr | None:
    parts = []
    for item in items:
        condition = (
            _combine(item.type, item.values, now, exclusion)
            if isinstance(item, PropertyGroup)
            else property_condition(item, now, exclusion=exclusion)
        )
        if condition is not None:
            parts.append(exp.paren(condition))
    if not parts:
        return None
    return exp.and_(*parts) if kind == "AND" else exp.or_(*parts)
