"""Property operators, one registry for queries and feature flags (compat §6.3).

Each operator knows two things: how to filter rows in SQL (``sql``: the
property's expression and the filter value → a condition), and how to judge
one value in Python (``match``, used where flags are evaluated). A property
that is missing matches the negative operators (``is_not``, ``not_icontains``,
``not_regex``, ``is_not_set``) and nothing else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlglot import exp

from magpie.capture.timestamps import parse_timestamp
from magpie.errors import InvalidInput

MISSING = object()
_RELATIVE = re.compile(r"^-?(\d{1,4})([hdwmy])$")
_UNITS = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "m": timedelta(days=30),
    "y": timedelta(days=365),
}


def text(value: Any) -> str:
    """A filter or property value as the text stored properties compare as."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def values_of(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def point_in_time(value: Any, now: datetime) -> datetime:
    """An absolute date, or a relative one such as ``-7d`` (seven days before now)."""
    raw = text(value).strip()
    try:
        relative = _RELATIVE.match(raw)
        if relative:
            return now - int(relative.group(1)) * _UNITS[relative.group(2)]
        parsed = parse_timestamp(raw)
        at = None if parsed is None else parsed.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise InvalidInput(f"the date {raw[:64]!r} is out of range") from None
    if at is None:
        raise InvalidInput(f"{raw[:64]!r} is not a date (use ISO dates or -7d style)")
    return at


# -- SQL -----------------------------------------------------------------------

SqlBuilder = Callable[[exp.Expr, Any, datetime], exp.Expr]


def _literal(value: Any) -> exp.Expr:
    return exp.Literal.string(text(value))


def _missing_or(prop: exp.Expr, condition: exp.Expr) -> exp.Expr:
    return exp.or_(exp.Is(this=prop.copy(), expression=exp.Null()), condition)


def _in(prop: exp.Expr, value: Any) -> exp.Expr:
    options = [_literal(v) for v in values_of(value)]
    if len(options) == 1:
        return exp.EQ(this=prop, expression=options[0])
    return exp.In(this=prop, expressions=options)


