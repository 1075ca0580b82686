"""The ceiling, and where the time goes: Magpie's own ingest code run in this process.

A phase's requests (B's, and C's for the identified workload) go through an
in-process Magpie (not started: no HTTP, no worker thread, no capture process) one
worker-sized batch at a time: capture (``CaptureService``,
with its real queue), then the worker's own ``_ingest`` on what capture
queued. The functions the worker calls for each stage are wrapped with timers,
so the breakdown follows whatever the worker currently does; anything not
wrapped (decoding queue records, commit, counters, queue position) is
"other".

The ceiling (B only) is the DuckDB insert alone: each chunk of rows the worker
builds is also handed, untouched, to ``insert_events`` on a second, fresh DuckDB
file with nothing else going on, in one transaction per worker transaction;
only those calls and the commits are timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import duckdb
from _events import CaptureRequest
from _http import run_async
from _server import copy_data_dir

from magpie.app import Magpie
from magpie.capture.decoding import WireRequest
from magpie.ingest import worker as worker_module
from magpie.settings import Settings
from magpie.store.duckdb.database import Database
from magpie.store.duckdb.events import insert_events
from magpie.store.duckdb.ingest import DuckDBIngestUnit

# Stage → what it covers, in the order events go through them. The worker
# stages are the functions of magpie.ingest.worker named in _WRAPPED.
STAGES = {
    "capture": "capture: decode, validate, queue append (CaptureService.capture)",
    "normalize": "worker: normalize",
    "persons": "worker: person stage (apply_persons_and_groups, with its DuckDB I/O)",
    "columns": "worker: event_columns",
    "insert": "worker: append_events (insert_events in the worker's transaction)",
    "other": "worker: the rest (decode queue records, commit, counters, position)",
}
_WRAPPED = {
    "normalize": "normalize",
    "apply_persons_and_groups": "persons",
    "event_columns": "columns",
}


@dataclass
class CeilingResult:
    rows: int = 0
    batches: int = 0  # worker transactions
    batch_events: int = 0
    insert_seconds: float = 0.0  # the ceiling: insert_events alone on its own file
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @property
    def insert_rows_per_second(self) -> float:
        return self.rows / self.insert_seconds

    @property
    def pipeline_rows_per_second(self) -> float:
        """Capture and worker back to back on one thread: an in-process bound without HTTP."""
        return self.rows / sum(self.seconds.values())

    def microseconds_per_event(self, stage: str) -> float:
        return self.seconds[stage] / self.rows * 1e6


def measure_ceiling(
    requests: Sequence[CaptureRequest],
    template: Path,
    work_dir: Path,
    batch_events: int,
    *,
    ceiling: bool = True,
) -> CeilingResult:
    """``template``: an initialised data folder whose project token the requests carry.

    With ``ceiling=False`` only the stages are timed (no second DuckDB file).
    """
    return run_async(_measure(requests, template, work_dir, batch_events, ceiling))


async def _measure(
    requests: Sequence[CaptureRequest],
    template: Path,
    work_dir: Path,
    batch_events: int,
    ceiling: bool,
) -> CeilingResult:
    # Capture in this process: the stages are timed one after another, on one thread.
    settings = Settings.load(
        data_dir=copy_data_dir(template, work_dir / "pipeline"), capture_process=False
    )
    magpie = Magpie(settings)
    ceiling_db = (
        Database(
            work_dir / "ceiling.duckdb",
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
        )
        if ceiling
        else None
    )
    result = CeilingResult(batch_events=batch_events)
    per_batch = max(1, math.ceil(batch_events / max(1, requests[0].events)))
    try:
        ceiling_cursor = ceiling_db.cursor() if ceiling_db else None
        with _timed_worker_stages(result, ceiling_cursor):
            for batch in _chunks(requests, per_batch):
                await _capture(magpie, batch, result)
                _ingest(magpie, batch, result, ceiling_cursor)
    finally:
        _close(magpie.close)
        if ceiling_db is not None:
            _close(ceiling_db.close)
    return result


async def _capture(magpie: Magpie, batch: Sequence[CaptureRequest], result: CeilingResult) -> None:
    # Concurrently, as the server's connections would: the queue's group commit
    # then shares one fsync between the requests, as it does in the server.
    started = time.perf_counter()
    await asyncio.gather(*(magpie.capture.capture(_wire_request(r)) for r in batch))
    result.seconds["capture"] += time.perf_counter() - started


def _ingest(
    magpie: Magpie,
    batch: Sequence[CaptureRequest],
    result: CeilingResult,
    ceiling_cursor: duckdb.DuckDBPyConnection | None,
) -> None:
    worker = magpie.worker
    stored_before, transactions_before = worker.stats.events_stored, worker.stats.batches
    accounted_before = _accounted(result)
    started = time.perf_counter()
    # The worker's own transactions, minus its thread and retries: each starts
    # with a chunk and takes in the chunks after it, as in the server.
    while entries := magpie.queue.read(
        worker.position, max_records=worker._max_records, max_bytes=worker._max_bytes
    ):
        with _ceiling_transaction(ceiling_cursor, result):
            worker._ingest(entries)
    elapsed = time.perf_counter() - started
    result.seconds["other"] += elapsed - (_accounted(result) - accounted_before)
    magpie.queue.release(worker.position)
    stored = worker.stats.events_stored - stored_before
    expected = sum(request.events for request in batch)
    if stored != expected:
        raise RuntimeError(f"the worker stored {stored} of {expected} events: {worker.stats}")
    result.rows += stored
    result.batches += worker.stats.batches - transactions_before


@contextlib.contextmanager
def _ceiling_transaction(
    cursor: duckdb.DuckDBPyConnection | None, result: CeilingResult
) -> Iterator[None]:
    """The ceiling's inserts, one transaction per worker transaction; its commit is timed."""
    if cursor is None:
        yield
        return
    cursor.execute("BEGIN TRANSACTION")
    yield
    started = time.perf_counter()
    cursor.execute("COMMIT")
    result.insert_seconds += time.perf_counter() - started


