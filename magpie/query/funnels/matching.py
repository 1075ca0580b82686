"""How one actor's events go through a funnel (compat-2 §2.3), as pure functions.

An actor's events come in time order, each with the steps it matches (a bit
per step) and the exclusions it matches. Ordered and strict funnels follow
every attempt at once: ``entered[k]`` is the attempt that most recently
reached ``k`` steps, and an attempt is known by the time of its first step,
from which the conversion window is measured. A later start is always at
least as good (it leaves more of the window), so each event only needs the
latest attempt one step behind it. The furthest step any attempt reaches
wins; if that attempt saw an exclusion, the actor leaves the funnel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby
from typing import Any


@dataclass(frozen=True)
class Event:
    at: int  # microseconds since the start of the query's range
    steps: int  # bit i: matches step i (0-indexed)
    exclusions: int  # bit j: matches exclusion j
    row: int  # tells apart events with the same time
    value: Any = None  # the breakdown value, when there is a breakdown


@dataclass(frozen=True)
class Exclusion:
    from_step: int
    to_step: int


@dataclass(frozen=True)
class Rules:
    steps: int
    window: int  # microseconds from the first step
    order: str  # ordered | strict | unordered
    optional: frozenset[int] = frozenset()  # 0-indexed steps that may be skipped
    exclusions: tuple[Exclusion, ...] = ()
    # breakdownAttributionType "step": the step whose event must have the value.
    value_step: int | None = None


@dataclass(frozen=True)
class Outcome:
    """An actor's best attempt: which steps it reached and when (step → time)."""

    reached: int  # steps reached, counting skipped optional steps
    times: dict[int, int] = field(default_factory=dict)
    start: int = 0

    def has(self, step: int) -> bool:
        return step in self.times if step < self.reached else False


@dataclass(frozen=True)
class _Attempt:
    start: int
    excluded: bool
    times: tuple[tuple[int, int], ...]  # (step, time) of the steps it went through
    rows: frozenset[int]


Matcher = Callable[[Sequence[Event], Rules, Any], Outcome | None]


def _exclusion_entries(rules: Rules, exclusions: int) -> list[int]:
    """The step counts ``k`` (1-based) an event with these exclusion bits guards: it
    excludes an attempt that reached k-1 steps and not yet k, for every step of an
    exclusion's range after its first."""
    ks: set[int] = set()
    for j, ex in enumerate(rules.exclusions):
        if exclusions >> j & 1:
            ks.update(range(ex.from_step + 2, ex.to_step + 2))
    return sorted(ks)


