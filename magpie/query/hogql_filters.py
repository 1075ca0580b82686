"""``{filters}`` in a HogQL query: PostHog's ``HogQLQuery.filters`` (property filters,
a date range, test accounts) as one condition where the query writes the
placeholder, over the ``events`` of that SELECT. Without filters it is true."""

from __future__ import annotations

from sqlglot import exp

from magpie.query.context import QueryContext
from magpie.query.filters import field, properties_condition
from magpie.query.models import HogQLFilters
from magpie.query.operators import point_in_time

PLACEHOLDER = "filters"


def filters_condition(filters: HogQLFilters | None, context: QueryContext) -> exp.Expr:
    if filters is None:
        return exp.true()
    now = context.now_naive
    conditions: list[exp.Expr] = []
    date_range = filters.dateRange
    if date_range is not None and date_range.date_from not in (None, "all"):
        start = point_in_time(date_range.date_from, now)
        conditions.append(
            exp.GTE(this=field("timestamp"), expression=context.dialect.timestamp(start))
        )
    if date_range is not None and date_range.date_to is not None:
        end = point_in_time(date_range.date_to, now)
        conditions.append(
            exp.LT(this=field("timestamp"), expression=context.dialect.timestamp(end))
        )
    chosen = properties_condition(filters.properties, now)
    if chosen is not None:
        conditions.append(exp.paren(chosen))
    if filters.filterTestAccounts:
        excluded = properties_condition(list(context.test_account_filters), now, exclusion=True)
        if excluded is not None:
            conditions.append(exp.paren(excluded))
    return exp.and_(*conditions) if conditions else exp.true()


def has_filters_placeholder(tree: exp.Expr) -> bool:
    return any(p.name == PLACEHOLDER for p in tree.find_all(exp.Placeholder))


def fill_filters(tree: exp.Expr, filters: HogQLFilters | None, context: QueryContext) -> None:
    """Replace every ``{filters}`` in ``tree`` with the filters' condition."""
    condition = filters_condition(filters, context)
    for placeholder in list(tree.find_all(exp.Placeholder)):
        if placeholder.name == PLACEHOLDER:
            placeholder.replace(exp.paren(condition.copy()))
