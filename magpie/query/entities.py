"""A series node (EventsNode or ActionsNode) → the events it stands for and the
name results give it: the one place insights ask either question, so every kind
that takes an event takes an action the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlglot import exp

from magpie.errors import UnknownAction
from magpie.query.context import QueryContext
from magpie.query.filters import field
from magpie.query.models import EventsNode

ALL_EVENTS = "All events"


@dataclass(frozen=True)
class Entity:
    """How PostHog's results name a series' entity: ``id`` is the event name (None
    for all events) or the action's id, ``type`` says which."""

    id: Any
    type: Literal["events", "actions"]
    name: str


def is_action(node: EventsNode) -> bool:
    return node.kind == "ActionsNode"


def node_events(node: EventsNode, context: QueryContext) -> exp.Expr | None:
    """The condition on ``events`` that picks the node's events, before its
    property filters; None for every event."""
    if is_action(node):
        assert node.id is not None
        return context.action(node.id).condition.copy()
    if node.event is None:
        return None
    return exp.EQ(this=field("event"), expression=exp.Literal.string(node.event))


def entity_of(node: EventsNode, context: QueryContext) -> Entity:
    if is_action(node):
        assert node.id is not None
        return Entity(node.id, "actions", context.action(node.id).name)
    return Entity(node.event, "events", node.event or ALL_EVENTS)


def same_events(a: EventsNode, b: EventsNode) -> bool:
    """Whether two nodes name the same events by the same name or action."""
    return a.kind == b.kind and (a.id == b.id if is_action(a) else a.event == b.event)


def action_id_of(value: object, attr: str) -> int:
    """An action id as requests write it (a number, or its digits as text)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnknownAction("an action is named by its id, a whole number", attr=attr)
    try:
        found = int(value)
    except ValueError:
        raise UnknownAction(
            f"an action is named by its id, not {str(value)[:64]!r}", attr=attr
        ) from None
    if not 0 <= found < 2**63:
        raise UnknownAction(f"there is no action {found}", attr=attr)
    return found
