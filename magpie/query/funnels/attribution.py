"""Which breakdown value an actor goes through the funnel under (compat-2 §2.4).

Each rule takes an actor's events and gives the values to run the funnel
under, each with the events that run sees: first and last touch run once,
``all_events`` once per value on that value's events only, ``step`` once per
value the actor had on the chosen step (that step's event must have it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from magpie.query.funnels.matching import Event

Runs = list[tuple[Any, Sequence[Event]]]
Attribution = Callable[[Sequence[Event], int | None], Runs]


def _touch(events: Sequence[Event]) -> Any:
    for event in events:
        if event.steps and event.value is not None:
            return event.value
    return None


def _first_touch(events: Sequence[Event], step: int | None) -> Runs:
    return [(_touch(events), events)]


def _last_touch(events: Sequence[Event], step: int | None) -> Runs:
    return [(_touch(list(reversed(events))), events)]


def _all_events(events: Sequence[Event], step: int | None) -> Runs:
    values = dict.fromkeys(e.value for e in events if e.steps)
    return [(v, [e for e in events if e.value == v]) for v in values]


def _step(events: Sequence[Event], step: int | None) -> Runs:
    assert step is not None
    values = dict.fromkeys(e.value for e in events if e.steps >> step & 1)
    return [(v, events) for v in values]


ATTRIBUTIONS: dict[str, Attribution] = {
    "first_touch": _first_touch,
    "last_touch": _last_touch,
    "all_events": _all_events,
    "step": _step,
}
