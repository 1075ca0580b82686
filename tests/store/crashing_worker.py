"""A worker process for the kill -9 test: ``python -m tests.store.crashing_worker URL
QUEUE [crash]`` ingests the queue into PostgreSQL (events into an EventTable); with
``crash`` it kills itself with SIGKILL right after its first unit has sent events
to the sink, before that unit commits."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

from magpie.clock import SystemClock
from magpie.ingest.worker import IngestWorker
from magpie.queue.local import LocalLog
from magpie.store.postgres import PostgresDatabase, PostgresIngestStore
from tests.store.event_table import EventTable


class DiesAfterAppend(EventTable):
    def append(self, columns: dict[str, list[Any]], batch: uuid.UUID) -> int:
        stored = super().append(columns, batch)
        os.kill(os.getpid(), signal.SIGKILL)
        return stored


def main(url: str, queue_dir: str, mode: str = "") -> None:
    db = PostgresDatabase(url)
    sink = DiesAfterAppend(db) if mode == "crash" else EventTable(db)
    queue = LocalLog(Path(queue_dir))
    worker = IngestWorker(PostgresIngestStore(db, sink), queue, SystemClock())
    worker.start()
    caught_up = worker.wait_until_caught_up(30)
    queue.close()
    worker.stop()
    db.close()
    sys.exit(0 if caught_up and not worker.stats.errors else 1)


if __name__ == "__main__":
    main(*sys.argv[1:])
