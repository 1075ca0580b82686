"""Person processing: which person an event belongs to, and how it changes persons."""

from __future__ import annotations

import uuid

from magpie.ingest.events import IncomingEvent

# PostHog's namespace for deterministic person uuids (compat §2.4), kept so that
# ids agree with data moved between the two systems.
PERSON_UUID_NAMESPACE = uuid.UUID("932979b4-65c3-4424-8467-0b66ec27bc22")


def person_uuid_for(project_id: int, distinct_id: str) -> uuid.UUID:
    return uuid.uuid5(PERSON_UUID_NAMESPACE, f"{project_id}:{distinct_id}")


def assign_persons(events: list[IncomingEvent]) -> None:
    for event in events:
        event.person_id = person_uuid_for(event.project_id, event.distinct_id)
        event.person_mode = "full" if event.process_person else "propertyless"
