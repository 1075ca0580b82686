"""The loader: processed events of committed ingest units into ClickHouse.

Workers publish each unit's events and person rows to the processed-event log
before the unit commits in PostgreSQL (``store/postgres/publishing_sink.py``).
The loader reads that log in order and asks PostgreSQL how each record's unit
ended:

- committed: its rows and events are inserted, persons first, so a query never
  sees an event before the person state it produced;
- ended without committing (a worker killed, a lost race rolled back): its
  records are skipped; the replay publishes them again under a new batch;
- still running: the loader stops there and waits, so nothing after it is
  loaded before it either (records are loaded in log order).

Everything a read returns goes in one insert per table, with a deduplication
token naming the stretch of log it came from. The position is saved in
ClickHouse after the inserts; a loader that dies in between reads the stretch
again, and the writer skips events already stored (by project and uuid) while
person rows are versions (a repeat changes no answer). See docs/deploying.md.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from magpie.queue import Entry, QueueCorrupt, QueueReader
from magpie.store.clickhouse.events import ClickHouseEventWriter
from magpie.store.clickhouse.persons import ClickHousePersonWriter
from magpie.store.person_rows import PersonRows
from magpie.store.processed_events import decode

log = logging.getLogger(__name__)

# How each batch's unit ended: True committed, False never will, None running.
BatchOutcomes = Callable[[Sequence[uuid.UUID]], dict[uuid.UUID, bool | None]]

CONSUMER = "loader"
_WAIT_SECONDS = 0.02  # between looks at a unit that is still running
_ERROR_BACKOFF_SECONDS = 1.0

# Positions only move forward: the largest saved is the latest.
_POSITION = "SELECT max(position) FROM loader_positions WHERE consumer = {consumer:String}"


class ClickHouseLoader:
    def __init__(
        self,
        client: Client,
        processed: QueueReader,
        outcomes: BatchOutcomes,
        *,
        max_records: int = 2_000,
        max_bytes: int = 256 << 20,
        consumer: str = CONSUMER,
    ) -> None:
        self._client = client
        self._log = processed
        self._outcomes = outcomes
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._consumer = consumer
        self._events = ClickHouseEventWriter(client)
        self._persons = ClickHousePersonWriter(client)
        self._stopping = threading.Event()
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="magpie-loader", daemon=True)
        self.position = self._saved_position()
        # Whether the position has been checked against the log's start: the log may
        # be unreachable now (NATS down), and the process starts all the same.
        self._positioned = False
        self.events_loaded = 0
        self.batches_skipped = 0

    # -- running ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Load everything the log holds (units still running are waited for), then stop."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def wait_until_caught_up(self, timeout: float = 10.0) -> bool:
        target = self._log.end
        with self._progress:
            return self._progress.wait_for(lambda: self.position >= target, timeout)

    def _run(self) -> None:
        while True:
            try:
                if self._stopping.is_set() and self.position >= self._log.end:
                    return
                self.load_once(timeout=0.25)
            except Exception:
                if self._stopping.is_set():
                    # Stopping with a store or the log unreachable: what is left is
                    # loaded from the saved position at the next start.
                    log.warning("loader stopped at %d, short of the log's end", self.position)
                    return
                # Workers go on publishing while this thread lives: whatever failed
                # (ClickHouse, PostgreSQL or the queue unreachable) is tried again.
                log.exception("loader step failed at %d; retrying", self.position)
                time.sleep(_ERROR_BACKOFF_SECONDS)

    # -- one step --------------------------------------------------------------

    def load_once(self, timeout: float = 0.0) -> int:
        """Load what the log holds from the position on, as far as units have ended;
        returns how many records were resolved (loaded or skipped)."""
        if not self._positioned:
            self._advance(max(self.position, self._log.start))
            self._positioned = True
        try:
            entries = self._log.read(
                self.position,
                max_records=self._max_records,
                max_bytes=self._max_bytes,
                timeout=timeout,
            )
        except QueueCorrupt as damage:
            # The log is Magpie's own and fsynced; a damaged stretch cannot be
            # replayed from anywhere, so it is logged and stepped over.
            log.error("%s; skipping %d bytes of processed events", damage, len(damage.damaged))
            self._advance(damage.resume_at)
            return 0
        if not entries:
            return 0
        resolved = self._load(entries)
        if resolved == 0:
            time.sleep(_WAIT_SECONDS)
        return resolved

    def _load(self, entries: Sequence[Entry]) -> int:
        records = [decode(entry.payload) for entry in entries]
        outcomes = self._outcomes(sorted({r.batch for r in records}))
        rows = PersonRows()
        tables: list[pa.Table] = []
        resolved = 0
        for record in records:
            outcome = outcomes.get(record.batch)
            if outcome is None:
                break  # its unit is still running: nothing after it goes first
            resolved += 1
            if not outcome:
                self.batches_skipped += 1
                continue
            if record.rows:
                rows.extend(record.rows)
            if record.events is not None and record.events.num_rows:
                tables.append(_tagged(record.events, record.batch))
        if resolved == 0:
            return 0
        end = entries[resolved - 1].next_position
        self._write_rows(rows)
        if tables:
            token = f"{self._consumer}:{entries[0].position}:{end}"
            self.events_loaded += self._events.append_table(
                pa.concat_tables(tables, promote_options="default"), token=token
            )
        self._save_position(end)
        self._advance(end)
        self._log.release(end)
        return resolved

    def _write_rows(self, rows: PersonRows) -> None:
        # Persons before the distinct ids and overrides that point at them.
        self._persons.write_group_types(rows.group_types)
        self._persons.write_groups(rows.groups)
        self._persons.write_persons(rows.persons)
        self._persons.write_distinct_ids(rows.distinct_ids)
        self._persons.write_overrides(rows.overrides)

    # -- the position ------------------------------------------------------------

    def _saved_position(self) -> int:
        rows = self._client.query(_POSITION, parameters={"consumer": self._consumer}).result_rows
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def _save_position(self, position: int) -> None:
        self._client.insert(
            "loader_positions",
            [[self._consumer, position, datetime.now(UTC).replace(tzinfo=None)]],
            column_names=["consumer", "position", "saved_at"],
        )

    def _advance(self, position: int) -> None:
        with self._progress:
            self.position = position
            self._progress.notify_all()


def _tagged(events: pa.Table, batch: uuid.UUID) -> pa.Table:
    """The events with the batch that stored them (``ingest_batch``)."""
    column = pa.array([str(batch)] * events.num_rows, pa.string())
    return events.append_column("ingest_batch", column)