class _Sequence:
    """The state of ordered and strict matching for one actor and one breakdown value."""

    def __init__(self, rules: Rules, value: Any) -> None:
        self.rules = rules
        self.value = value
        # entered[k]: the latest attempt that reached k steps (entered[0]: this instant).
        self.entered: list[_Attempt | None] = [None] * (rules.steps + 1)
        self.best_k = 0
        self.best: _Attempt | None = None

    def feed(self, at: int, events: list[Event]) -> None:
        self.entered[0] = _Attempt(at, False, (), frozenset())
        if len(events) == 1 or len({e.steps for e in events}) == 1:
            for event in events:
                self._event(event, _steps_of(event.steps), event.exclusions, alone=True)
            return
        # Different events at one instant: each step they match is tried in step
        # order, without strict clearing or exclusions (no order tells them apart).
        tries = sorted(
            ((step, event) for event in events for step in _steps_of(event.steps)),
            key=lambda pair: pair[0],
        )
        for step, event in tries:
            self._event(event, [step], 0, alone=False)

    def done(self) -> bool:
        return self.entered[self.rules.steps] is not None

    def _event(self, event: Event, steps: list[int], exclusions: int, *, alone: bool) -> None:
        for k in _exclusion_entries(self.rules, exclusions):
            self._exclude(event, k)
        for step in reversed(steps):  # higher steps first: one event advances one step
            self._advance(event, step, alone)
        if alone and self.rules.order == "strict":
            # Any event that is not the next step breaks every attempt.
            for k in range(1, self.rules.steps + 1):
                if not event.steps >> (k - 1) & 1:
                    self.entered[k] = None

    def _previous(self, event: Event, k: int) -> tuple[int, _Attempt | None]:
        """The attempt step ``k`` (1-based count) would extend: the one that reached
        k-1 steps within the window, or, past optional steps, an earlier one."""
        prev = k - 1
        attempt = self.entered[prev]
        while (
            prev > 0 and not self._in_window(event, attempt) and (prev - 1) in self.rules.optional
        ):
            prev -= 1
            attempt = self.entered[prev]
        return prev, attempt if self._in_window(event, attempt) else None

    def _in_window(self, event: Event, attempt: _Attempt | None) -> bool:
        return attempt is not None and event.at - attempt.start <= self.rules.window

    def _exclude(self, event: Event, k: int) -> None:
        prev, attempt = self._previous(event, k)
        if attempt is None or attempt.excluded or self._reached(k, attempt):
            return
        self.entered[prev] = replace(attempt, excluded=True)
        if self.best_k == prev and self.best is not None and self._in_window(event, self.best):
            self.best = replace(self.best, excluded=True)

    def _reached(self, k: int, attempt: _Attempt) -> bool:
        already = self.entered[k]
        return already is not None and already.start == attempt.start

    def _advance(self, event: Event, step: int, alone: bool) -> None:
        k = step + 1
        prev, attempt = self._previous(event, k)
        if attempt is None or self._reached(k, attempt):
            return
        rules = self.rules
        if rules.value_step is not None and prev == rules.value_step and event.value != self.value:
            return
        if not alone and event.row in attempt.rows:
            return
        extended = _Attempt(
            attempt.start,
            attempt.excluded,
            (*attempt.times, (step, event.at)),
            attempt.rows | {event.row},
        )
        if not attempt.excluded:
            self.entered[k] = extended
        if k > self.best_k or (k == self.best_k and self.best is not None and self.best.excluded):
            self.best_k, self.best = k, extended

    def outcome(self) -> Outcome | None:
        if self.best is None:
            return Outcome(0)
        if self.best.excluded:
            return None
        return Outcome(self.best_k, dict(self.best.times), self.best.start)


@functools.lru_cache(maxsize=4096)
def _steps_of(mask: int) -> list[int]:
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def match_sequence(events: Sequence[Event], rules: Rules, value: Any = None) -> Outcome | None:
    """Ordered or strict: the actor's best attempt, or None when it was excluded."""
    state = _Sequence(rules, value)
    for at, same_time in groupby(events, key=lambda e: e.at):
        state.feed(at, list(same_time))
        if state.done():
            break
    return state.outcome()


def match_unordered(events: Sequence[Event], rules: Rules, value: Any = None) -> Outcome | None:
    """Unordered: from each event that matches a step, how many different steps
    happen within the window; the attempt with the most wins (the earliest of
    equals). An exclusion event between its start and its last step (or within the
    window, for an attempt that does not finish) excludes that attempt."""
    best: tuple[int, dict[int, int], int, bool] | None = None
    for i, first in enumerate(events):
        if not first.steps:
            continue
        if rules.value_step is not None and not (
            first.steps >> rules.value_step & 1 and first.value == value
        ):
            continue
        times: dict[int, int] = {}
        last = first.at
        for later in events[i:]:
            if later.at - first.at > rules.window:
                break
            for step in _steps_of(later.steps):
                if step not in times:
                    times[step] = later.at
                    last = later.at
                    break
            if len(times) == rules.steps:
                break
        until = last if len(times) == rules.steps else first.at + rules.window
        excluded = any(e.exclusions and first.at <= e.at <= until for e in events[i:])
        if best is None or len(times) > best[0] or (len(times) == best[0] and best[3]):
            best = (len(times), times, first.at, excluded)
        if len(times) == rules.steps and not excluded:
            break
    if best is None:
        return Outcome(0)
    if best[3]:
        return None
    # The steps in the order they happened count as steps 0, 1, 2 …
    ordered = sorted(best[1].values())
    return Outcome(best[0], dict(enumerate(ordered)), best[2])


MATCHERS: dict[str, Matcher] = {
    "ordered": match_sequence,
    "strict": match_sequence,
    "unordered": match_unordered,
}
