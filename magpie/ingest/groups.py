"""Groups (compat §5): group types, ``$groupidentify`` and ``$group_N`` on events.

A project has at most five group types, numbered 0–4 in order of first use.
Only person-processed events are placed in groups: group analytics do not
work on anonymous events.
"""

from __future__ import annotations

from magpie.capture.rules import stringify
from magpie.ingest.events import IncomingEvent
from magpie.ingest.normalize import WarningSink
from magpie.store.state import GROUP_PROPERTY_KEYS, MAX_GROUP_TYPES, Group, GroupState


def group_key_text(value: object) -> str:
    return value if isinstance(value, str) else stringify(value)


class GroupRules:
    def __init__(self, state: GroupState, warn: WarningSink) -> None:
        self._state = state
        self._warn = warn

    def apply(self, event: IncomingEvent) -> None:
        if not event.process_person:
            for key in GROUP_PROPERTY_KEYS:
                event.properties.pop(key, None)
            return
        if event.event == "$groupidentify":
            self._identify(event)
        groups = event.properties.get("$groups")
        if not isinstance(groups, dict):
            return
        for group_type, key in groups.items():
            if key is None:
                continue
            index = self._index(event, group_type)
            if index is not None:
                text = group_key_text(key)
                event.properties[GROUP_PROPERTY_KEYS[index]] = text
                event.groups[index] = text

    def _index(self, event: IncomingEvent, group_type: str) -> int | None:
        index = self._state.index_of(event.project_id, group_type, event.timestamp)
        if index is None:
            self._warn(
                event.warning(
                    "group_type_limit_reached", group_type=group_type, limit=MAX_GROUP_TYPES
                )
            )
        return index

    def _identify(self, event: IncomingEvent) -> None:
        group_type = event.properties.get("$group_type")
        raw_key = event.properties.get("$group_key")
        group_set = event.properties.get("$group_set") or {}
        if (
            not isinstance(group_type, str)
            or not group_type
            or raw_key is None
            or not isinstance(group_set, dict)
        ):
            self._warn(
                event.warning(
                    "invalid_group_identify",
                    reason="needs $group_type, $group_key and an object $group_set",
                )
            )
            return
        index = self._index(event, group_type)
        if index is None:
            return
        key = (event.project_id, index, group_key_text(raw_key))
        group = self._state.groups.get(key)
        if group is None:
            self._state.groups[key] = Group(
                event.project_id, index, key[2], dict(group_set), event.timestamp, 0
            )
            self._state.dirty_groups.add(key)
            return
        changed = False
        for name, value in group_set.items():
            if name not in group.properties or group.properties[name] != value:
                group.properties[name] = value
                changed = True
        if changed:
            group.version += 1
            self._state.dirty_groups.add(key)


def identified_group_keys(events: list[IncomingEvent]) -> set[tuple[int, str, str]]:
    """(project, group type, key) of every ``$groupidentify`` in a batch, for loading."""
    keys: set[tuple[int, str, str]] = set()
    for event in events:
        if event.event == "$groupidentify" and event.process_person:
            group_type = event.properties.get("$group_type")
            raw_key = event.properties.get("$group_key")
            if isinstance(group_type, str) and raw_key is not None:
                keys.add((event.project_id, group_type, group_key_text(raw_key)))
    return keys
