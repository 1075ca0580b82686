"""What an actor source gives: every actor behind a number, in page order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ActorSet:
    kind: Literal["person", "group"]
    # Person ids (an anonymous visitor's stand-in person id) or group keys, sorted,
    # each once: pages are slices of this list.
    ids: list[str]
    # A distinct id of each actor, where the source knows one: an anonymous visitor
    # is shown by it (found from its events otherwise).
    distinct_ids: dict[str, str] = field(default_factory=dict)
    group_type_index: int | None = None


def actor_set(
    ids: set[str] | list[str],
    distinct_ids: dict[str, str] | None = None,
    group_type_index: int | None = None,
) -> ActorSet:
    kind: Literal["person", "group"] = "person" if group_type_index is None else "group"
    return ActorSet(kind, sorted(set(ids)), distinct_ids or {}, group_type_index)
