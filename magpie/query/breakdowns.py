"""Breakdowns shared by the insight kinds: which value each event falls under,
how many values are kept, and how the rest fold into "other".

The value is a HogQL expression over ``events`` (compiled like any query, so
materialised columns and person joins apply); a missing value stays NULL in
SQL and is named ``BREAKDOWN_NULL`` by the caller, which is cheaper than
naming it per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.errors import BreakdownLimitTooLarge
from magpie.query.filters import (
    PROPERTY_FIELDS,
    cohort_id_of,
    hogql_expression,
    valid_group_index,
)
from magpie.query.limits import MAX_BREAKDOWN_LIMIT
from magpie.query.models import BreakdownFilter

BREAKDOWN_NULL = "$$_posthog_breakdown_null_$$"
BREAKDOWN_OTHER = "$$_posthog_breakdown_other_$$"


def _property(kind: str) -> Callable[[BreakdownFilter], exp.Expr]:
    return lambda f: PROPERTY_FIELDS[kind](str(f.breakdown), 0)


def _group(f: BreakdownFilter) -> exp.Expr:
    index = valid_group_index(
        f.breakdown_group_type_index,
        "a group breakdown needs breakdown_group_type_index 0-4",
        "breakdownFilter",
    )
    return PROPERTY_FIELDS["group"](str(f.breakdown), index)


def _hogql(f: BreakdownFilter) -> exp.Expr:
    # Properties are text already; an expression may be anything.
    return exp.cast(hogql_expression(str(f.breakdown)), exp.DataType.build("VARCHAR"))


# breakdown_type → the value each event is counted under
BREAKDOWN_TYPES: dict[str, Callable[[BreakdownFilter], exp.Expr]] = {
    "event": _property("event"),
    "person": _property("person"),
    "group": _group,
    "hogql": _hogql,
}


@dataclass(frozen=True)
class Breakdown:
    expression: exp.Expr  # HogQL over events
    limit: int  # values kept; the rest fold into BREAKDOWN_OTHER


def breakdown_of(breakdown: BreakdownFilter | None) -> Breakdown | None:
    """The breakdown a query asks for, or None without one."""
    if breakdown is None or breakdown.breakdown is None:
        return None
    kind = breakdown.breakdown_type or "event"
    if isinstance(breakdown.breakdown, list):
        raise InvalidInput(
            f"a {kind} breakdown names one property or expression, not a list",
            attr="breakdownFilter",
        )
    build = BREAKDOWN_TYPES.get(kind)
    if build is None:
        raise InvalidInput(f"breakdown_type {kind!r} is not supported yet", attr="breakdownFilter")
    return Breakdown(build(breakdown), breakdown_limit(breakdown))


ALL_USERS = "all"
MAX_COHORTS = 25


def cohort_breakdown(breakdown: BreakdownFilter | None) -> list[int | str] | None:
    """The cohorts a cohort breakdown counts events under (``"all"``: every event, as
    PostHog's "all users"), or None when the breakdown is of another kind. An event
    counts under each cohort its person is in, so the values need not add up."""
    if breakdown is None or breakdown.breakdown_type != "cohort" or breakdown.breakdown is None:
        return None
    named = breakdown.breakdown if isinstance(breakdown.breakdown, list) else [breakdown.breakdown]
    if not named or len(named) > MAX_COHORTS:
        raise InvalidInput(
            f"a cohort breakdown names 1 to {MAX_COHORTS} cohort ids", attr="breakdownFilter"
        )
    return [
        ALL_USERS if value == ALL_USERS else cohort_id_of(value, "breakdownFilter")
        for value in dict.fromkeys(named)
    ]


def breakdown_limit(breakdown: BreakdownFilter | None) -> int:
    if breakdown is None:
        return 0
    if breakdown.breakdown_limit > MAX_BREAKDOWN_LIMIT:
        raise BreakdownLimitTooLarge(
            f"breakdown_limit may be at most {MAX_BREAKDOWN_LIMIT:,} (the breakdown limit)",
            attr="breakdownFilter.breakdown_limit",
        )
    return max(1, breakdown.breakdown_limit)


# What a value is counted per: a time bucket, a funnel step, a retention period …
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Folded(Generic[K]):
    """The values (breakdown value → K → value) with the smaller ones added up under
    BREAKDOWN_OTHER, or all of them when there were no more than the limit."""

    values: dict[Any, dict[K, float]]


@dataclass(frozen=True)
class Recount:
    """Values that do not add up (distinct users): run the query again grouped by
    this expression, which keeps the top values and names the rest 'other'."""

    expression: exp.Expr
    kept: list[Any]


def fold_other(
    values: dict[Any, dict[K, float]], breakdown: Breakdown, *, additive: bool
) -> Folded[K] | Recount:
    """Keep the ``limit`` largest values (ties by name); fold the others."""
    if len(values) <= breakdown.limit:
        return Folded(values)
    ranked = sorted(values, key=lambda k: (-sum(values[k].values()), str(k)))
    kept, folded = ranked[: breakdown.limit], ranked[breakdown.limit :]
    if additive:
        other: dict[K, float] = defaultdict(float)
        for key in folded:
            for bucket, value in values[key].items():
                other[bucket] += value
        return Folded({**{k: values[k] for k in kept}, BREAKDOWN_OTHER: dict(other)})
    return Recount(_kept_or_other(breakdown.expression, kept), kept)


def _kept_or_other(expression: exp.Expr, kept: list[Any]) -> exp.Expr:
    literals = [exp.Literal.string(str(k)) for k in kept if k != BREAKDOWN_NULL]
    is_kept: exp.Expr = exp.In(this=expression.copy(), expressions=literals)
    if BREAKDOWN_NULL in kept:
        is_kept = exp.or_(is_kept, exp.Is(this=expression.copy(), expression=exp.Null()))
    return exp.If(this=is_kept, true=expression.copy(), false=exp.Literal.string(BREAKDOWN_OTHER))
