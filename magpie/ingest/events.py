"""The event as it moves through the ingest pipeline, and what a step may return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from magpie.store.model import IngestionWarning


@dataclass
class IncomingEvent:
    project_id: int
    uuid: str
    event: str
    distinct_id: str
    timestamp: datetime  # naive UTC
    properties: dict[str, Any]
    ip: str | None = None
    sent_at: str | None = None
    top_set: dict[str, Any] | None = None
    top_set_once: dict[str, Any] | None = None
    process_person: bool = True
    elements_chain: str = ""
    # Filled by person processing.
    person_id: UUID | None = None
    person_mode: str = "full"
    person_properties: dict[str, Any] = field(default_factory=dict)
    person_created_at: datetime | None = None
    groups: dict[int, str] = field(default_factory=dict)

    def warning(self, type_: str, **details: Any) -> IngestionWarning:
        return IngestionWarning(
            self.project_id,
            type_,
            {"distinct_id": self.distinct_id, "event": self.event, **details},
            self.uuid,
            self.timestamp,
        )


@dataclass(frozen=True)
class Drop:
    """An expected outcome: the event is not stored, and says why."""

    reason: str
    warning: IngestionWarning | None = None
