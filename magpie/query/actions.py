"""An action → one HogQL condition on ``events``: the only place that knows how a
step matches.

An event matches an action when it matches any of its steps; it matches a step
when it matches every part the step sets: the event name (none: any event), the
page URL (``$current_url``: contains, exact or regex), the step's property
filters, and the autocapture element it was on (``elements_chain``: a CSS
selector of the subset magpie/query/selectors.py matches, a tag name, a text,
a link target). The condition is HogQL over the virtual events table, so the
compiler resolves it for the engine like any filter, regexes through the
dialect's regex function.

Steps are checked when an action is saved (``checked_steps``): a part Magpie
does not match (a CSS selector outside the subset, a regex on an element's
text or link) is refused there with ``invalid_action_steps`` instead of being
ignored when a query runs. docs/insights.md lists the rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError, field_validator
from sqlglot import exp

from magpie.errors import InvalidActionSteps, MagpieError
from magpie.query.filters import field, properties_condition
from magpie.query.models import PropertyFilter, PropertyGroup
from magpie.query.operators import like_pattern
from magpie.query.selectors import UnsupportedSelector, selector_regex
from magpie.store.model import Action

MAX_STEPS = 100
Matching = Literal["contains", "exact", "regex"]


class ActionStep(BaseModel):
    """One step in PostHog's action step shape. Empty strings mean "not set", as
    PostHog's editor sends them for fields left blank."""

    model_config = ConfigDict(extra="ignore")

    event: StrictStr | None = None
    url: StrictStr | None = None
    url_matching: Matching | None = "contains"
    properties: list[PropertyFilter | PropertyGroup] | None = None
    selector: StrictStr | None = None
    tag_name: StrictStr | None = None
    text: StrictStr | None = None
    text_matching: Matching | None = "exact"
    href: StrictStr | None = None
    href_matching: Matching | None = "exact"

    @field_validator("url", "selector", "tag_name", "text", "href")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None


# -- the parts of a step --------------------------------------------------------------


def _regex_escaped(value: str) -> str:
    """``value`` matched literally in a regex, escaping only what RE2 (both engines'
    regex library) treats as special."""
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", value)


