"""``{filters}`` in a HogQL query: PostHog's ``HogQLQuery.filters`` (property filters,
a date range, test accounts) as one condition where the query writes the
placeholder, over the ``events`` of that SELECT. Without filters it is true."""

from __future__ import annotations

from datetime import datetime

from sqlglot import exp

from magpie.query.context import QueryContext
from magpie.query.dates import parse_point, to_local, to_utc, zone
from magpie.query.filters import field, properties_condition
from magpie.query.models import DateRange, HogQLFilters

PLACEHOLDER = "filters"


def filters_condition(filters: HogQLFilters | None, context: QueryContext) -> exp.Expr:
    if filters is None:
        return exp.true()
    now = context.now_naive
    conditions: list[exp.Expr] = []
    date_range = filters.dateRange or DateRange(date_from=None)
    bounds = ((date_range.date_from, False, exp.GTE), (date_range.date_to, True, exp.LT))
    for value, is_end, compare in bounds:
        if value is None or value == "all":
            continue
        at = _bound(value, context, is_end=is_end)
        conditions.append(
            compare(this=field("timestamp"), expression=context.dialect.timestamp(at))
        )
    chosen = properties_condition(filters.properties, now)
    if chosen is not None:
        conditions.append(exp.paren(chosen))
    if filters.filterTestAccounts:
        excluded = properties_condition(list(context.test_account_filters), now, exclusion=True)
        if excluded is not None:
            conditions.append(exp.paren(excluded))
    return exp.and_(*conditions) if conditions else exp.true()


def _bound(value: str, context: QueryContext, *, is_end: bool) -> datetime:
    """A date-range bound as trends read one (the project's time zone, ``-7d``,
    ``mStart``, dates), in UTC."""
    tz = zone(context.project.timezone)
    local = parse_point(value, to_local(context.now_naive, tz), tz, is_end=is_end)
    return to_utc(local, tz)


def fill_filters(tree: exp.Expr, filters: HogQLFilters | None, context: QueryContext) -> None:
    """Replace every ``{filters}`` in ``tree`` with the filters' condition."""
    condition = filters_condition(filters, context)
    for placeholder in list(tree.find_all(exp.Placeholder)):
        if placeholder.name == PLACEHOLDER:
            placeholder.replace(exp.paren(condition.copy()))
