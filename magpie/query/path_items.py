"""Path items: what each event is as a step of a path (a page's URL, a screen's
name, or the event's name), after the query's cleaning rules and groupings."""

from __future__ import annotations

import re
from typing import Literal

from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.filters import field, hogql_expression
from magpie.query.models import _Model

PathType = Literal["$pageview", "$screen", "custom_event", "hogql"]


class PathCleaningFilter(_Model):
    regex: str
    alias: str = ""
    order: int | None = None


def _string(text: str) -> exp.Expr:
    return exp.Literal.string(text)


def _replace_all(value: exp.Expr, pattern: str, replacement: str) -> exp.Expr:
    return exp.RegexpReplace(
        this=value,
        expression=_string(pattern),
        replacement=_string(replacement),
        modifiers=_string("g"),
    )


def _event_is(name: str) -> exp.Expr:
    return exp.EQ(this=field("event"), expression=_string(name))


def _page() -> exp.Expr:
    """A page is its URL without one trailing slash ("/" itself stays)."""
    url = field("properties", "$current_url")
    length = exp.Length(this=url.copy())
    slashed = exp.and_(
        exp.EndsWith(this=url.copy(), expression=_string("/")),
        exp.GT(this=length, expression=exp.Literal.number(1)),
    )
    shorter = exp.Sub(this=length.copy(), expression=exp.Literal.number(1))
    cut = exp.Substring(this=url.copy(), start=exp.Literal.number(1), length=shorter)
    return exp.If(this=slashed, true=cut, false=url)


# event → its path item, for the events whose item is not their name
ITEMS: dict[str, exp.Expr] = {
    "$pageview": _page(),
    "$screen": field("properties", "$screen_name"),
}


def _hogql_item(text: str | None) -> exp.Expr:
    """The ``hogql`` type's item: the query's expression (the event's name without
    one), as text so that it compares with start and end points."""
    if not text:
        return field("event")
    return exp.func("toString", hogql_expression(text))


def _raw_item(types: list[str], hogql: str | None = None) -> exp.Expr:
    """Each event's item, with only the branches the included types reach. With
    ``hogql`` included, the events no other type names are items by its expression."""
    special = [event for event in ITEMS if not types or event in types]
    by_expression = "hogql" in types
    named = not types or "custom_event" in types or by_expression
    other = _hogql_item(hogql) if by_expression else field("event")
    if not special:
        return other
    if len(special) == 1 and not named:
        return ITEMS[special[0]].copy()
    case = exp.Case()
    for event in special:
        case = case.when(_event_is(event), ITEMS[event].copy())
    return case.else_(other) if named else case


def _checked(pattern: str, attr: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidInput(f"{pattern!r} is not a regular expression: {exc}", attr=attr) from None
    return pattern


def _glob(grouping: str) -> str:
    """A path grouping's wildcard (``/product/*``) as an anchored regex."""
    return "^" + ".*".join(re.escape(part) for part in grouping.split("*")) + "$"


def _in_order(rules: list[PathCleaningFilter]) -> list[PathCleaningFilter]:
    ordered = sorted(
        enumerate(rules),
        key=lambda pair: (pair[1].order if pair[1].order is not None else pair[0], pair[0]),
    )
    return [rule for _, rule in ordered]


def path_item(
    types: list[str],
    cleaning: list[PathCleaningFilter],
    groupings: list[str],
    hogql: str | None = None,
    *,
    project_cleaning: list[PathCleaningFilter] | None = None,
) -> exp.Expr:
    """Each event's item, cleaned by the rules in their order, then grouped. The
    project's rules (``pathReplacements``) come first, then the query's own, each
    list in its own order, as PostHog chains them."""
    item = _raw_item(types, hogql)
    rules = [
        *((r, "path_cleaning_filters") for r in _in_order(project_cleaning or [])),
        *((r, "pathsFilter.localPathCleaningFilters") for r in _in_order(cleaning)),
    ]
    for rule, attr in rules:
        item = _replace_all(item, _checked(rule.regex, attr), rule.alias)
    if not groupings:
        return item
    grouped = exp.Case()
    for grouping in groupings:
        grouped = grouped.when(
            exp.RegexpLike(this=item.copy(), expression=_string(_glob(grouping))),
            _string(grouping),
        )
    return grouped.else_(item)


# includeEventTypes → the events it takes in
EVENT_TYPES: dict[str, exp.Expr] = {
    "$pageview": _event_is("$pageview"),
    "$screen": _event_is("$screen"),
    "custom_event": exp.Not(this=exp.StartsWith(this=field("event"), expression=_string("$"))),
}


def types_condition(types: list[str]) -> exp.Expr | None:
    """The events of the included types; None for all of them (``hogql`` takes
    every event: its expression says what each is)."""
    if "hogql" in types:
        return None
    kinds = [EVENT_TYPES[kind].copy() for kind in dict.fromkeys(types)]
    return exp.or_(*kinds) if kinds else None