def _chain_escaped(value: str) -> str:
    """How ``elements_chain`` writes an attribute's value (magpie/ingest/elements.py)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _chain_matches(pattern: str) -> exp.Expr:
    return exp.RegexpLike(this=field("elements_chain"), expression=exp.Literal.string(pattern))


def _url(step: ActionStep) -> exp.Expr | None:
    if step.url is None:
        return None
    url = field("properties", "$current_url")
    value = exp.Literal.string(step.url)
    if step.url_matching == "exact":
        return exp.EQ(this=url, expression=value)
    if step.url_matching == "regex":
        return exp.RegexpLike(this=url, expression=value)
    # PostHog's contains is a case-sensitive LIKE; here % and _ in the URL are literal.
    return exp.Escape(
        this=exp.Like(this=url, expression=like_pattern(step.url, "%", "%")),
        expression=exp.Literal.string("\\"),
    )


def _tag_name(step: ActionStep) -> exp.Expr | None:
    if step.tag_name is None:
        return None
    # An element is written tag.classes:attributes; elements are joined with ';'.
    return _chain_matches(rf"(^|;){_regex_escaped(step.tag_name)}([.:;]|$)")


def _attribute(name: str, value: str | None, matching: str | None) -> exp.Expr | None:
    """An element of the chain has attribute ``name`` equal to (or containing) ``value``."""
    if value is None:
        return None
    wanted = _regex_escaped(_chain_escaped(value))
    # Attributes follow the tag's ':' and each other's closing quote.
    head = rf'(^|;)[^;]*[:"]{name}="'
    if matching == "contains":
        return _chain_matches(rf'{head}(\\.|[^"\\])*{wanted}')
    return _chain_matches(rf'{head}{wanted}"')


def _selector(step: ActionStep) -> exp.Expr | None:
    return None if step.selector is None else _chain_matches(selector_regex(step.selector))


def _event(step: ActionStep) -> exp.Expr | None:
    if step.event is None:
        return None
    return exp.EQ(this=field("event"), expression=exp.Literal.string(step.event))


# Each part of a step → its condition (None: the step does not set it).
STEP_PARTS: dict[str, Callable[[ActionStep, datetime], exp.Expr | None]] = {
    "event": lambda step, now: _event(step),
    "url": lambda step, now: _url(step),
    "properties": lambda step, now: properties_condition(step.properties, now),
    "selector": lambda step, now: _selector(step),
    "tag_name": lambda step, now: _tag_name(step),
    "text": lambda step, now: _attribute("text", step.text, step.text_matching),
    "href": lambda step, now: _attribute("href", step.href, step.href_matching),
}


# Parts a step may not set, with why: refused when the action is saved.
def _unsupported_selector(step: ActionStep) -> str | None:
    if step.selector is None:
        return None
    try:
        selector_regex(step.selector)
    except UnsupportedSelector as exc:
        return str(exc)
    return None


UNSUPPORTED: dict[str, Callable[[ActionStep], str | None]] = {
    "selector": _unsupported_selector,
    "text_matching": lambda step: (
        "a regex on an element's text is not matched; use exact or contains"
        if step.text is not None and step.text_matching == "regex"
        else None
    ),
    "href_matching": lambda step: (
        "a regex on a link's href is not matched; use exact or contains"
        if step.href is not None and step.href_matching == "regex"
        else None
    ),
}


def step_condition(step: ActionStep, now: datetime) -> exp.Expr:
    """The AND of the parts the step sets; a step that sets none matches every event."""
    parts = [c for build in STEP_PARTS.values() if (c := build(step, now)) is not None]
    if not parts:
        return exp.true()
    return exp.and_(*(exp.paren(p) for p in parts))


def action_condition(steps: list[dict[str, Any]], now: datetime) -> exp.Expr:
    """The OR of the steps; an action without steps matches no event."""
    if not steps:
        return exp.false()
    return exp.or_(*(exp.paren(step_condition(ActionStep.model_validate(s), now)) for s in steps))


# -- saving -----------------------------------------------------------------------------


def checked_steps(raw: Any, now: datetime) -> list[dict[str, Any]]:
    """The steps as stored (every field present), or ``invalid_action_steps`` naming
    the first step and field that is wrong or not supported."""
    if not isinstance(raw, list):
        raise InvalidActionSteps("steps is a list of step objects", attr="steps")
    if len(raw) > MAX_STEPS:
        raise InvalidActionSteps(f"an action has at most {MAX_STEPS} steps", attr="steps")
    checked = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidActionSteps(f"steps.{i} is not an object", attr=f"steps.{i}")
        try:
            step = ActionStep.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"][:1])
            raise InvalidActionSteps(
                f"steps.{i}.{where}: {first['msg']}", attr=f"steps.{i}.{where}"
            ) from None
        for name, refusal in UNSUPPORTED.items():
            why = refusal(step)
            if why is not None:
                raise InvalidActionSteps(f"steps.{i}.{name}: {why}", attr=f"steps.{i}.{name}")
        _check_regex(step, i)
        try:
            step_condition(step, now)
        except MagpieError as exc:  # a property filter that cannot be compiled
            raise InvalidActionSteps(
                f"steps.{i}.properties: {exc.message}", attr=f"steps.{i}.properties"
            ) from None
        checked.append(step.model_dump(mode="json"))
    return checked


def _check_regex(step: ActionStep, index: int) -> None:
    if step.url is None or step.url_matching != "regex":
        return
    try:
        re.compile(step.url)
    except re.error as exc:
        raise InvalidActionSteps(
            f"steps.{index}.url is not a regular expression: {exc}", attr=f"steps.{index}.url"
        ) from None


# -- querying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledAction:
    """What a query needs of an action: how results name it, and its condition
    (copy it before putting it in a tree)."""

    id: int
    name: str
    condition: exp.Expr


def compile_action(action: Action, now: datetime) -> CompiledAction:
    return CompiledAction(action.id, action.name, action_condition(action.steps, now))
