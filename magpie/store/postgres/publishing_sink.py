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

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from magpie.store.event_columns import arrow_table
from magpie.store.person_rows import PersonRows
from magpie.store.processed_events import ProcessedRecord, encode

StoredBatches = Callable[[Sequence[tuple[int, str]], datetime, datetime], dict[str, set[uuid.UUID]]]
# Appends one record under an id of its own (a log that deduplicates publishes
# keeps one copy of a record sent twice), returning once it is durable.
Publish = Callable[[str, bytes], object]


class PublishingSink:
    def __init__(
        self,
        publish: Publish,
        stored: StoredBatches | None = None,
        *,
        max_record_bytes: int | None = None,
    ) -> None:
        """``max_record_bytes``: the largest record the log takes (NATS refuses a
        message over its ``max_payload``); a unit's events past it go in several."""
        self._publish = publish
        self._stored = stored
        self._max_record_bytes = max_record_bytes
        self._lock = threading.Lock()
        self._sent: dict[uuid.UUID, int] = {}  # records published per batch

    def stored_batches(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> dict[str, set[uuid.UUID]]:
        if self._stored is None or not keys:
            return {}
        return self._stored(keys, earliest, latest)

    def append(self, columns: dict[str, list[Any]], batch: uuid.UUID) -> int:
        events = arrow_table(columns)
        self._send(ProcessedRecord(batch, events=events))
        return events.num_rows

    def append_rows(self, rows: PersonRows, batch: uuid.UUID) -> None:
        self._send(ProcessedRecord(batch, rows=rows))

    def _send(self, record: ProcessedRecord) -> None:
        payload = encode(record)
        events = record.events
        if (
            self._max_record_bytes is not None
            and len(payload) > self._max_record_bytes
            and events is not None
            and events.num_rows > 1
        ):
            # Halves until each fits: the loader takes a batch's records together.
            half = events.num_rows // 2
            self._send(
                ProcessedRecord(record.batch, rows=record.rows, events=events.slice(0, half))
            )
            self._send(ProcessedRecord(record.batch, events=events.slice(half)))
            return
        with self._lock:
            number = self._sent.pop(record.batch, 0)
            # Units are short-lived: only the last few batches' counts are kept.
            self._sent[record.batch] = number + 1
            while len(self._sent) > 1024:
                del self._sent[next(iter(self._sent))]
        self._publish(f"{record.batch}.{number}", payload)
