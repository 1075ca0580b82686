"""Ingest workers for a partitioned queue: one per partition this process holds.

In cluster mode with NATS the queue is split into partitions by distinct id,
and each partition is consumed by one worker at a time, the holder of its
lease (``queue/nats/leases.py``). This process runs an ``IngestWorker`` for
each partition it holds, under the partition's consumer name, with the
lease's fence checked inside each unit right before the position is saved;
when a lease is lost or given up, that worker halts after its unit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Protocol

from magpie.ingest.worker import IngestWorker, WorkerStats

# Makes the worker of one partition, given the lease's fence check.
WorkerFactory = Callable[[int, Callable[[], None]], IngestWorker]


class Keeper(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


KeeperFactory = Callable[[Callable[[int, Callable[[], None]], None], Callable[[int], None]], Keeper]


class PartitionedWorkers:
    def __init__(self, make_worker: WorkerFactory, keeper: KeeperFactory, partitions: int) -> None:
        self._make_worker = make_worker
        self.partitions = partitions
        self._lock = threading.Condition()
        self._workers: dict[int, IngestWorker] = {}
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
        worker = self._make_worker(partition, fence)
        worker.start()
        with self._lock:
            self._workers[partition] = worker
            self._lock.notify_all()

    def _lost(self, partition: int) -> None:
        with self._lock:
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
        with self._lock:
            workers = dict(self._workers)
        return {
            "partitions": {
                str(p): {"committed": w.position, "lag": w.lag_bytes}
                for p, w in sorted(workers.items())
            }
        }


def _add(total: WorkerStats, more: WorkerStats) -> None:
    for spec in fields(WorkerStats):
        setattr(total, spec.name, getattr(total, spec.name) + getattr(more, spec.name))
