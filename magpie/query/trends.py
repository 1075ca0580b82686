"""TrendsQuery: one series of values per event (and breakdown value) per time bucket.

Each series is built as a HogQL query over the ``events`` virtual table and
compiled like any user query, so the project scope, materialised columns and
person joins work the same way everywhere.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.breakdowns import (
    ALL_USERS,
    BREAKDOWN_NULL,
    BREAKDOWN_OTHER,
    Folded,
    breakdown_of,
    cohort_breakdown,
    fold_other,
)
from magpie.query.context import QueryContext
from magpie.query.dates import (
    TimeWindow,
    bucket_expression,
    day_text,
    label,
    local_time,
    step,
    window,
    zone,
)
from magpie.query.entities import ALL_EVENTS, Entity, entity_of
from magpie.query.errors import ResultTooLarge
from magpie.query.filters import field
from magpie.query.formula import Formula, parse_formula
from magpie.query.limits import MAX_POINTS
from magpie.query.models import EventsNode, PropertyFilter, PropertyGroup, TrendsQuery
from magpie.query.series import SeriesFilter, series_filter

__all__ = ["BREAKDOWN_NULL", "BREAKDOWN_OTHER", "run_trends"]
ACTIVE_DAYS = {"weekly_active": 7, "monthly_active": 30}


def _number(series: EventsNode) -> exp.Expr:
    if not series.math_property:
        raise InvalidInput(f"math {series.math!r} needs math_property", attr="math_property")
    return exp.TryCast(
        this=field("properties", series.math_property), to=exp.DataType.build("DOUBLE")
    )


def _quantile(q: float) -> Callable[[EventsNode], exp.Expr]:
    return lambda s: exp.Quantile(this=_number(s), quantile=exp.Literal.number(q))


def _distinct(expression: exp.Expr) -> exp.Expr:
    return exp.Count(this=exp.Distinct(expressions=[expression]))


def _unique_group(series: EventsNode) -> exp.Expr:
    index = series.math_group_type_index
    if index is None or not 0 <= index <= 4:
        raise InvalidInput(
            "unique_group needs math_group_type_index 0-4", attr="math_group_type_index"
        )
    return _distinct(exp.Nullif(this=field(f"$group_{index}"), expression=exp.Literal.string("")))


# math name → the aggregate over a bucket's events
MATH: dict[str, Callable[[EventsNode], exp.Expr]] = {
    "total": lambda s: exp.Count(this=exp.Star()),
    # Anonymous events count by their stand-in person id: one per distinct id.
    "dau": lambda s: _distinct(field("person_id")),
    "unique_session": lambda s: _distinct(
        exp.Nullif(this=field("$session_id"), expression=exp.Literal.string(""))
    ),
    "unique_group": _unique_group,
    "sum": lambda s: exp.Sum(this=_number(s)),
    "avg": lambda s: exp.Avg(this=_number(s)),
    "min": lambda s: exp.Min(this=_number(s)),
    "max": lambda s: exp.Max(this=_number(s)),
    "median": _quantile(0.5),
    "p90": _quantile(0.9),
    "p95": _quantile(0.95),
    "p99": _quantile(0.99),
}


@dataclass(frozen=True)
class _Series:
    """One series' values: breakdown value (None without breakdown) → bucket → value."""

    node: EventsNode
    index: int
    values: dict[Any, dict[datetime, float]]
    entity: Entity


def run_trends(query: TrendsQuery, context: QueryContext) -> dict[str, Any]:
    tz = zone(context.project.timezone)
    earliest = context.earliest_event() if query.dateRange.date_from == "all" else None
    current = window(
        query.dateRange.date_from,
        query.dateRange.date_to,
        query.interval,
        tz,
        context.now,
        earliest,
        week_start=context.week_start,
    )
    periods = [("current", current)]
    text = query.trendsFilter.formula if query.trendsFilter else None
    # Checked before any SQL runs: a bad formula costs no query.
    formula = (
        parse_formula(text, [chr(ord("A") + i) for i in range(len(query.series))]) if text else None
    )
    if query.compareFilter and query.compareFilter.compare:
        periods.append(("previous", current.shifted_back()))
    results: list[dict[str, Any]] = []
    points = 0
    for compare_label, period in periods:
        computed = []
        for i, node in enumerate(query.series):
            values = _series_values(query, node, period, context)
            series = _Series(node, i, values, entity_of(node, context))
            points += len(series.values) * len(period.buckets())
            if points > MAX_POINTS:
                raise ResultTooLarge(
                    f"this insight would have more than {MAX_POINTS:,} values (the result "
                    "size limit): use fewer breakdown values, a longer interval or a shorter range"
                )
            computed.append(series)
            context.check_deadline()
        items = (
            _formula_results(formula, computed, period)
            if formula
            else [item for s in computed for item in _series_results(s, period)]
        )
        if len(periods) > 1:
            for item in items:
                item["compare"] = True
                item["compare_label"] = compare_label
        results.extend(items)
        context.check_deadline()
    return {"results": results, "timings": context.timings}


