"""posthog-js's ``person_profiles`` state machine (compat §4) and the state it persists.

The state decides, for every event, whether the server should build a person
profile for it (``$process_person_profile``). Under ``identified_only`` events
stay anonymous (cheap, no person) until an identifying call; after that they
stay identified until ``reset()``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, cast

from magpie_sdk.storage import Storage
from magpie_sdk.uuid7 import uuid7

logger = logging.getLogger("magpie_sdk")

PersonProfiles = Literal["identified_only", "always", "never"]
PERSON_PROFILES: tuple[PersonProfiles, ...] = ("identified_only", "always", "never")
UserState = Literal["anonymous", "identified"]

# Persisted under posthog-js's own key names (compat §4.2), so a state file
# reads like a posthog-js cookie and the two are easy to compare.
_DISTINCT_ID = "distinct_id"
_DEVICE_ID = "$device_id"
_USER_STATE = "$user_state"
_EPP = "$epp"
_GROUPS = "$groups"
_ALIAS = "__alias"
_PERSON_PROPS = "$stored_person_properties"
_GROUP_PROPS = "$stored_group_properties"


@dataclass
class IdentityState:
    distinct_id: str
    device_id: str
    user_state: UserState = "anonymous"
    # Sticky "enable person processing": once an event was sent personful, all
    # later ones are too, even if the configuration changes (compat §4.3).
    epp: bool = False
    groups: dict[str, str] = field(default_factory=dict)
    alias: str | None = None
    person_properties_for_flags: dict[str, Any] = field(default_factory=dict)
    group_properties_for_flags: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def new_anonymous(cls, device_id: str | None = None) -> IdentityState:
        # At first use the anonymous distinct id *is* the device id (compat §4.4).
        anonymous_id = uuid7()
        return cls(distinct_id=anonymous_id, device_id=device_id or anonymous_id)

    def to_json(self) -> dict[str, Any]:
        return {
            _DISTINCT_ID: self.distinct_id,
            _DEVICE_ID: self.device_id,
            _USER_STATE: self.user_state,
            _EPP: self.epp,
            _GROUPS: dict(self.groups),
            _ALIAS: self.alias,
            _PERSON_PROPS: dict(self.person_properties_for_flags),
            _GROUP_PROPS: {k: dict(v) for k, v in self.group_properties_for_flags.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IdentityState | None:
        """The state saved by :meth:`to_json`, or None if it is not usable."""
        distinct_id = data.get(_DISTINCT_ID)
        device_id = data.get(_DEVICE_ID)
        user_state = data.get(_USER_STATE, "anonymous")
        if not _is_id(distinct_id) or user_state not in ("anonymous", "identified"):
            return None
        groups = data.get(_GROUPS) or {}
        person_props = data.get(_PERSON_PROPS) or {}
        group_props = data.get(_GROUP_PROPS) or {}
        alias = data.get(_ALIAS)
        if not (
            isinstance(groups, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in groups.items())
            and isinstance(person_props, dict)
            and isinstance(group_props, dict)
            and all(isinstance(v, dict) for v in group_props.values())
            and (alias is None or isinstance(alias, str))
        ):
            return None
        return cls(
            distinct_id=cast(str, distinct_id),
            # An older or hand-written file without a device id: keep the
            # distinct id as the device id, as posthog-js does on identify.
            device_id=cast(str, device_id) if _is_id(device_id) else cast(str, distinct_id),
            user_state=cast(UserState, user_state),
            epp=data.get(_EPP) is True,
            groups=dict(groups),
            alias=alias,
            person_properties_for_flags=dict(person_props),
            group_properties_for_flags={k: dict(v) for k, v in group_props.items()},
        )


def _is_id(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


class IdentifyTransition(Enum):
    # Anonymous, new id: the client sends `$identify` with `$anon_distinct_id`,
    # which makes the server merge the anonymous id into the person.
    FIRST_IDENTIFY = "first_identify"
    # Anonymous, and the id already is the anonymous id: only a `$set`.
    SAME_ID = "same_id"
    # Already identified: no merge event at all (call reset() first to switch users).
    ALREADY_IDENTIFIED = "already_identified"


class Identity:
    """The state plus its transitions. Not thread-safe: the client serialises calls."""

    def __init__(self, mode: PersonProfiles, storage: Storage) -> None:
        self.mode: PersonProfiles = mode
        self._storage = storage
        saved = storage.load()
        loaded = IdentityState.from_json(saved) if saved is not None else None
        if saved is not None and loaded is None:
            logger.warning("ignoring unusable saved Magpie state; starting a new anonymous user")
        self.state = loaded or IdentityState.new_anonymous()
        if loaded is None:
            self._save()

    # -- deciding person processing (compat §4.3) ------------------------------

    @property
    def is_identified(self) -> bool:
        return self.state.user_state == "identified"

    def has_person_processing(self) -> bool:
        if self.mode == "never":
            return False
        if self.mode == "always":
            return True
        return bool(self.is_identified or self.state.groups or self.state.alias or self.state.epp)

    def require_person_processing(self, action: str) -> bool:
        """Gate for the calls that create a person profile: refuse in ``never``
        mode, otherwise switch processing on for good."""
        if self.mode == "never":
            logger.warning(
                "%s ignored: person_profiles='never' does not create person profiles", action
            )
            return False
        self._set_epp()
        return True

    def stamp_event(self) -> tuple[bool, bool]:
        """``($is_identified, $process_person_profile)`` for the event being sent.
        A personful event makes processing sticky."""
        process = self.has_person_processing()
        if process:
            self._set_epp()
        return self.is_identified, process

    def _set_epp(self) -> None:
        if not self.state.epp:
            self.state.epp = True
            self._save()

    # -- transitions --------------------------------------------------------------

    def identify(self, new_id: str) -> IdentifyTransition:
        """Apply ``identify(new_id)`` (compat §4.5) to the state; the caller sends the event."""
        state = self.state
        previous = state.distinct_id
        if new_id != previous and new_id != state.alias:
            state.alias = None
            state.distinct_id = new_id
        if state.user_state == "anonymous":
            state.user_state = "identified"
            transition = (
                IdentifyTransition.SAME_ID
                if new_id == previous
                else IdentifyTransition.FIRST_IDENTIFY
            )
        else:
            transition = IdentifyTransition.ALREADY_IDENTIFIED
        self._save()
        return transition

    def alias(self, alias: str) -> bool:
        """Register ``__alias`` (compat §4.6). False means the alias is the current
        id, so the caller should identify with it instead."""
        if alias == self.state.distinct_id:
            return False
        self.state.alias = alias
        self._save()
        return True

    def register_group(self, group_type: str, group_key: str) -> bool:
        """Add ``$groups[group_type] = group_key``; True if the key is new or changed."""
        changed = self.state.groups.get(group_type) != group_key
        if changed:
            self.state.groups[group_type] = group_key
            # Flag properties stored for the old group no longer describe it.
            self.state.group_properties_for_flags.pop(group_type, None)
            self._save()
        return changed

    def reset(self, reset_device_id: bool) -> None:
        """Forget the user (compat §4.7): new anonymous id, everything else cleared,
        the device id kept unless asked otherwise."""
        fresh = IdentityState.new_anonymous()
        if not reset_device_id:
            fresh.device_id = self.state.device_id
        self.state = fresh
        self._save()

    # -- properties kept for feature-flag requests (compat §6.4) -------------------

    def set_person_properties_for_flags(
        self, set_props: Mapping[str, Any], set_once_props: Mapping[str, Any] | None = None
    ) -> None:
        stored = self.state.person_properties_for_flags
        for key, value in (set_once_props or {}).items():
            stored.setdefault(key, value)
        stored.update(set_props)
        self._save()

    def unset_person_properties_for_flags(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.state.person_properties_for_flags.pop(key, None)
        self._save()

    def set_group_properties_for_flags(self, props: Mapping[str, Mapping[str, Any]]) -> None:
        for group_type, values in props.items():
            self.state.group_properties_for_flags.setdefault(group_type, {}).update(values)
        self._save()

    def _save(self) -> None:
        self._storage.save(self.state.to_json())
