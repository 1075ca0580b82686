"""Queue records → processed events, ready for the person stage and the store.

The per-event part is pure (no I/O) so that it is cheap to test and to retry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from magpie.ingest.events import Drop, IncomingEvent, IngestionWarning
from magpie.ingest.normalize import STEPS, Step


@dataclass
class NormalizedBatch:
    events: list[IncomingEvent] = field(default_factory=list)
    warnings: list[IngestionWarning] = field(default_factory=list)
    dropped: int = 0


def events_from_record(record: dict[str, Any]) -> Iterable[IncomingEvent]:
    """Unpack one queue record (one capture request) into pipeline events."""
    project_id = record["project_id"]
    ip = record.get("ip")
    sent_at = record.get("sent_at")
    for raw in record["events"]:
        yield IncomingEvent(
            project_id=project_id,
            uuid=raw["uuid"],
            event=raw["event"],
            distinct_id=raw["distinct_id"],
            timestamp=datetime.fromisoformat(raw["timestamp"]),
            properties=raw["properties"],
            ip=ip,
            sent_at=sent_at,
            top_set=raw.get("$set"),
            top_set_once=raw.get("$set_once"),
        )


def normalize(records: Sequence[dict[str, Any]], steps: Sequence[Step] = STEPS) -> NormalizedBatch:
    batch = NormalizedBatch()
    warn = batch.warnings.append
    for record in records:
        for event in events_from_record(record):
            outcome = _run_steps(event, steps, warn)
            if outcome is None:
                batch.events.append(event)
                continue
            batch.dropped += 1
            if outcome.warning is not None:
                warn(outcome.warning)
    return batch


def _run_steps(event: IncomingEvent, steps: Sequence[Step], warn: Any) -> Drop | None:
    for step in steps:
        outcome = step(event, warn)
        if outcome is not None:
            return outcome
    return None