# -- SQL -------------------------------------------------------------------------


def _events_of(
    query: TrendsQuery,
    node: EventsNode,
    period: TimeWindow,
    context: QueryContext,
    since: datetime | None = None,
) -> SeriesFilter:
    return series_filter(
        node,
        period,
        context,
        properties=query.properties,
        filter_test_accounts=query.filterTestAccounts,
        since=since,
    )


ADDITIVE_MATH = frozenset({"total", "sum"})


def _series_values(
    query: TrendsQuery, node: EventsNode, period: TimeWindow, context: QueryContext
) -> dict[Any, dict[datetime, float]]:
    """One query gives every breakdown value; past the limit, the smaller values are
    folded into 'other' (added up in Python when the math is additive, recounted in
    SQL when it is not, e.g. distinct users)."""
    cohorts = cohort_breakdown(query.breakdownFilter)
    if cohorts is not None:
        return {
            cohort: _grouped_values(_in_cohort(query, cohort), node, period, context, None).get(
                None, {}
            )
            for cohort in cohorts
        }
    breakdown = breakdown_of(query.breakdownFilter)
    expression = breakdown.expression if breakdown else None
    values = _grouped_values(query, node, period, context, expression)
    if breakdown is None:
        return values or {None: {}}
    folding = fold_other(values, breakdown, additive=node.math in ADDITIVE_MATH)
    if isinstance(folding, Folded):
        return folding.values or {None: {}}
    return _grouped_values(query, node, period, context, folding.expression)


def _in_cohort(query: TrendsQuery, cohort: int | str) -> TrendsQuery:
    """The query narrowed to the events of a cohort's members (``all``: not narrowed)."""
    if cohort == ALL_USERS:
        return query
    member = PropertyFilter(type="cohort", key="id", value=cohort)
    existing = query.properties
    kept = [existing] if isinstance(existing, PropertyGroup) else list(existing or [])
    return query.model_copy(
        update={"properties": PropertyGroup(type="AND", values=[*kept, member])}
    )


def _grouped_values(
    query: TrendsQuery,
    node: EventsNode,
    period: TimeWindow,
    context: QueryContext,
    breakdown: exp.Expr | None,
) -> dict[Any, dict[datetime, float]]:
    if node.math in ACTIVE_DAYS:
        rows = _active_users(query, node, period, context, breakdown)
    else:
        dialect = context.dialect
        local = local_time(field("timestamp"), period.tz, period.utc_start, period.utc_end, dialect)
        bucket = bucket_expression(local, period.interval, dialect, context.week_start)
        projections = [exp.alias_(bucket, "bucket")]
        if breakdown is not None:
            projections.append(exp.alias_(breakdown.copy(), "breakdown_value"))
        projections.append(exp.alias_(MATH[node.math](node), "value"))
        select = (
            exp.select(*projections)
            .from_("events")
            .where(_events_of(query, node, period, context).where())
            .group_by(*[exp.Literal.number(i + 1) for i in range(len(projections) - 1)])
        )
        rows = context.run(context.compile(select))
    context.check_deadline()
    values: dict[Any, dict[datetime, float]] = defaultdict(dict)
    for row in rows:
        key = (BREAKDOWN_NULL if row[1] is None else row[1]) if breakdown is not None else None
        values[key][row[0]] = float(row[-1] or 0)
    return dict(values)


