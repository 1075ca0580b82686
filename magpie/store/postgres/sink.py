"""Where an ingest unit on PostgreSQL sends its events: another store (ClickHouse).

The events do not share the unit's PostgreSQL transaction, so the sink is
told which unit wrote each event (its *batch*), and the unit asks it which
batches hold the events it is about to store; see ``ingest.py`` for why.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from magpie.store.person_rows import PersonRows


class EventSink(Protocol):
    def stored_batches(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> dict[str, set[uuid.UUID]]:
        """For each of these (project, event uuid) pairs that is stored, timed between
        ``earliest`` and ``latest`` (give or take a day, as the embedded store
        compares), the batches that stored it. At least the batch of the copy
        queries see must be among them: the last one appended."""
        ...

    def append(self, columns: dict[str, list[Any]], batch: uuid.UUID) -> int:
        """Store these events (column lists, as ``magpie/ingest/rows.py`` makes them)
        as written by ``batch``, durably before returning; returns how many.

        Idempotent by (project, uuid): an event appended again replaces the
        copy stored before, and queries never count both."""
        ...

    def append_rows(self, rows: PersonRows, batch: uuid.UUID) -> None:
        """The person-store rows ``batch`` changed, for an event store that keeps a
        copy of them for its joins (ClickHouse); durable before returning. A sink
        whose readers resolve persons in PostgreSQL ignores them."""
        ...
