"""Queries and ingestion yield the CPU to capture: their threads run at a lower priority."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from magpie import priority


def _nice_of_threads() -> dict[int, int]:
    found = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        found[int(task.name)] = int(stat[stat.rindex(")") + 2 :].split()[16])
    return found


def test_threads_started_lowered_keep_their_priority() -> None:
    before = set(_nice_of_threads())
    started = threading.Event()
    release = threading.Event()

    def make() -> threading.Thread:
        worker = threading.Thread(target=lambda: (started.set(), release.wait(10)))
        worker.start()
        return worker

    worker = priority.started_lowered(priority.QUERIES, make)
    started.wait(10)
    new = {tid: nice for tid, nice in _nice_of_threads().items() if tid not in before}
    release.set()
    worker.join()
    assert new and all(nice >= priority.QUERIES for nice in new.values())
    # The caller's own priority is untouched.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < priority.QUERIES
