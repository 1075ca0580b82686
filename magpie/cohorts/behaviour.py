"""Behavioural cohort leaves (compat-2 §9.2): what each kind asks of a person's events.

Most kinds are a few counts (or a first time) over one pass of the events,
grouped by person: each asks the shared ``Scan`` for the aggregates it needs
and turns them into a condition on the person. A sequence needs the order of
events, so it is a subquery of its own. Windows end now and are open at
their start, closed at their end (``start < timestamp <= end``), as PostHog's.

Events count for the person they resolve to through identity merges, so what
someone did anonymously before identifying counts; events of a visitor who
never got a person resolve to no person, and so never make a member.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlglot import exp

from magpie.cohorts.definition import CohortProperty
from magpie.cohorts.windows import EARLIEST, back, length_seconds
from magpie.errors import InvalidInput, UnknownAction
from magpie.query.dialects.base import Dialect
from magpie.query.entities import action_id_of
from magpie.query.filters import field as hogql_field
from magpie.query.filters import properties_condition
from magpie.query.operators import point_in_time

SCAN_ALIAS = "behaviour"
ActionConditions = Callable[[int], exp.Expr]
PERSON = exp.column("id", "persons")


@dataclass
class Scan:
    """The one pass over events that the aggregating leaves share: per person, the
    aggregates they asked for, over the events they name, since the earliest time
    any of them needs (None: all time)."""

    now: datetime
    dialect: Dialect
    # An action id → the condition picking its events (None: no actions to offer).
    actions: ActionConditions | None = None
    columns: list[exp.Expr] = field(default_factory=list)
    events: set[str] = field(default_factory=set)
    # Some aggregate counts an action's events, which no list of names covers.
    any_event: bool = False
    since: datetime | None = None
    unbounded: bool = False
    # What an event must meet to count for each aggregate: the scan reads only
    # events some aggregate counts (a 7-day leaf beside a 30-day one does not
    # make the scan carry the 30 days of the first one's event).
    counted: list[exp.Expr] = field(default_factory=list)

    def add(
        self, aggregate: exp.Expr, event: str | None, since: datetime | None, counted: exp.Expr
    ) -> exp.Expr:
        """Register an aggregate over ``event`` events (None: an action's) after
        ``since``, which are those ``counted`` matches; its value per person (NULL
        for a person with no such events)."""
        name = f"b{len(self.columns)}"
        self.columns.append(exp.alias_(aggregate, name))
        self.counted.append(counted)
        if event is None:
            self.any_event = True
        else:
            self.events.add(event)
        if since is None:
            self.unbounded = True
        elif self.since is None or since < self.since:
            self.since = since
        return exp.column(name, SCAN_ALIAS)

    def count(self, matches: exp.Expr, event: str | None, since: datetime | None) -> exp.Expr:
        counted = exp.Count(this=exp.Case().when(matches, exp.Literal.number(1)))
        return exp.func(
            "coalesce", self.add(counted, event, since, matches.copy()), exp.Literal.number(0)
        )

    def query(self) -> exp.Select | None:
        if not self.columns:
            return None
        conditions: list[exp.Expr] = []
        if not self.any_event:
            conditions.append(_named(self.events))
        if not self.unbounded and self.since is not None:
            conditions.append(after(self.since, self.dialect))
        conditions.append(exp.or_(*(exp.paren(c.copy()) for c in self.counted)))
        return (
            exp.select(exp.alias_(hogql_field("person_id"), "person_id"), *self.columns)
            .from_("events")
            .where(exp.and_(*conditions))
            .group_by(hogql_field("person_id"))
        )


def after(at: datetime, dialect: Dialect) -> exp.Expr:
    return exp.GT(this=hogql_field("timestamp"), expression=dialect.timestamp(at))


def until(at: datetime, dialect: Dialect) -> exp.Expr:
    return exp.LTE(this=hogql_field("timestamp"), expression=dialect.timestamp(at))


def _named(events: set[str]) -> exp.Expr:
    return exp.In(
        this=hogql_field("event"), expressions=[exp.Literal.string(e) for e in sorted(events)]
    )


def _events_of(
    event_type: str | None, key: object, scan: Scan, attr: str
) -> tuple[str | None, exp.Expr]:
    """The event a leaf names (None when it names an action) and the condition
    that picks its events: ``event_type: "actions"`` makes ``key`` an action id."""
    if event_type == "actions":
        action = action_id_of(key, attr)
        if scan.actions is None:
            raise UnknownAction(f"there is no action {action} here", attr=attr)
        return None, scan.actions(action)
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"a behavioural filter's {attr} is an event name", attr=attr)
    return key, exp.EQ(this=hogql_field("event"), expression=exp.Literal.string(key))


def _matches(leaf: CohortProperty, scan: Scan) -> tuple[str | None, exp.Expr]:
    """The leaf's event (None for an action), and the condition an event must meet
    to be one of it."""
    event, condition = _events_of(leaf.event_type, leaf.key, scan, "key")
    filters = properties_condition(list(leaf.event_filters or []), scan.now)
    return event, condition if filters is None else exp.and_(condition, exp.paren(filters))


def _needs(leaf: CohortProperty, *names: str) -> None:
    for name in names:
        if getattr(leaf, name) is None:
            raise InvalidInput(f"{leaf.value} needs {name}", attr=name)


def _window_start(leaf: CohortProperty, scan: Scan) -> datetime:
    if leaf.explicit_datetime:
        return max(point_in_time(leaf.explicit_datetime, scan.now), EARLIEST)
    _needs(leaf, "time_value", "time_interval")
    assert leaf.time_value is not None and leaf.time_interval is not None
    return back(scan.now, leaf.time_value, leaf.time_interval)


def _seq_start(leaf: CohortProperty, scan: Scan) -> tuple[datetime, datetime]:
    """(start of the whole window, start of the recent one); the recent one must be
    the shorter."""
    _needs(leaf, "time_value", "time_interval", "seq_time_value", "seq_time_interval")
    assert leaf.time_value and leaf.time_interval and leaf.seq_time_value
    assert leaf.seq_time_interval
    start = back(scan.now, leaf.time_value, leaf.time_interval)
    recent = back(scan.now, leaf.seq_time_value, leaf.seq_time_interval)
    if recent <= start:
        raise InvalidInput(
            f"{leaf.value}: seq_time must be more recent than time (a shorter span)",
            attr="seq_time_value",
        )
    return start, recent


def _between(low: datetime | None, high: datetime | None, scan: Scan) -> list[exp.Expr]:
    bounds = []
    if low is not None:
        bounds.append(after(low, scan.dialect))
    if high is not None:
        bounds.append(until(high, scan.dialect))
    return bounds


def _counted(
    leaf: CohortProperty, scan: Scan, low: datetime | None, high: datetime | None
) -> exp.Expr:
    event, matches = _matches(leaf, scan)
    return scan.count(exp.and_(matches, *_between(low, high, scan)), event, low)


_COUNT_OPERATORS: dict[str, type[exp.Expr]] = {
    "gte": exp.GTE,
    "gt": exp.GT,
    "lte": exp.LTE,
    "lt": exp.LT,
    "eq": exp.EQ,
    "exact": exp.EQ,
}


def _compare_count(leaf: CohortProperty, count: exp.Expr) -> exp.Expr:
    name = leaf.operator or "gte"
    node = _COUNT_OPERATORS.get(name)
    if node is None:
        raise InvalidInput(
            f"a count operator is one of {', '.join(_COUNT_OPERATORS)}, not {name!r}",
            attr="operator",
        )
    _needs(leaf, "operator_value")
    return node(this=count, expression=exp.Literal.number(leaf.operator_value))


def _zero() -> exp.Expr:
    return exp.Literal.number(0)


def performed_event(leaf: CohortProperty, scan: Scan) -> exp.Expr:
    count = _counted(leaf, scan, _window_start(leaf, scan), None)
    return exp.GT(this=count, expression=_zero())


def performed_event_multiple(leaf: CohortProperty, scan: Scan) -> exp.Expr:
    return _compare_count(leaf, _counted(leaf, scan, _window_start(leaf, scan), None))


def performed_event_first_time(leaf: CohortProperty, scan: Scan) -> exp.Expr:
    event, matches = _matches(leaf, scan)
    first = scan.add(
        exp.Min(this=exp.Case().when(matches, hogql_field("timestamp"))),
        event,
        since=None,
        counted=matches.copy(),
    )
    start = _window_start(leaf, scan)
    return exp.and_(
        exp.GTE(this=first, expression=scan.dialect.timestamp(start)),
        exp.LTE(this=first.copy(), expression=scan.dialect.timestamp(scan.now)),
    )


def performed_event_regularly(leaf: CohortProperty, scan: Scan) -> exp.Expr:
    _needs(leaf, "time_value", "time_interval", "operator_value", "min_periods", "total_periods")
    assert leaf.time_value and leaf.time_interval and leaf.min_periods and leaf.total_periods
    if leaf.min_periods > leaf.total_periods:
        raise InvalidInput("min_periods cannot be more than total_periods", attr="min_periods")
    satisfied = []
    for period in range(leaf.total_periods):
        low = back(scan.now, leaf.time_value * (period + 1), leaf.time_interval)
        high = back(scan.now, leaf.time_value * period, leaf.time_interval)
        met = _compare_count(leaf, _counted(leaf, scan, low, high))
        satisfied.append(exp.Case().when(met, exp.Literal.number(1)).else_(_zero()))
    total: exp.Expr = satisfied[0]
    for item in satisfied[1:]:
        total = exp.Add(this=total, expression=item)
    return exp.GTE(this=exp.paren(total), expression=exp.Literal.number(leaf.min_periods))


def stopped_performing_event(leaf: CohortProperty, scan: Scan) -> exp.Expr:
    start, recent = _seq_start(leaf, scan)
    before = _counted(leaf, scan, start, recent)
    lately = _counted(leaf, scan, recent, scan.now)
    return exp.and_(
        exp.GT(this=before, expression=_zero()), exp.EQ(this=lately, expression=_zero())
    )


def restarted_performing_event(leaf: CohortProperty, scan: Scan) -> exp.Expr:
    start, recent = _seq_start(leaf, scan)
    earlier = _counted(leaf, scan, None, start)
    paused = _counted(leaf, scan, start, recent)
    lately = _counted(leaf, scan, recent, scan.now)
    return exp.and_(
        exp.GT(this=earlier, expression=_zero()),
        exp.EQ(this=paused, expression=_zero()),
        exp.GT(this=lately, expression=_zero()),
    )


def performed_event_sequence(leaf: CohortProperty, scan: Scan) -> exp.Expr:
    """Did the event within the window, and ``seq_event`` after it within ``seq_time``.

    For each of the person's events, ordered by time, the earliest later
    ``seq_event``: at one instant a ``seq_event`` sorts first, so "later" is
    strictly later.
    """
    _needs(leaf, "seq_event", "seq_time_value", "seq_time_interval")
    assert leaf.seq_time_value is not None and leaf.seq_time_interval is not None
    start = _window_start(leaf, scan)
    first, matches = _matches(leaf, scan)
    then, then_matches = _events_of(leaf.seq_event_type, leaf.seq_event, scan, "seq_event")
    is_first = exp.paren(matches)
    is_then = exp.paren(then_matches)
    # Only the two kinds of event are read: by name where both have one.
    either = (
        _named({first, then})
        if first is not None and then is not None
        else exp.or_(is_first.copy(), is_then.copy())
    )
    next_then = exp.Window(
        this=exp.Min(this=exp.Case().when(is_then, hogql_field("timestamp"))),
        partition_by=[hogql_field("person_id")],
        order=exp.Order(
            expressions=[exp.Ordered(this=hogql_field("timestamp")), exp.Ordered(this=is_first)]
        ),
        spec=exp.WindowSpec(
            kind="ROWS",
            start=exp.Literal.number(1),
            start_side="FOLLOWING",
            end="UNBOUNDED",
            end_side="FOLLOWING",
        ),
    )
    steps = (
        exp.select(
            exp.alias_(hogql_field("person_id"), "person_id"),
            exp.alias_(hogql_field("timestamp"), "at"),
            exp.alias_(exp.Case().when(is_first.copy(), exp.true()).else_(exp.false()), "is_first"),
            exp.alias_(next_then, "next_at"),
        )
        .from_("events")
        .where(exp.and_(either, after(start, scan.dialect)))
    )
    gap = length_seconds(leaf.seq_time_value, leaf.seq_time_interval)
    at, next_at = exp.column("at", "steps"), exp.column("next_at", "steps")
    found = (
        exp.select(exp.column("person_id", "steps"))
        .from_(exp.Subquery(this=steps, alias=exp.TableAlias(this=exp.to_identifier("steps"))))
        .where(
            exp.and_(
                exp.column("is_first", "steps"),
                exp.GT(this=next_at, expression=at),
                exp.LTE(this=next_at.copy(), expression=scan.dialect.add_seconds(at.copy(), gap)),
            )
        )
    )
    return exp.In(this=PERSON.copy(), query=exp.Subquery(this=found))


BEHAVIOURS: dict[str, Callable[[CohortProperty, Scan], exp.Expr]] = {
    "performed_event": performed_event,
    "performed_event_multiple": performed_event_multiple,
    "performed_event_first_time": performed_event_first_time,
    "performed_event_sequence": performed_event_sequence,
    "performed_event_regularly": performed_event_regularly,
    "stopped_performing_event": stopped_performing_event,
    "restarted_performing_event": restarted_performing_event,
}
