"""Cluster-mode roles as processes of their own, for the kill -9 tests.

``python -m tests.integration.cluster_roles worker PG_URL QUEUE PROCESSED [crash]``
ingests the capture queue into PostgreSQL and publishes processed events (it
opens no ClickHouse, as a worker beside a chdb loader cannot); with ``crash``
it kills itself with SIGKILL right after its first unit has published events,
before that unit commits.

``python -m tests.integration.cluster_roles loader PG_URL PROCESSED CHDB_PATH [crash]``
loads the processed events into ClickHouse (chdb at CHDB_PATH) and prints what
ClickHouse holds as JSON, with how many records of uncommitted units it
skipped; with ``crash`` it kills itself right after its first insert of
events, before it saves its position.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson

from magpie.clock import SystemClock
from magpie.ingest.worker import IngestWorker
from magpie.queue.local import LocalLog
from magpie.store.clickhouse.connection import connect
from magpie.store.clickhouse.event_reader import ClickHouseEventReader
from magpie.store.clickhouse.loader import ClickHouseLoader
from magpie.store.model import EventFilter
from magpie.store.postgres import PostgresDatabase, PostgresIngestStore
from magpie.store.postgres.publishing_sink import PublishingSink

DATABASE = "cluster"


class DiesAfterPublishing(PublishingSink):
    def append(self, columns: dict[str, list[Any]], batch: uuid.UUID) -> int:
        published = super().append(columns, batch)
        os.kill(os.getpid(), signal.SIGKILL)
        return published


class DiesBeforeSavingPosition(ClickHouseLoader):
    def _save_position(self, position: int) -> None:
        if self.events_loaded:
            os.kill(os.getpid(), signal.SIGKILL)
        super()._save_position(position)


def worker(url: str, queue_dir: str, processed_dir: str, mode: str = "") -> int:
    db = PostgresDatabase(url)
    processed = LocalLog(Path(processed_dir))
    sink_type = DiesAfterPublishing if mode == "crash" else PublishingSink
    queue = LocalLog(Path(queue_dir))
    sink = sink_type(lambda _id, record: processed.append_sync(record))
    worker = IngestWorker(PostgresIngestStore(db, sink), queue, SystemClock())
    worker.start()
    caught_up = worker.wait_until_caught_up(30)
    queue.close()
    worker.stop()
    processed.close()
    db.close()
    return 0 if caught_up and not worker.stats.errors else 1


def loader(url: str, processed_dir: str, chdb_path: str, mode: str = "") -> int:
    db = PostgresDatabase(url)
    client = connect(f"chdb://{chdb_path}", DATABASE)
    processed = LocalLog(Path(processed_dir))
    loader_type = DiesBeforeSavingPosition if mode == "crash" else ClickHouseLoader
    store = PostgresIngestStore(
        db, PublishingSink(lambda _id, record: processed.append_sync(record))
    )
    load = loader_type(client, processed, store.batch_outcomes)
    while load.position < processed.end:
        load.load_once(timeout=1.0)  # waits while a killed worker's unit is still open
    print(orjson.dumps({"skipped": load.batches_skipped, **holdings(client)}).decode())
    processed.close()
    db.close()
    return 0


def holdings(client: Any) -> dict[str, Any]:
    """What queries can see in ClickHouse, and how many copies of each event it stores."""

    def rows(sql: str) -> list[list[Any]]:
        return [[str(v) for v in row] for row in client.query(sql).result_rows]

    events = ClickHouseEventReader(client).list_events(EventFilter(1, limit=1000))
    return {
        "copies": rows("SELECT uuid, count() FROM events GROUP BY uuid ORDER BY uuid"),
        "events": sorted([str(e.uuid), str(e.person_id), e.person_mode] for e in events),
        "persons": rows(
            "SELECT uuid, properties, is_identified, version, is_deleted FROM persons FINAL"
            " ORDER BY uuid"
        ),
        "distinct_ids": rows(
            "SELECT distinct_id, person_uuid, version FROM person_distinct_ids FINAL"
            " ORDER BY distinct_id"
        ),
        "overrides": rows(
            "SELECT distinct_id, person_uuid, version FROM person_overrides FINAL"
            " ORDER BY distinct_id"
        ),
    }


ROLES = {"worker": worker, "loader": loader}

if __name__ == "__main__":
    sys.exit(ROLES[sys.argv[1]](*sys.argv[2:]))
