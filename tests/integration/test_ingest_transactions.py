"""The ingest worker's transactions: built chunk by chunk from what is already
in the queue, committed at a size, and safe when one record cannot be ingested."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.harness import Ingest


@pytest.fixture
def chunked(tmp_path: Path) -> Iterator[Ingest]:
    """Two records per chunk, a transaction goes on below 7 events; the worker
    starts once the test has queued its records."""
    ingest = Ingest(
        tmp_path / "data", start=False, worker_batch_records=2, worker_transaction_events=7
    )
    yield ingest
    ingest.close()


def queue_requests(ingest: Ingest, requests: int, events_each: int) -> list[str]:
    uuids = []
    for r in range(requests):
        events = [ingest.event("pageview", f"user-{r}", anonymous=True) for _ in range(events_each)]
        uuids += ingest.send(*events, wait=False)
    return uuids


def stored_uuids(ingest: Ingest) -> list[str]:
    return sorted(e["uuid"] for e in ingest.events())


def test_a_transaction_takes_in_the_chunks_already_queued_up_to_its_size(chunked: Ingest) -> None:
    # 10 requests of 2 events, chunks of 2 requests (4 events): a transaction
    # goes on while it holds fewer than 7 events, so it takes two chunks (8).
    sent = queue_requests(chunked, requests=10, events_each=2)
    chunked.magpie.start()
    chunked.settle()
    assert stored_uuids(chunked) == sorted(sent)
    assert chunked.magpie.worker.stats.batches == 3  # 8 + 8 + 4 events


def test_a_record_that_cannot_be_ingested_is_set_aside_and_the_rest_stored_once(
    chunked: Ingest,
) -> None:
    sent = queue_requests(chunked, requests=3, events_each=1)
    chunked.magpie.queue.append_sync(b'{"project_id": 1, "events": "not a list"}')
    sent += queue_requests(chunked, requests=4, events_each=1)
    chunked.magpie.start()
    chunked.settle()
    stats = chunked.magpie.worker.stats
    assert stored_uuids(chunked) == sorted(sent)
    assert stats.dead_letters == 1
    assert stats.duplicates_skipped == 0
    dead = chunked.cursor.execute("SELECT payload FROM dead_letters").fetchall()
    assert [orjson.loads(row[0])["events"] for row in dead] == ["not a list"]
