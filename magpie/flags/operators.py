"""Property operators of flag conditions: a registry of name → operator.

Each operator is prepared with the filter's value, once, and its test gets the
property's value (known to be present) and answers whether the filter holds.
What a missing property means is decided once, in ``property_test``: Magpie
evaluates flags with every stored property at hand, so a missing key is a plain
"no", except for the negative operators, for which it is a "yes" (as PostHog's
server does; compat §6.3).

Present values follow PostHog's rules, which the SDKs' local evaluation
repeats, so a flag answers the same wherever it is evaluated: comparisons are
on text, case-insensitive (ASCII), a list of values means "any of",
``true``/``"True"`` are the same boolean, numbers compare only as numbers.
"""

from __future__ import annotations

import calendar
import functools
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

# A prepared filter: the property's value (known to be present), now → whether it holds.
Test = Callable[[Any, datetime], bool]
# An operator: the filter's value → its test.
Operator = Callable[[Any], Test]
# A whole property filter: the properties, now → whether it holds.
PropertyTest = Callable[[Mapping[str, Any], datetime], bool]

# Keys that are absent match these operators: "is not x" holds for no value at all.
ABSENT_MATCHES = frozenset(
    {"is_not", "is_not_set", "not_icontains", "not_regex", "not_starts_with", "not_ends_with"}
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RELATIVE = re.compile(r"^-?([0-9]+)([hdwmy])$")


class UnknownOperator(ValueError):
    pass


def property_test(condition: Mapping[str, Any]) -> PropertyTest:
    """The filter ``condition`` prepared once, to be matched against many subjects."""
    operator = condition.get("operator") or "exact"
    prepare = OPERATORS.get(operator)
    if prepare is None:
        raise UnknownOperator(operator)
    key = str(condition.get("key"))
    absent = operator in ABSENT_MATCHES
    test = prepare(condition.get("value"))

    def match(properties: Mapping[str, Any], now: datetime) -> bool:
        if key not in properties:
            return absent
        return test(properties[key], now)

    return match


def match_property(
    condition: Mapping[str, Any], properties: Mapping[str, Any], now: datetime
) -> bool:
    return property_test(condition)(properties, now)


# -- values as PostHog compares them --------------------------------------------


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return str(value)


def _lower(value: Any) -> str:
    return as_text(value).translate(_ASCII_LOWER)


def _is_boolean_like(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.lower() in ("true", "false")
    if isinstance(value, list):
        return all(_is_boolean_like(item) for item in value)
    return False


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, list):
        return all(_truthy(item) for item in value)
    return False


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    if isinstance(value, str) and not _NUMBER.fullmatch(value):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


# -- operators -----------------------------------------------------------------
#
# An operator is prepared once per filter value (when a flag set is built,
# magpie/flags/evaluation.py), so what depends only on the filter (its text
# lowered, its number, its pattern, its version) is not worked out again for
# every request; the prepared test then gets the property's value and now.


def _exact(expected: Any) -> Test:
    if expected == []:
        return lambda actual, now: _truthy(actual)
    if _is_boolean_like(expected):
        wanted = _truthy(expected)
        return lambda actual, now: _truthy(actual) == wanted
    if isinstance(expected, list):
        texts = frozenset(_lower(item) for item in expected)
        return lambda actual, now: _lower(actual) in texts
    text = _lower(expected)
    return lambda actual, now: _lower(actual) == text


def _is_not(expected: Any) -> Test:
    exact = _exact(expected)
    return lambda actual, now: not exact(actual, now)


def _constant(answer: bool) -> Operator:
    return lambda expected: lambda actual, now: answer


def _text(test: Callable[[str, str], bool], negated: bool = False) -> Operator:
    def prepare(expected: Any) -> Test:
        text = _lower(expected)
        return lambda actual, now: test(_lower(actual), text) != negated

    return prepare


@functools.lru_cache(maxsize=1024)
def compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return None


def _regex(negated: bool) -> Operator:
    def prepare(expected: Any) -> Test:
        pattern = compiled_pattern(as_text(expected))
        if pattern is None:
            return lambda actual, now: False  # an invalid pattern matches nothing, negated or not
        return lambda actual, now: (pattern.search(as_text(actual)) is not None) != negated

    return prepare


def _compared(parse: Callable[[Any], Any], test: Callable[[Any, Any], bool]) -> Operator:
    """An ordering operator: both sides read by ``parse``; a side that does not
    parse (None) never matches."""

    def prepare(expected: Any) -> Test:
        bound = parse(expected)
        if bound is None:
            return lambda actual, now: False

        def match(actual: Any, now: datetime) -> bool:
            value = parse(actual)
            return value is not None and test(value, bound)

        return match

    return prepare


def _numeric(test: Callable[[float, float], bool]) -> Operator:
    return _compared(as_number, test)


def parse_date(text: str) -> datetime | None:
    """An ISO date or time (``Z`` or an offset; none means UTC)."""
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _months_back(at: datetime, months: int) -> datetime:
    index = at.year * 12 + at.month - 1 - months
    year, month = divmod(index, 12)
    day = min(at.day, calendar.monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


def date_bound(value: Any, now: datetime) -> datetime | None:
    """A filter's date: absolute, or relative to now (``-7d``, ``2w``, ``3m``, ``1y``)."""
    text = as_text(value)
    relative = _RELATIVE.match(text)
    if relative is None:
        return parse_date(text)
    amount, unit = int(relative.group(1)), relative.group(2)
    if amount >= 10_000:
        return None
    if unit == "m":
        return _months_back(now, amount)
    if unit == "y":
        return _months_back(now, 12 * amount)
    return now - timedelta(**{{"h": "hours", "d": "days", "w": "weeks"}[unit]: amount})


def _date(test: Callable[[datetime, datetime], bool]) -> Operator:
    def prepare(expected: Any) -> Test:
        text = as_text(expected)
        if _RELATIVE.match(text) is None:
            fixed = parse_date(text)
            bound_at: Callable[[datetime], datetime | None] = lambda now: fixed  # noqa: E731
        else:
            bound_at = functools.partial(date_bound, text)  # relative to each request's now

        def match(actual: Any, now: datetime) -> bool:
            bound = bound_at(now)
            if isinstance(actual, datetime):
                when: datetime | None = actual if actual.tzinfo else actual.replace(tzinfo=UTC)
            elif isinstance(actual, date):
                when = datetime(actual.year, actual.month, actual.day, tzinfo=UTC)
            elif isinstance(actual, str):
                when = parse_date(actual)
            else:
                when = None
            return bound is not None and when is not None and test(when, bound)

        return match

    return prepare


def parse_semver(value: Any) -> tuple[int, int, int] | None:
    """``v1.2.3-beta`` → (1, 2, 3); missing parts are 0; leading zeros refused."""
    text = as_text(value).strip().lstrip("vV").split("-")[0].split("+")[0]
    parts = text.split(".")
    if not parts[0] or len(parts) > 3:
        return None
    numbers = []
    for part in parts + ["0"] * (3 - len(parts)):
        part = part or "0"
        if not part.isascii() or not part.isdigit() or (len(part) > 1 and part[0] == "0"):
            return None
        numbers.append(int(part))
    return numbers[0], numbers[1], numbers[2]


def _semver_range(kind: str, value: Any) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    if kind == "wildcard":
        parts = [p for p in as_text(value).strip().lstrip("vV").replace("*", "").split(".") if p]
        if not parts or len(parts) > 3 or not all(p.isascii() and p.isdigit() for p in parts):
            return None
        low = [int(p) for p in parts] + [0] * (3 - len(parts))
        high = list(low)
        high[len(parts) - 1] += 1
        return tuple(low), tuple(high)
    version = parse_semver(value)
    if version is None:
        return None
    major, minor, patch = version
    if kind == "tilde":
        return version, (major, minor + 1, 0)
    if major > 0:
        return version, (major + 1, 0, 0)
    if minor > 0:
        return version, (0, minor + 1, 0)
    return version, (0, 0, patch + 1)


def _semver(test: Callable[[tuple[int, ...], tuple[int, ...]], bool]) -> Operator:
    return _compared(parse_semver, test)


def _semver_in(kind: str) -> Operator:
    def prepare(expected: Any) -> Test:
        bounds = _semver_range(kind, expected)
        if bounds is None:
            return lambda actual, now: False
        low, high = bounds

        def match(actual: Any, now: datetime) -> bool:
            version = parse_semver(actual)
            return version is not None and low <= version < high

        return match

    return prepare


OPERATORS: dict[str, Operator] = {
    "exact": _exact,
    "is_not": _is_not,
    "is_set": _constant(True),
    "is_not_set": _constant(False),
    "icontains": _text(lambda actual, expected: expected in actual),
    "not_icontains": _text(lambda actual, expected: expected in actual, negated=True),
    "starts_with": _text(str.startswith),
    "not_starts_with": _text(str.startswith, negated=True),
    "ends_with": _text(str.endswith),
    "not_ends_with": _text(str.endswith, negated=True),
    "regex": _regex(negated=False),
    "not_regex": _regex(negated=True),
    "gt": _numeric(lambda number, bound: number > bound),
    "gte": _numeric(lambda number, bound: number >= bound),
    "lt": _numeric(lambda number, bound: number < bound),
    "lte": _numeric(lambda number, bound: number <= bound),
    "is_date_before": _date(lambda when, bound: when < bound),
    "is_date_after": _date(lambda when, bound: when > bound),
    "is_date_exact": _date(lambda when, bound: when.date() == bound.date()),
    "semver_eq": _semver(lambda version, bound: version == bound),
    "semver_neq": _semver(lambda version, bound: version != bound),
    "semver_gt": _semver(lambda version, bound: version > bound),
    "semver_gte": _semver(lambda version, bound: version >= bound),
    "semver_lt": _semver(lambda version, bound: version < bound),
    "semver_lte": _semver(lambda version, bound: version <= bound),
    "semver_tilde": _semver_in("tilde"),
    "semver_caret": _semver_in("caret"),
    "semver_wildcard": _semver_in("wildcard"),
}
