"""Records every store reads and writes, named for what they are, not for an engine.

Plain dataclasses: nothing here imports a driver, so the layers above
``magpie/store/`` can use them without knowing which backend holds the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass
class IngestionWarning:
    project_id: int
    type: str
    details: dict[str, Any]
    event_uuid: str | None
    timestamp: datetime


@dataclass(frozen=True)
class UsageCount:
    """Events of one billing class counted at ingestion, to add to a project's usage."""

    project_id: int
    day: date
    lib: str
    lib_version: str
    event_class: str  # anonymous | identified | excluded
    excluded_event: str  # the event's name when excluded, else ""
    events: int
