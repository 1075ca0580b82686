"""Small SQL builders of the ordered funnel plan (``steps_sql.py``)."""

from __future__ import annotations

from sqlglot import exp

from magpie.query.funnels.models import FunnelsQuery

# Steps per funnel are at most 30: the step order fits below 32 in ``ord``.
ORDER_SLOTS = 32


def c(name: str) -> exp.Column:
    return exp.column(name)


def n(value: int | float) -> exp.Expr:
    return exp.Literal.number(value)


def is_set(value: exp.Expr) -> exp.Expr:
    return exp.not_(exp.Is(this=value, expression=exp.Null()))


def when(condition: exp.Expr, value: exp.Expr) -> exp.Expr:
    return exp.Case().when(condition, value)


def sub(query: exp.Select, alias: str) -> exp.Expr:
    return exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def last_touch(query: FunnelsQuery) -> bool:
    return query.funnelsFilter.breakdownAttributionType == "last_touch"
