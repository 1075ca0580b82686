"""Ingest workers for a partitioned queue: one per partition this process holds.

In cluster mode with NATS the queue is split into partitions by distinct id,
and each partition is consumed by one worker at a time, the holder of its
lease (``queue/nats/leases.py``). This process runs an ``IngestWorker`` for
each partition it holds, under the partition's consumer name, with the
lease's fence checked inside each unit right before the position is saved;
when a lease is lost or given up, that worker halts after its unit.

Its status covers the whole queue, not only the partitions held here: with
several worker processes, what one process has stored is its share, and a
caller waiting for ingestion to catch up (an operator, the benchmark) must see
every partition's committed position, whoever holds it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Protocol

from magpie.ingest.worker import IngestWorker, WorkerStats

log = logging.getLogger(__name__)
_RETRY_SECONDS = 1.0

# Makes the worker of one partition, given the lease's fence check.
WorkerFactory = Callable[[int, Callable[[], None]], IngestWorker]


class Keeper(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


# How far each partition's consumer has committed, by any process (the store),
# and where each partition ends (the queue).
Committed = Callable[[list[int]], dict[int, int]]
PartitionEnd = Callable[[int], int]

KeeperFactory = Callable[[Callable[[int, Callable[[], None]], None], Callable[[int], None]], Keeper]


class PartitionedWorkers:
    def __init__(
        self,
        make_worker: WorkerFactory,
        keeper: KeeperFactory,
        partitions: int,
        committed: Committed,
        partition_end: PartitionEnd,
    ) -> None:
        self._make_worker = make_worker
        self._committed = committed
        self._partition_end = partition_end
        self.partitions = partitions
        self._lock = threading.Condition()
        self._workers: dict[int, IngestWorker] = {}
        # Bumped at every gain and loss of a partition: a worker opened for an
        # older generation is not started.
        self._generations: dict[int, int] = {}
        self._finished = WorkerStats()  # of workers halted since
        self._keeper = keeper(self._gained, self._lost)

    def start(self) -> None:
        self._keeper.start()

    def stop(self) -> None:
        """Give every partition up (what is left stays in the queue for its next owner)."""
        self._keeper.stop()

    @property
    def owned(self) -> list[int]:
        with self._lock:
            return sorted(self._workers)

    def _gained(self, partition: int, fence: Callable[[], None]) -> None:
        # Opening a worker reads its position and the partition's bounds: done in a
        # thread of its own, so the keeper goes on renewing the leases meanwhile.
        with self._lock:
            generation = self._generations[partition] = self._generations.get(partition, 0) + 1
        threading.Thread(
            target=self._open,
            args=(partition, fence, generation),
            name=f"magpie-partition-{partition}",
            daemon=True,
        ).start()

    def _open(self, partition: int, fence: Callable[[], None], generation: int) -> None:
        while self._current(partition, generation):
            try:
                worker = self._make_worker(partition, fence)
                worker.start()
                break
            except Exception:
                log.exception("could not start consuming partition %d; retrying", partition)
                time.sleep(_RETRY_SECONDS)
        else:
            return
        with self._lock:
            if self._generations.get(partition) == generation:
                self._workers[partition] = worker
                self._lock.notify_all()
                return
        worker.halt()  # the lease went while the worker was being opened

    def _current(self, partition: int, generation: int) -> bool:
        with self._lock:
            return self._generations.get(partition) == generation

    def _lost(self, partition: int) -> None:
        with self._lock:
            self._generations[partition] = self._generations.get(partition, 0) + 1
            worker = self._workers.pop(partition, None)
        if worker is not None:
            worker.halt()
            _add(self._finished, worker.stats)

    def wait_until_caught_up(self, timeout: float = 10.0) -> bool:
        """Every partition is held here and its worker has committed all it holds
        (one process consuming the whole queue: ``magpie serve``, tests)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._workers) == self.partitions, timeout):
                return False
            workers = list(self._workers.values())
        return all(w.wait_until_caught_up(max(0.0, deadline - time.monotonic())) for w in workers)

    @property
    def stats(self) -> WorkerStats:
        total = WorkerStats(**vars(self._finished))
        with self._lock:
            for worker in self._workers.values():
                _add(total, worker.stats)
        return total

    def queue_status(self) -> dict[str, object]:
        """Every partition: its committed position (this process's worker's, or the
        store's for one held elsewhere), its end, and whether it is consumed here;
        ``caught_up`` when every partition has committed up to its end."""
        with self._lock:
            workers = dict(self._workers)
        elsewhere = [p for p in range(self.partitions) if p not in workers]
        committed = self._committed(elsewhere) if elsewhere else {}
        partitions: dict[str, object] = {}
        for p in range(self.partitions):
            worker = workers.get(p)
            position = worker.position if worker is not None else committed[p]
            end = self._partition_end(p)
            partitions[str(p)] = {
                "committed": position,
                "end": end,
                "lag": max(0, end - position),
                "here": worker is not None,
            }
        caught_up = all(s["lag"] == 0 for s in partitions.values())  # type: ignore[index]
        return {"partitions": partitions, "caught_up": caught_up}


def _add(total: WorkerStats, more: WorkerStats) -> None:
    for spec in fields(WorkerStats):
        setattr(total, spec.name, getattr(total, spec.name) + getattr(more, spec.name))
