"""CPU priority: answering SDKs first, then queries, then ingestion.

Capture must answer in milliseconds; a query may take a second, and the
ingest worker's throughput work can wait a moment. On Linux a thread's nice
value is its own and is inherited by the threads it starts, so the engine's
worker threads get the priority of the thread that opened the engine. Raising
a nice value needs no privilege; lowering it again would, so nothing here ever
tries.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

QUERIES = 5  # API handlers and the engine's threads
INGEST = 10  # the ingest worker

_lowered = threading.local()


def lower(niceness: int) -> None:
    """Run the calling thread (and the threads it starts from now on) at ``niceness``."""
    if getattr(_lowered, "niceness", 0) >= niceness:
        return
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        _lowered.niceness = niceness


def started_lowered(niceness: int, make: Callable[[], T]) -> T:
    """``make()`` run in a thread at ``niceness``: whatever threads it starts (an
    engine's worker pool) keep that priority."""
    made: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        lower(niceness)
        try:
            made.append(make())
        except BaseException as exc:  # handed to the caller below
            failed.append(exc)

    thread = threading.Thread(target=run, name="magpie-start-lowered")
    thread.start()
    thread.join()
    if failed:
        # Popped, not indexed: the list must not keep the error (and through its
        # traceback whatever ``make`` had half built) alive in a cycle.
        raise failed.pop()
    return made.pop()