def _accounted(result: CeilingResult) -> float:
    """Time already attributed inside a worker batch: the wrapped stages and the ceiling."""
    stages = [*_WRAPPED.values(), "insert"]
    return sum(result.seconds[stage] for stage in stages) + result.insert_seconds


@contextlib.contextmanager
def _timed_worker_stages(
    result: CeilingResult, ceiling_cursor: duckdb.DuckDBPyConnection | None
) -> Iterator[None]:
    """Wrap the worker's stage functions, and the unit of work's event append, with
    timers while the block runs."""
    originals = {
        name: getattr(worker_module, name) for name in _WRAPPED if hasattr(worker_module, name)
    }
    for name, original in originals.items():
        setattr(worker_module, name, _timer(original, _WRAPPED[name], result.seconds))
    append = DuckDBIngestUnit.append_events
    timed_append = _timer(append, "insert", result.seconds)
    DuckDBIngestUnit.append_events = (  # type: ignore[method-assign]
        _mirrored(timed_append, ceiling_cursor, result) if ceiling_cursor else timed_append
    )
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(worker_module, name, original)
        DuckDBIngestUnit.append_events = append  # type: ignore[method-assign]


def _timer(
    function: Callable[..., Any], stage: str, seconds: dict[str, float]
) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[stage] += time.perf_counter() - started

    return timed


def _mirrored(
    timed_append: Callable[..., Any],
    ceiling_cursor: duckdb.DuckDBPyConnection,
    result: CeilingResult,
) -> Callable[..., Any]:
    """The worker's append, then the same rows into the ceiling's own file, timed apart."""

    def append_both(unit: DuckDBIngestUnit, columns: dict[str, list[Any]]) -> int:
        stored = int(timed_append(unit, columns))
        started = time.perf_counter()
        insert_events(ceiling_cursor, columns)
        result.insert_seconds += time.perf_counter() - started
        return stored

    return append_both


def _chunks(requests: Sequence[CaptureRequest], size: int) -> Iterator[Sequence[CaptureRequest]]:
    for start in range(0, len(requests), size):
        yield requests[start : start + size]


def _wire_request(request: CaptureRequest) -> WireRequest:
    url = urlsplit(request.path)
    return WireRequest(
        path=url.path,
        method="POST",
        query=dict(parse_qsl(url.query)),
        headers={name.lower(): value for name, value in request.headers},
        body=request.body,
        client_ip="127.0.0.1",
    )


def _close(close: Callable[[], None]) -> None:
    # Both stores are thrown away with the temp dir. Magpie's close() runs a
    # CHECKPOINT that DuckDB can refuse while another cursor of the connection
    # still holds a transaction open (see the bench's report); that must not
    # hide the figures.
    with contextlib.suppress(duckdb.Error):
        close()