def _active_users(
    query: TrendsQuery,
    node: EventsNode,
    period: TimeWindow,
    context: QueryContext,
    breakdown: exp.Expr | None,
) -> list[list[Any]]:
    """Weekly/monthly active: distinct people active in the N days up to each bucket's end."""
    days = ACTIVE_DAYS[node.math]
    since = period.utc_start - timedelta(days=days)
    local = local_time(field("timestamp"), period.tz, since, period.utc_end, context.dialect)
    activity_columns = [
        exp.alias_(field("person_id"), "person_id"),
        exp.alias_(exp.cast(local, exp.DataType.build("DATE")), "day"),
    ]
    if breakdown is not None:
        activity_columns.append(exp.alias_(breakdown.copy(), "breakdown_value"))
    activity = (
        exp.select(*activity_columns)
        .distinct()
        .from_("events")
        .where(_events_of(query, node, period, context, since=since).where())
    )
    buckets = period.buckets()
    last_days = [min(step(b, period.interval), period.end) - timedelta(days=1) for b in buckets]
    values = exp.Values(
        expressions=[
            exp.Tuple(expressions=[context.dialect.date(b.date()), context.dialect.date(d.date())])
            for b, d in zip(buckets, last_days, strict=True)
        ],
        alias=exp.TableAlias(
            this=exp.to_identifier("b"),
            columns=[exp.to_identifier("bucket"), exp.to_identifier("last_day")],
        ),
    )
    a_day, last_day = exp.column("day", "a"), exp.column("last_day", "b")
    join_on = exp.and_(
        exp.GT(this=a_day, expression=exp.Sub(this=last_day, expression=exp.Literal.number(days))),
        exp.LTE(this=a_day.copy(), expression=last_day.copy()),
    )
    projections = [exp.alias_(exp.column("bucket", "b"), "bucket")]
    if breakdown is not None:
        projections.append(exp.alias_(exp.column("breakdown_value", "a"), "breakdown_value"))
    projections.append(exp.alias_(_distinct(exp.column("person_id", "a")), "value"))
    select = (
        exp.select(*projections)
        .from_(values)
        .join(
            exp.Subquery(this=activity, alias=exp.TableAlias(this=exp.to_identifier("a"))),
            on=join_on,
        )
        .group_by(*[exp.Literal.number(i + 1) for i in range(len(projections) - 1)])
    )
    return context.run(context.compile(select))


# -- results -----------------------------------------------------------------------


def _result(
    node: EventsNode,
    entity: Entity,
    index: int,
    data: list[float],
    period: TimeWindow,
    breakdown_value: Any,
) -> dict[str, Any]:
    # Whole numbers as integers, but only where JSON readers keep them exact.
    clean = [int(v) if float(v).is_integer() and abs(v) < 2**53 else v for v in data]
    item: dict[str, Any] = {
        "action": {
            "id": entity.id,
            "type": entity.type,
            "order": index,
            "name": entity.name,
            "custom_name": node.custom_name,
            "math": node.math,
            "math_property": node.math_property,
        },
        "label": node.custom_name or node.name or entity.name,
        "count": sum(clean),
        "data": clean,
        # One list per window, shared by every item (each is only serialised).
        "days": _days(period),
        "labels": _labels(period),
    }
    if breakdown_value is not None:
        item["breakdown_value"] = breakdown_value
    return item


@functools.lru_cache(maxsize=8)
def _days(period: TimeWindow) -> list[str]:
    return [day_text(b, period.interval) for b in period.buckets()]


@functools.lru_cache(maxsize=8)
def _labels(period: TimeWindow) -> list[str]:
    return [label(b, period.interval) for b in period.buckets()]


def _bucket_key(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


def _data(values: dict[datetime, float], period: TimeWindow) -> list[float]:
    by_bucket = {_bucket_key(k): v for k, v in values.items()}
    return [by_bucket.get(b, 0.0) for b in period.buckets()]


def _series_results(series: _Series, period: TimeWindow) -> list[dict[str, Any]]:
    ordered = sorted(
        series.values.items(),
        key=lambda kv: (kv[0] == BREAKDOWN_OTHER, -sum(kv[1].values()), str(kv[0])),
    )
    return [
        _result(series.node, series.entity, series.index, _data(values, period), period, key)
        for key, values in ordered
    ]


def _formula_results(
    formula: Formula, computed: list[_Series], period: TimeWindow
) -> list[dict[str, Any]]:
    letters = [chr(ord("A") + s.index) for s in computed]
    keys = sorted({k for s in computed for k in s.values}, key=str)
    results = []
    for key in keys:
        series_data = {
            letter: _data(s.values.get(key, {}), period)
            for letter, s in zip(letters, computed, strict=True)
        }
        data = [
            round(formula.evaluate({ltr: series_data[ltr][i] for ltr in letters}), 6)
            for i in range(len(period.buckets()))
        ]
        node = EventsNode(event=None, custom_name=formula.text)
        item = _result(node, Entity(None, "events", ALL_EVENTS), 0, data, period, key)
        item["label"] = formula.text
        item["action"] = None
        results.append(item)
    return results
