"""Each stored event's billing class, decided once, at ingestion.

Excluded events (stored, never billed) first; then anonymous (personless)
versus identified (a person profile: ``full`` or ``force_upgrade``). The
counts are grouped by project, day, SDK and SDK version, so every store only
adds them up, whatever its engine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

import orjson

from magpie.billing import EXCLUDED_EVENTS
from magpie.ingest.events import IncomingEvent
from magpie.store.model import UsageCount

_EXCLUDED = frozenset(EXCLUDED_EVENTS)


def billing_class(event: IncomingEvent) -> str:
    if event.event in _EXCLUDED:
        return "excluded"
    return "anonymous" if event.person_mode == "propertyless" else "identified"


def usage_counts(events: Iterable[IncomingEvent], day: date) -> list[UsageCount]:
    counts: Counter[tuple[int, str, str, str, str]] = Counter()
    for event in events:
        kind = billing_class(event)
        counts[
            (
                event.project_id,
                _text(event.properties.get("$lib")),
                _text(event.properties.get("$lib_version")),
                kind,
                event.event if kind == "excluded" else "",
            )
        ] += 1
    return [
        UsageCount(project, day, lib, version, kind, excluded, events)
        for (project, lib, version, kind, excluded), events in counts.items()
    ]


def _text(value: object) -> str:
    """A property as the usage report shows it: text as is, other JSON as its JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()
