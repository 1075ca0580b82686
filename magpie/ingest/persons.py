"""Person processing: which person an event belongs to, and how it changes persons.

These are the rules of compat §2.3–§3.4 as functions over a ``PersonState``
(in memory, no I/O), applied to a batch's events in queue order:

- a personless (anonymous) event never creates a person: it gets a
  deterministic person id from its distinct id, or the real person's id when
  one exists (``force_upgrade`` once that person is more than a minute old);
- a person-processed event creates its person on first sight and applies
  ``$set``, ``$set_once`` and ``$unset``;
- ``$identify``, ``$create_alias`` and ``$merge_dangerously`` join two distinct
  ids into one person, writing overrides so that past events follow.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any

from magpie.capture.rules import id_text, stringify
from magpie.ingest.events import IncomingEvent
from magpie.ingest.normalize import WarningSink
from magpie.store.state import MergeRecord, Person, PersonState

# PostHog's namespace for deterministic person uuids (compat §2.4), kept so that
# ids agree with data moved between the two systems.
PERSON_UUID_NAMESPACE = uuid.UUID("932979b4-65c3-4424-8467-0b66ec27bc22")
# Marks the stand-in person of an anonymous event, as PostHog does.
PERSONLESS_CREATED_AT = datetime(1970, 1, 1, 0, 0, 5)
# A personless event for an existing person counts as identified once the
# person is older than this; the margin tolerates ingestion lag.
FORCE_UPGRADE_AFTER = timedelta(minutes=1)

_ILLEGAL_ANY_CASE = frozenset(
    {
        "anonymous",
        "guest",
        "distinctid",
        "distinct_id",
        "id",
        "not_authenticated",
        "email",
        "undefined",
        "true",
        "false",
    }
)
_ILLEGAL_EXACT = frozenset({"[object Object]", "NaN", "None", "none", "null", "0", "undefined"})


def _with_quotes(values: frozenset[str]) -> frozenset[str]:
    return values | {f'"{v}"' for v in values} | {f"'{v}'" for v in values}


ILLEGAL_ANY_CASE = _with_quotes(_ILLEGAL_ANY_CASE)
ILLEGAL_EXACT = _with_quotes(_ILLEGAL_EXACT)


@functools.lru_cache(maxsize=10_000)
def person_uuid_for(project_id: int, distinct_id: str) -> uuid.UUID:
    # Cached: a distinct id sends many events close together, and a SHA-1 per
    # event adds up. Each entry holds about 400 bytes in five objects.
    return uuid.uuid5(PERSON_UUID_NAMESPACE, f"{project_id}:{distinct_id}")


def is_illegal_distinct_id(distinct_id: str) -> bool:
    """Ids too generic to merge on (``null``, ``guest``…): merging them would join strangers."""
    return (
        not distinct_id.strip()
        or distinct_id.lower() in ILLEGAL_ANY_CASE
        or distinct_id in ILLEGAL_EXACT
    )


def merge_pair(event: IncomingEvent) -> tuple[str, str] | None:
    """(other, into) when the event asks to join two distinct ids, else None."""
    properties = event.properties
    if event.event in ("$create_alias", "$merge_dangerously"):
        other = properties.get("alias")
    elif event.event == "$identify":
        other = properties.get("$anon_distinct_id")
    else:
        return None
    if other is None:
        return None
    other_id = other if isinstance(other, str) else stringify(other)
    return id_text(other_id), event.distinct_id


class PersonRules:
    def __init__(self, state: PersonState, warn: WarningSink) -> None:
        self._state = state
        self._warn = warn

    def apply(self, event: IncomingEvent) -> None:
        if event.process_person:
            self._person_processed(event)
        else:
            self._personless(event)

    # -- anonymous events --------------------------------------------------

    def _personless(self, event: IncomingEvent) -> None:
        event.person_properties = {}
        person = self._state.person_of(event.project_id, event.distinct_id)
        if person is None:
            event.person_id = person_uuid_for(event.project_id, event.distinct_id)
            event.person_mode = "propertyless"
            event.person_created_at = PERSONLESS_CREATED_AT
            self._state.record_personless(event.project_id, event.distinct_id, event.timestamp)
            return
        event.person_id = person.uuid
        event.person_created_at = person.created_at
        if event.timestamp > person.created_at + FORCE_UPGRADE_AFTER:
            event.person_mode = "force_upgrade"
            self._see(person, event)
        else:
            event.person_mode = "propertyless"

    # -- person-processed events -------------------------------------------

    def _person_processed(self, event: IncomingEvent) -> None:
        pair = merge_pair(event)
        person = self._merge(event, *pair) if pair else self._ordinary(event)
        self._see(person, event)
        event.person_id = person.uuid
        event.person_mode = "full"
        event.person_properties = dict(person.properties)
        event.person_created_at = person.created_at

    def _ordinary(self, event: IncomingEvent, *, identified: bool = False) -> Person:
        person = self._state.person_of(event.project_id, event.distinct_id)
        if person is None:
            return self._create(event, event.distinct_id, identified=identified)
        self._update(person, event, identified=identified)
        return person

    def _merge(self, event: IncomingEvent, other: str, into: str) -> Person:
        if other == into:
            return self._ordinary(event)
        if is_illegal_distinct_id(other) or is_illegal_distinct_id(into):
            self._warn(
                event.warning(
                    "cannot_merge_with_illegal_distinct_id",
                    source_distinct_id=other,
                    target_distinct_id=into,
                )
            )
            return self._ordinary(event)
        source = self._state.person_of(event.project_id, other)
        target = self._state.person_of(event.project_id, into)
        if source is not None and target is not None:
            return self._merge_existing(event, source, target)
        if source is not None or target is not None:
            existing = source or target
            assert existing is not None
            return self._attach(event, existing, into if source is not None else other)
        return self._create_merged(event, other, into)

    def _merge_existing(self, event: IncomingEvent, source: Person, target: Person) -> Person:
        if source is target:
            self._update(target, event, identified=True)
            return target
        if source.is_identified and event.event != "$merge_dangerously":
            self._warn(
                event.warning(
                    "cannot_merge_already_identified",
                    source_person=str(source.uuid),
                    target_person=str(target.uuid),
                )
            )
            self._update(target, event, identified=True)
            return target
        target.properties = {**source.properties, **target.properties}
        target.created_at = min(source.created_at, target.created_at)
        target.version = max(source.version, target.version) + 1
        if source.last_seen_at and (
            not target.last_seen_at or source.last_seen_at > target.last_seen_at
        ):
            target.last_seen_at = source.last_seen_at
        moved = self._state.absorb(target, source)
        self._record(event, "merge", source.uuid, target, moved)
        self._update(target, event, identified=True, force=True)
        return target

    def _attach(self, event: IncomingEvent, person: Person, distinct_id: str) -> Person:
        # Events already stored under the id (it was used anonymously) must
        # follow it to the person: version 1 writes an override for them.
        version = 1 if self._state.used_personless(event.project_id, distinct_id) else 0
        self._state.attach(person, distinct_id, version)
        self._record(event, "attach", None, person, [distinct_id])
        self._update(person, event, identified=True, force=True)
        return person

    def _create_merged(self, event: IncomingEvent, other: str, into: str) -> Person:
        other_used = self._state.used_personless(event.project_id, other)
        into_used = self._state.used_personless(event.project_id, into)
        # The primary id names the person (uuid5), so its past anonymous events
        # need no override; prefer the id that already has events.
        if other_used and not into_used:
            primary, secondary, version = other, into, 0
        else:
            primary, secondary, version = into, other, 1 if other_used else 0
        person = self._create(event, primary, identified=True)
        self._state.attach(person, secondary, version)
        self._record(event, "create", None, person, [primary, secondary])
        return person

    # -- building blocks ---------------------------------------------------

    def _create(self, event: IncomingEvent, distinct_id: str, *, identified: bool) -> Person:
        properties: dict[str, Any] = {}
        _apply_property_updates(properties, event, always=True)
        properties["$creator_event_uuid"] = event.uuid
        person = Person(
            project_id=event.project_id,
            uuid=person_uuid_for(event.project_id, distinct_id),
            properties=properties,
            created_at=event.timestamp,
            is_identified=identified,
            version=0,
            last_seen_at=None,
            distinct_ids={distinct_id: 0},
        )
        return self._state.create_person(person)

    def _update(
        self, person: Person, event: IncomingEvent, *, identified: bool, force: bool = False
    ) -> None:
        changed = _apply_property_updates(person.properties, event)
        if identified and not person.is_identified:
            person.is_identified = True
            changed = True
        if changed or force:
            person.version += 1
            self._state.touch(person)

    def _see(self, person: Person, event: IncomingEvent) -> None:
        if event.properties.get("$update_person_last_seen_at") is False:
            return
        hour = event.timestamp.replace(minute=0, second=0, microsecond=0)
        if person.last_seen_at is None or hour > person.last_seen_at:
            person.last_seen_at = hour
            self._state.touch(person)

    def _record(
        self,
        event: IncomingEvent,
        kind: str,
        source: uuid.UUID | None,
        target: Person,
        distinct_ids: list[str],
    ) -> None:
        self._state.record_merge(
            MergeRecord(
                event.project_id,
                event.timestamp,
                event.uuid,
                event.event,
                kind,
                source,
                target.uuid,
                tuple(distinct_ids),
            )
        )


_REMOVED = object()
# Events whose person updates are always written.
PERSON_EVENTS = frozenset({"$identify", "$create_alias", "$merge_dangerously", "$set"})
# Properties that change with nearly every page view. A change to these alone
# is not worth a new person version (PostHog filters them the same way); it
# is written with the next change that is.
_NOISY = frozenset(
    {
        "$current_url",
        "$pathname",
        "$referring_domain",
        "$referrer",
        "$screen_height",
        "$screen_width",
        "$viewport_height",
        "$viewport_width",
        "$device_type",
        "$raw_user_agent",
    }
)
_NOISY_PREFIXES = ("$browser", "$os")
_KEPT_GEOIP = frozenset({"$geoip_country_name", "$geoip_city_name"})


def _is_noisy(key: str) -> bool:
    return (
        key in _NOISY
        or key.startswith(_NOISY_PREFIXES)
        or (key.startswith("$geoip_") and key not in _KEPT_GEOIP)
    )


def property_changes(properties: dict[str, Any], event: IncomingEvent) -> dict[str, Any]:
    """What the event changes: ``$set_once`` fills what is missing, ``$set`` overwrites
    (and wins over ``$set_once``), ``$unset`` removes."""
    changes: dict[str, Any] = {}
    set_once = event.properties.get("$set_once")
    if isinstance(set_once, dict):
        for key, value in set_once.items():
            if key not in properties:
                changes[key] = value
    to_set = event.properties.get("$set")
    to_set = dict(to_set) if isinstance(to_set, dict) else {}
    if event.event == "survey shown":
        to_set["$survey_last_seen_date"] = event.timestamp.isoformat()
    for key, value in to_set.items():
        if key not in properties or properties[key] != value:
            changes[key] = value
    unset = event.properties.get("$unset")
    keys = unset if isinstance(unset, list) else list(unset) if isinstance(unset, dict) else []
    for key in keys:
        if isinstance(key, str) and (key in properties or key in changes):
            changes[key] = _REMOVED
    return changes


def _apply_property_updates(
    properties: dict[str, Any], event: IncomingEvent, *, always: bool = False
) -> bool:
    """Apply the event's person updates; False when there was nothing worth writing."""
    changes = property_changes(properties, event)
    if not always and event.event not in PERSON_EVENTS and all(map(_is_noisy, changes)):
        return False
    for key, value in changes.items():
        if value is _REMOVED:
            properties.pop(key, None)
        else:
            properties[key] = value
    return bool(changes)
