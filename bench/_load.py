"""The load generator: replays pre-built capture requests at a fixed rate or flat out.

Both modes record, per request, when it was due, when it was written, when the
answer was complete and its status. ``time.perf_counter`` is used throughout:
uvloop's ``loop.time()`` only advances once per loop iteration, in whole
milliseconds, which is too coarse for latencies of a few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from _http import Connection
from _server import IngestionStatus, MagpieServer

_OK_BODY = b'{"status":1}'


@dataclass(frozen=True)
class Sample:
    due: float  # when the request should have been sent (fixed rate) or was sent
    sent: float
    done: float
    status: int
    ok: bool
    events: int

    @property
    def latency(self) -> float:
        return self.done - self.sent

    @property
    def latency_from_due(self) -> float:
        """Latency including any wait for a free connection (no coordinated omission)."""
        return self.done - self.due


@dataclass(frozen=True)
class LagPoint:
    at: float
    acked_events: int
    stored_events: int

    @property
    def lag(self) -> int:
        return max(0, self.acked_events - self.stored_events)


@dataclass
class LoadResult:
    connections: int
    started: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    lag: list[LagPoint] = field(default_factory=list)
    stored_at: float = 0.0
    final: IngestionStatus | None = None

    @property
    def events(self) -> int:
        return sum(s.events for s in self.samples)

    @property
    def acknowledged(self) -> int:
        """Events answered 200: the ones owed to queries (a 503 stored nothing)."""
        return sum(s.events for s in self.samples if s.ok)

    @property
    def failures(self) -> int:
        return sum(1 for s in self.samples if not s.ok)

    @property
    def last_ack(self) -> float:
        return max(s.done for s in self.samples)

    @property
    def capture_seconds(self) -> float:
        return self.last_ack - self.started

    @property
    def end_to_end_seconds(self) -> float:
        return self.stored_at - self.started

    @property
    def drain_seconds(self) -> float:
        """How long the worker needed after the last acknowledgement."""
        return max(0.0, self.stored_at - self.last_ack)

    def latencies(self, *, from_due: bool = False) -> list[float]:
        return sorted(s.latency_from_due if from_due else s.latency for s in self.samples)

    @property
    def max_schedule_slip(self) -> float:
        return max(s.sent - s.due for s in self.samples)

    @property
    def max_lag_events(self) -> int:
        return max((p.lag for p in self.lag), default=0)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


Work = Sequence[tuple[bytes, int]]  # (request bytes, events in it)


async def fixed_rate(
    server: MagpieServer,
    work: Work,
    *,
    requests_per_second: float,
    connections: int,
    lag_interval: float = 0.5,
) -> LoadResult:
    """Open loop: request i is due at start + i/rate, whatever happened to earlier ones."""
    result = LoadResult(connections)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for connection in await _open(server, connections):
        idle.put_nowait(connection)
    monitor = await Connection.open(server.host, server.port)
    acked = _Counter()

    async def send(connection: Connection, wire: bytes, events: int, due: float) -> None:
        result.samples.append(await _timed(connection, wire, events, due))
        acked.value += events
        idle.put_nowait(connection)

    result.started = time.perf_counter() + 0.05
    sent_all = asyncio.Event()
    watcher = asyncio.create_task(
        _watch_lag(server, monitor, acked, result, lag_interval, sent_all)
    )
    tasks = []
    for index, (wire, events) in enumerate(work):
        due = result.started + index / requests_per_second
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = await idle.get()
        tasks.append(asyncio.create_task(send(connection, wire, events, due)))
    await asyncio.gather(*tasks)
    # Stopped between polls, never cancelled mid-request: the monitor connection is
    # reused below and must not be left with an unread answer.
    sent_all.set()
    await watcher
    await _finish(server, monitor, result)
    await _close_all([idle.get_nowait() for _ in range(idle.qsize())])
    return result


async def saturate(server: MagpieServer, work: Work, *, connections: int) -> LoadResult:
    """Closed loop: every connection sends its next request as soon as the last is answered."""
    result = LoadResult(connections)
    pool = await _open(server, connections)
    monitor = await Connection.open(server.host, server.port)
    pending = iter(work)  # shared: whichever connection is free takes the next request

    async def drive(connection: Connection) -> None:
        for wire, events in pending:
            result.samples.append(await _timed(connection, wire, events, time.perf_counter()))

    result.started = time.perf_counter()
    await asyncio.gather(*(drive(connection) for connection in pool))
    await _finish(server, monitor, result)
    await _close_all(pool)
    return result


@dataclass
class _Counter:
    value: int = 0


async def _open(server: MagpieServer, count: int) -> list[Connection]:
    return list(
        await asyncio.gather(*(Connection.open(server.host, server.port) for _ in range(count)))
    )


async def _close_all(connections: Sequence[Connection]) -> None:
    await asyncio.gather(*(c.close() for c in connections))


async def _timed(connection: Connection, wire: bytes, events: int, due: float) -> Sample:
    sent = time.perf_counter()
    response = await connection.request(wire)
    done = time.perf_counter()
    ok = response.status == 200 and response.body == _OK_BODY
    return Sample(due, sent, done, response.status, ok, events)


async def _watch_lag(
    server: MagpieServer,
    monitor: Connection,
    acked: _Counter,
    result: LoadResult,
    interval: float,
    stop: asyncio.Event,
) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        status = await server.status(monitor)
        result.lag.append(LagPoint(time.perf_counter(), acked.value, status.events_stored))


async def _finish(server: MagpieServer, monitor: Connection, result: LoadResult) -> None:
    result.final = await wait_until_stored(server, monitor, result.acknowledged)
    result.stored_at = time.perf_counter()
    await monitor.close()


async def wait_until_stored(
    server: MagpieServer,
    monitor: Connection,
    expected: int,
    *,
    poll: float = 0.02,
    timeout: float = 600.0,
) -> IngestionStatus:
    """Poll the status endpoint until the worker has stored every acknowledged event."""
    deadline = time.perf_counter() + timeout
    while True:
        status = await server.status(monitor)
        if status.events_stored >= expected:
            return status
        if status.lost and status.events_stored + status.lost >= expected:
            raise RuntimeError(f"Magpie will never store all {expected:,} events: {status}")
        if time.perf_counter() > deadline:
            raise TimeoutError(f"worker stored {status.events_stored:,} of {expected:,} events")
        await asyncio.sleep(poll)
