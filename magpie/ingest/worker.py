"""The ingest worker: drains the durable queue into the store.

Each transaction holds events, the person and group changes, the ingestion
warnings and the new queue position. A crash therefore either keeps all of a
transaction or none of it, and a restart resumes exactly after the last
committed one.

A transaction is built chunk by chunk: a few queue records are decoded,
processed and inserted, then dropped, so the worker's memory stays the size of
a chunk however far behind it is. It goes on while more records are already
durable, up to ``transaction_events``: a commit has a fixed cost (the
write-ahead log, and a checkpoint now and then that rewrites the table's last,
partly filled row group), which larger transactions share out, while a worker
that has caught up commits at once so that new events are soon queryable.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from magpie import priority
from magpie.billing.classify import usage_counts
from magpie.clock import Clock, utc_naive
from magpie.errors import ServiceUnavailable
from magpie.ingest.events import IncomingEvent, IngestionWarning
from magpie.ingest.groups import GroupRules, identified_group_keys
from magpie.ingest.persons import PersonRules, merge_pair
from magpie.ingest.pipeline import normalize
from magpie.ingest.rows import distinct_events, event_columns
from magpie.queue import Entry, QueueCorrupt, QueueReader
from magpie.store.base import IngestStore, IngestUnit
from magpie.store.state import GroupState, PersonState, StoredChanges

log = logging.getLogger(__name__)

CONSUMER = "ingest"
_ERROR_BACKOFF_SECONDS = 1.0


class CommitRefused(Exception):
    """The ``before_commit`` check refused a unit (its partition's lease was lost):
    nothing of it committed, and its records are left to the partition's next owner."""


@dataclass
class WorkerStats:
    batches: int = 0  # committed transactions
    events_stored: int = 0
    events_dropped: int = 0
    duplicates_skipped: int = 0
    dead_letters: int = 0
    errors: int = 0  # steps that failed and were retried


@dataclass
class _Progress:
    """What one transaction has done so far, applied to the stats once it commits."""

    events_seen: int = 0
    events_stored: int = 0
    events_dropped: int = 0
    projects: set[int] = field(default_factory=set)
    changes: StoredChanges = field(default_factory=lambda: StoredChanges(set(), set(), set()))


class IngestWorker:
    def __init__(
        self,
        store: IngestStore,
        queue: QueueReader,
        clock: Clock,
        *,
        max_records: int = 50,
        max_bytes: int = 8 << 20,
        transaction_events: int = 65_536,
        on_batch: Callable[[set[int]], None] | None = None,
        consumer: str = CONSUMER,
        before_commit: Callable[[], None] | None = None,
        on_commit: Callable[[StoredChanges], None] | None = None,
    ) -> None:
        """``consumer`` names the position in the store (a partition's, in cluster
        mode); ``before_commit`` runs inside each unit right before its position is
        saved, and raises to keep it from committing (a partition lease lost)."""
        self._store = store
        self._consumer = consumer
        self._before_commit = before_commit
        self._queue = queue
        self._clock = clock
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._transaction_events = transaction_events
        # Told which projects a committed batch touched (quota checks).
        self._on_batch = on_batch
        # Told what a committed batch changed of persons and groups, before the
        # position moves on: whoever waits for the position then reads fresh.
        self._on_commit = on_commit
        self._stopping = threading.Event()
        self._halted = threading.Event()
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="magpie-ingest", daemon=True)
        self.stats = WorkerStats()
        self._last_collection = time.monotonic()
        self._batches_collected = 0
        self.position = self._initial_position()

    def start(self) -> None:
        # Only now is the queue's end known (a capture process reports it on start).
        self.position = self._initial_position()
        self._thread.start()

    def stop(self) -> None:
        """Finish everything already in the queue, then stop."""
        self._stopping.set()
        self._thread.join()

    def halt(self) -> None:
        """Stop after the unit in progress, leaving the rest of the queue to whoever
        consumes it next (a partition given up or lost)."""
        self._halted.set()
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def wait_until_caught_up(self, timeout: float = 10.0) -> bool:
        """Block until everything durable when called has been committed (tests, CLI)."""
        target = self._queue.end
        with self._progress:
            return self._progress.wait_for(lambda: self.position >= target, timeout)

    @property
    def lag_bytes(self) -> int:
        return max(0, self._queue.end - self.position)

    def queue_status(self) -> dict[str, object]:
        return {"end": self._queue.end, "committed": self.position, "lag_bytes": self.lag_bytes}

    def _initial_position(self) -> int:
        position = self._store.position(self._consumer)
        if position > self._queue.end:
            log.error(
                "queue ends at %d but the store has consumed up to %d; the queue folder was"
                " replaced, continuing from its end",
                self._queue.end,
                position,
            )
            return self._queue.end
        return max(position, self._queue.start)

    def _run(self) -> None:
        _yield_to_capture()
        while not self._halted.is_set():
            try:
                if self._stopping.is_set() and self.position >= self._queue.end:
                    return
                self._step()
            except Exception:
                if self._stopping.is_set() and self._queue_unreachable():
                    log.warning(
                        "ingest worker stopped at %d: the queue is unreachable", self.position
                    )
                    return
                # Capture goes on acknowledging events while this thread lives, so it
                # must never end: whatever failed (the store unreachable, say) is
                # tried again from the same position.
                log.exception("ingest worker step failed at %d; retrying", self.position)
                self.stats.errors += 1
                time.sleep(_ERROR_BACKOFF_SECONDS)

    def _queue_unreachable(self) -> bool:
        try:
            _ = self._queue.end
        except Exception:
            return True
        return False

    def _step(self) -> None:
        try:
            entries = self._queue.read(
                self.position,
                max_records=self._max_records,
                max_bytes=self._max_bytes,
                timeout=0.25,
            )
        except QueueCorrupt as damage:
            self._keep_damaged(damage)
            return
        if not entries:
            self._collect_when_idle()
            return
        self._consume(entries)
        self._queue.release(self.position)

    def _keep_damaged(self, damage: QueueCorrupt) -> None:
        """A damaged stretch of the queue is kept whole as a dead letter and skipped,
        so the events after it are not held up."""
        log.error("%s; its %d bytes are kept as a dead letter", damage, len(damage.damaged))
        self._store.dead_letter(
            self._consumer,
            damage.position,
            damage.resume_at,
            damage.damaged,
            str(damage),
            utc_naive(self._clock.now()),
        )
        self.stats.dead_letters += 1
        self._advance(damage.resume_at)

    def _collect_when_idle(self) -> None:
        """A full garbage collection, at most once a minute and only with nothing to do
        (see app.tune_interpreter: the server leaves older generations to this)."""
        now = time.monotonic()
        if now - self._last_collection >= 60 and self.stats.batches != self._batches_collected:
            gc.collect()
            self._last_collection = now
            self._batches_collected = self.stats.batches

    def _consume(self, entries: Sequence[Entry]) -> None:
        try:
            self._ingest(entries, follow=True)
        except (CommitRefused, ServiceUnavailable):
            # The records are fine: this worker may not commit them, or the queue or
            # the store is unreachable (the unit is run again once it is back).
            raise
        except Exception:
            # Rolled back. These records go again one by one, so one bad record
            # cannot hold up the rest; a failure in a later chunk of the same
            # transaction comes round again as the next loop's first chunk.
            log.exception("ingest batch failed; retrying its %d records one by one", len(entries))
            for entry in entries:
                self._consume_one(entry)

    def _consume_one(self, entry: Entry) -> None:
        try:
            self._ingest([entry], follow=False)
        except (CommitRefused, ServiceUnavailable):
            raise  # not the record's fault: it is never set aside for an outage
        except Exception as exc:
            log.exception(
                "queue record at %d could not be ingested; kept as a dead letter", entry.position
            )
            self._store.dead_letter(
                self._consumer,
                entry.position,
                entry.next_position,
                entry.payload,
                repr(exc),
                utc_naive(self._clock.now()),
            )
            self.stats.dead_letters += 1
            self._advance(entry.next_position)

    def _ingest(self, entries: Sequence[Entry], *, follow: bool = True) -> None:
        """One unit of work: these records and, if ``follow``, those already durable
        after them, chunk by chunk, until it holds ``transaction_events`` events."""

        def unit_of_work(unit: IngestUnit) -> tuple[_Progress, int]:
            # Built afresh on every attempt: a retried unit starts from nothing.
            progress = _Progress()
            chunk = entries
            while True:
                self._ingest_chunk(unit, chunk, progress)
                position = chunk[-1].next_position
                if not follow or progress.events_seen >= self._transaction_events:
                    break
                try:
                    chunk = self._queue.read(
                        position,
                        max_records=self._max_records,
                        max_bytes=self._max_bytes,
                        timeout=0,
                    )
                except QueueCorrupt:
                    break  # commit what is read; the next step sets the damage aside
                if not chunk:
                    break
            if self._before_commit is not None:
                try:
                    self._before_commit()
                except Exception as exc:
                    raise CommitRefused(str(exc)) from exc
            unit.save_position(self._consumer, position)
            return progress, position

        progress, position = self._store.transact(unit_of_work)
        if self._on_batch is not None and progress.projects:
            self._on_batch(progress.projects)
        if self._on_commit is not None and progress.changes:
            self._on_commit(progress.changes)
        self.stats.batches += 1
        self.stats.events_stored += progress.events_stored
        self.stats.events_dropped += progress.events_dropped
        self.stats.duplicates_skipped += progress.events_seen - progress.events_stored
        self._advance(position)

    def _ingest_chunk(
        self, unit: IngestUnit, entries: Sequence[Entry], progress: _Progress
    ) -> None:
        records = [orjson.loads(entry.payload) for entry in entries]
        # Capture writes a drop record instead of events for a project over its quota.
        drops = [r for r in records if "dropped" in r]
        batch = normalize([r for r in records if "events" in r])
        del records
        now = utc_naive(self._clock.now())
        # Each event is processed and stored once: repeats inside the chunk and
        # events already stored (SDK retries, earlier chunks) are set aside first.
        events = distinct_events(batch.events)
        times = [e.timestamp for e in events]
        known = unit.known_uuids(
            [(e.project_id, e.uuid) for e in events],
            min(times, default=now),
            max(times, default=now),
        )
        events = [e for e in events if e.uuid not in known]
        if events:
            persons, groups = apply_persons_and_groups(unit, events, batch.warnings, now)
            if self._on_commit is not None:
                progress.changes.distinct_ids.update(persons.changed_ids())
                progress.changes.groups.update(groups.dirty_groups)
                progress.changes.group_type_projects.update(groups.changed_projects())
            progress.events_stored += unit.append_events(event_columns(events, now))
            unit.add_usage(usage_counts(events, now.date()))
        unit.add_warnings(batch.warnings)
        for drop in drops:
            unit.add_dropped(drop["project_id"], now.date(), drop["dropped"])
        progress.events_seen += len(batch.events)
        progress.events_dropped += batch.dropped
        progress.projects |= {e.project_id for e in batch.events} | {d["project_id"] for d in drops}

    def _advance(self, position: int) -> None:
        with self._progress:
            self.position = position
            self._progress.notify_all()


def _yield_to_capture() -> None:
    """Ingestion runs at a lower scheduling priority than the rest of the server:
    it is throughput work that can wait a moment; answering SDKs cannot."""
    priority.lower(priority.INGEST)


def apply_persons_and_groups(
    unit: IngestUnit,
    events: list[IncomingEvent],
    warnings: list[IngestionWarning],
    now: datetime,
) -> tuple[PersonState, GroupState]:
    """Load the batch's persons and groups at once, apply every event in order, write
    back; returns the state written."""
    keys = {(e.project_id, e.distinct_id) for e in events}
    for event in events:
        pair = merge_pair(event) if event.process_person else None
        if pair:
            keys.add((event.project_id, pair[0]))
    persons = unit.load_persons(keys)
    groups = unit.load_groups({e.project_id for e in events}, identified_group_keys(events))
    person_rules = PersonRules(persons, warnings.append)
    group_rules = GroupRules(groups, warnings.append)
    for event in events:
        person_rules.apply(event)
        group_rules.apply(event)
    unit.save_persons(persons, now)
    unit.save_groups(groups)
    return persons, groups
