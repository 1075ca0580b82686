"""The event sink of cluster mode: processed events go to a log, not to ClickHouse.

A worker does not write the event store itself: it publishes each unit's
events and person rows, durably, as records of the processed-event log, and
the loader (``store/clickhouse/loader.py``) inserts those of committed units
in large batches. So any number of workers feed one writer of ClickHouse
(chdb has exactly one: the process that opened it), and the event store never
shows an event whose unit did not commit.

Which events are stored (the worker skips SDK retries) is asked of the event
store when this process can read it; a worker that cannot (chdb open in
another process) skips none, and ClickHouse keeps one copy of a retried event
all the same (see docs/deploying.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from magpie.store.event_columns import arrow_table
from magpie.store.person_rows import PersonRows
from magpie.store.processed_events import ProcessedRecord, encode

StoredBatches = Callable[[Sequence[tuple[int, str]], datetime, datetime], dict[str, set[uuid.UUID]]]


class PublishingSink:
    def __init__(
        self, publish: Callable[[bytes], object], stored: StoredBatches | None = None
    ) -> None:
        """``publish`` appends one record and returns once it is durable."""
        self._publish = publish
        self._stored = stored

    def stored_batches(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> dict[str, set[uuid.UUID]]:
        if self._stored is None or not keys:
            return {}
        return self._stored(keys, earliest, latest)

    def append(self, columns: dict[str, list[Any]], batch: uuid.UUID) -> int:
        events = arrow_table(columns)
        self._publish(encode(ProcessedRecord(batch, events=events)))
        return events.num_rows

    def append_rows(self, rows: PersonRows, batch: uuid.UUID) -> None:
        self._publish(encode(ProcessedRecord(batch, rows=rows)))