def like_pattern(value: Any, prefix: str, suffix: str) -> exp.Expr:
    escaped = text(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return exp.Literal.string(f"{prefix}{escaped}{suffix}")


def _ilike(prefix: str, suffix: str) -> Callable[[exp.Expr, Any], exp.Expr]:
    def build(prop: exp.Expr, value: Any) -> exp.Expr:
        return exp.or_(
            *(
                exp.Escape(
                    this=exp.ILike(this=prop.copy(), expression=like_pattern(v, prefix, suffix)),
                    expression=exp.Literal.string("\\"),
                )
                for v in values_of(value)
            )
        )

    return build


def _regex(prop: exp.Expr, value: Any) -> exp.Expr:
    return exp.RegexpLike(this=prop, expression=_literal(value))


def _as_number(prop: exp.Expr) -> exp.Expr:
    return exp.TryCast(this=prop, to=exp.DataType.build("DOUBLE"))


def _finite(value: Any) -> float | None:
    """A number SQL can hold as a literal (an infinite one would print as a name)."""
    found = number(value)
    return found if found is not None and math.isfinite(found) else None


def _compare(node: type[exp.Expr]) -> SqlBuilder:
    def build(prop: exp.Expr, value: Any, now: datetime) -> exp.Expr:
        threshold = _finite(value)
        if threshold is None:
            raise InvalidInput(f"{str(value)[:64]!r} is not a number")
        return node(this=_as_number(prop), expression=exp.Literal.number(threshold))

    return build


def _as_time(prop: exp.Expr) -> exp.Expr:
    return exp.TryCast(this=prop, to=exp.DataType.build("TIMESTAMP"))


def _date(node: type[exp.Expr]) -> SqlBuilder:
    def build(prop: exp.Expr, value: Any, now: datetime) -> exp.Expr:
        at = point_in_time(value, now)
        return node(
            this=_as_time(prop),
            expression=exp.cast(
                exp.Literal.string(at.isoformat()), exp.DataType.build("TIMESTAMP")
            ),
        )

    return build


def _date_exact(prop: exp.Expr, value: Any, now: datetime) -> exp.Expr:
    day = point_in_time(value, now).date()
    return exp.EQ(
        this=exp.cast(_as_time(prop), exp.DataType.build("DATE")),
        expression=exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE")),
    )


def _between(prop: exp.Expr, value: Any, now: datetime) -> exp.Expr:
    bounds = [_finite(v) for v in values_of(value)]
    if len(bounds) != 2 or None in bounds:
        raise InvalidInput("between needs two numbers, e.g. [1, 10]")
    low, high = bounds
    return exp.Between(
        this=_as_number(prop), low=exp.Literal.number(low), high=exp.Literal.number(high)
    )


def _negate(build: SqlBuilder) -> SqlBuilder:
    return lambda prop, value, now: _missing_or(prop, exp.Not(this=build(prop, value, now)))


def _simple(build: Callable[[exp.Expr, Any], exp.Expr]) -> SqlBuilder:
    return lambda prop, value, now: build(prop, value)


# -- Python ----------------------------------------------------------------------

Matcher = Callable[[Any, Any, datetime], bool]


def _present(matcher: Callable[[Any, Any, datetime], bool]) -> Matcher:
    return lambda actual, value, now: (
        actual is not MISSING and actual is not None and matcher(actual, value, now)
    )


def _exact(actual: Any, value: Any, now: datetime) -> bool:
    return text(actual).lower() in {text(v).lower() for v in values_of(value)}


def _contains(prefix: bool, suffix: bool) -> Matcher:
    def match(actual: Any, value: Any, now: datetime) -> bool:
        subject = text(actual).lower()
        for v in values_of(value):
            needle = text(v).lower()
            if (
                (prefix and suffix and needle in subject)
                or (not prefix and subject.endswith(needle))
                or (not suffix and subject.startswith(needle))
            ):
                return True
        return False

    return match


def _regex_match(actual: Any, value: Any, now: datetime) -> bool:
    try:
        return re.search(text(value), text(actual)) is not None
    except re.error:
        return False


def _number_match(compare: Callable[[float, float], bool]) -> Matcher:
    def match(actual: Any, value: Any, now: datetime) -> bool:
        left, right = number(actual), number(value)
        return left is not None and right is not None and compare(left, right)

    return match


def _date_match(compare: Callable[[datetime, datetime], bool]) -> Matcher:
    def match(actual: Any, value: Any, now: datetime) -> bool:
        parsed = parse_timestamp(text(actual))
        if parsed is None:
            return False
        try:
            at = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # a time at the calendar's edge, with an offset
            return False
        return compare(at, point_in_time(value, now))

    return match


def _between_match(actual: Any, value: Any, now: datetime) -> bool:
    bounds = [b for b in (number(v) for v in values_of(value)) if b is not None]
    subject = number(actual)
    return subject is not None and len(bounds) == 2 and bounds[0] <= subject <= bounds[1]


def _not(matcher: Matcher) -> Matcher:
    return lambda actual, value, now: (
        actual is MISSING or actual is None or not matcher(actual, value, now)
    )


@dataclass(frozen=True)
class Operator:
    sql: SqlBuilder
    match: Matcher


_icontains = _ilike("%", "%")
OPERATORS: dict[str, Operator] = {
    "exact": Operator(_simple(_in), _present(_exact)),
    "is_not": Operator(_negate(_simple(_in)), _not(_present(_exact))),
    "icontains": Operator(_simple(_icontains), _present(_contains(True, True))),
    "not_icontains": Operator(_negate(_simple(_icontains)), _not(_present(_contains(True, True)))),
    "icontains_multi": Operator(_simple(_icontains), _present(_contains(True, True))),
    "not_icontains_multi": Operator(
        _negate(_simple(_icontains)), _not(_present(_contains(True, True)))
    ),
    "starts_with": Operator(_simple(_ilike("", "%")), _present(_contains(False, True))),
    "not_starts_with": Operator(
        _negate(_simple(_ilike("", "%"))), _not(_present(_contains(False, True)))
    ),
    "ends_with": Operator(_simple(_ilike("%", "")), _present(_contains(True, False))),
    "not_ends_with": Operator(
        _negate(_simple(_ilike("%", ""))), _not(_present(_contains(True, False)))
    ),
    "regex": Operator(_simple(_regex), _present(_regex_match)),
    "not_regex": Operator(_negate(_simple(_regex)), _not(_present(_regex_match))),
    "gt": Operator(_compare(exp.GT), _present(_number_match(lambda a, b: a > b))),
    "gte": Operator(_compare(exp.GTE), _present(_number_match(lambda a, b: a >= b))),
    "lt": Operator(_compare(exp.LT), _present(_number_match(lambda a, b: a < b))),
    "lte": Operator(_compare(exp.LTE), _present(_number_match(lambda a, b: a <= b))),
    "min": Operator(_compare(exp.GTE), _present(_number_match(lambda a, b: a >= b))),
    "max": Operator(_compare(exp.LTE), _present(_number_match(lambda a, b: a <= b))),
    "between": Operator(_between, _present(_between_match)),
    "not_between": Operator(_negate(_between), _not(_present(_between_match))),
    "is_set": Operator(
        lambda prop, value, now: exp.Not(this=exp.Is(this=prop, expression=exp.Null())),
        lambda actual, value, now: actual is not MISSING and actual is not None,
    ),
    "is_not_set": Operator(
        lambda prop, value, now: exp.Is(this=prop, expression=exp.Null()),
        lambda actual, value, now: actual is MISSING or actual is None,
    ),
    "is_date_before": Operator(_date(exp.LT), _present(_date_match(lambda a, b: a < b))),
    "is_date_after": Operator(_date(exp.GT), _present(_date_match(lambda a, b: a > b))),
    "is_date_exact": Operator(
        _date_exact, _present(_date_match(lambda a, b: a.date() == b.date()))
    ),
}


def operator(name: str | None) -> Operator:
    found = OPERATORS.get(name or "exact")
    if found is None:
        raise InvalidInput(
            f"unknown operator {name!r}; operators are {', '.join(sorted(OPERATORS))}",
            attr="operator",
        )
    return found
