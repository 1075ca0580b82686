"""A cohort's definition → the HogQL query that lists its members.

The query reads the logical ``persons`` table, so only persons can be
members: an anonymous visitor has no row there, whatever it did. Person
properties are conditions on that row; behaviour is one pass over ``events``
grouped by person (``behaviour.Scan``), joined to it; another cohort is its
definition inlined (so it is as fresh as this one), or, for a static cohort,
its stored members. Each leaf is true or false for every person (never
unknown), so a negation is the complement within the persons.

The query compiles for any dialect like every insight, so membership is
computed by whichever engine holds the events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from magpie.cohorts.behaviour import BEHAVIOURS, PERSON, SCAN_ALIAS, ActionConditions, Scan
from magpie.cohorts.definition import (
    CohortGroup,
    CohortProperty,
    cohort_id,
    leaves,
    parse_definition,
)
from magpie.errors import InvalidInput
from magpie.query.dialects.base import Dialect
from magpie.query.filters import cohort_members, field
from magpie.query.operators import operator
from magpie.store.model import Cohort

CohortLookup = Callable[[int], Cohort | None]


class CohortCycle(InvalidInput):
    code = "cohort_cycle"


@dataclass
class _Build:
    scan: Scan
    lookup: CohortLookup
    # The cohorts whose definitions are being inlined, outermost first.
    path: tuple[int, ...]


def membership_query(
    owner_id: int,
    group: CohortGroup,
    now: datetime,
    dialect: Dialect,
    lookup: CohortLookup,
    actions: ActionConditions | None = None,
) -> exp.Select:
    """``SELECT persons.id`` of the persons in the cohort defined by ``group``.

    ``owner_id`` is the cohort being defined and ``lookup`` finds the
    project's other cohorts (for nested ones); a cohort that reaches itself is
    refused (``cohort_cycle``). ``actions`` gives the condition of an action a
    behavioural leaf names (``event_type: "actions"``).
    """
    build = _Build(Scan(now, dialect, actions), lookup, (owner_id,))
    condition = _group(group, build)
    query = exp.select(exp.alias_(PERSON.copy(), "id")).from_("persons")
    behaviour = build.scan.query()
    if behaviour is not None:
        query = query.join(
            exp.Subquery(this=behaviour, alias=exp.TableAlias(this=exp.to_identifier(SCAN_ALIAS))),
            join_type="left",
            on=exp.EQ(this=exp.column("person_id", SCAN_ALIAS), expression=PERSON.copy()),
        )
    return query.where(condition)


def _group(group: CohortGroup, build: _Build) -> exp.Expr:
    # A group without leaves (an editor's empty row) is left out, as PostHog does:
    # it neither lets everyone in through an OR nor shuts everyone out of an AND.
    parts = [
        exp.paren(_group(item, build) if isinstance(item, CohortGroup) else _leaf(item, build))
        for item in group.values
        if not isinstance(item, CohortGroup) or any(True for _ in leaves(item))
    ]
    if not parts:
        return exp.false()
    return exp.and_(*parts) if group.type == "AND" else exp.or_(*parts)


def _leaf(leaf: CohortProperty, build: _Build) -> exp.Expr:
    condition = LEAVES[leaf.type](leaf, build)
    # Unknown (a missing property) is false, and so its negation true.
    known = exp.func("coalesce", condition, exp.false())
    negated = leaf.negation or (leaf.type == "cohort" and leaf.operator == "not_in")
    return exp.Not(this=exp.paren(known)) if negated else known


def _person(leaf: CohortProperty, build: _Build) -> exp.Expr:
    prop = field("persons", "properties", str(leaf.key))
    return operator(leaf.operator).sql(prop, leaf.value, build.scan.now)


def _behavioural(leaf: CohortProperty, build: _Build) -> exp.Expr:
    kind = BEHAVIOURS.get(str(leaf.value))
    if kind is None:
        raise InvalidInput(
            f"unknown behavioural filter {str(leaf.value)[:64]!r}; kinds are"
            f" {', '.join(BEHAVIOURS)}",
            attr="value",
        )
    return kind(leaf, build.scan)


def _cohort(leaf: CohortProperty, build: _Build) -> exp.Expr:
    other_id = cohort_id(leaf)
    if other_id in build.path:
        raise CohortCycle(
            f"cohort {other_id} includes itself through"
            f" {' → '.join(str(c) for c in (*build.path, other_id))}",
            attr="filters",
        )
    other = build.lookup(other_id)
    if other is None or other.deleted:
        raise InvalidInput(f"cohort filter: no cohort {other_id}", attr="filters")
    if other.is_static:
        return exp.In(this=PERSON.copy(), query=cohort_members(other_id))
    nested = _Build(build.scan, build.lookup, (*build.path, other_id))
    return _group(parse_definition(other.filters), nested)


LEAVES: dict[str, Callable[[CohortProperty, _Build], exp.Expr]] = {
    "person": _person,
    "behavioral": _behavioural,
    "cohort": _cohort,
}
