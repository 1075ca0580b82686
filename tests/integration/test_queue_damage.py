"""A damaged queue record does not stop ingestion: it is kept as a dead letter and
the events after it are stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from magpie.queue.local import segment_path, segment_starts
from tests.harness import Ingest


def _queue_file(data_dir: Path) -> Path:
    queue = data_dir / "queue"
    return segment_path(queue, segment_starts(queue)[0])


@pytest.mark.parametrize("where", ["body", "length"])
def test_a_damaged_record_is_set_aside(tmp_path: Path, where: str) -> None:
    data_dir = tmp_path / "data"
    ingest = Ingest(data_dir, start=False)
    ingest.send(ingest.event("before", "u1", anonymous=True), wait=False)
    middle = ingest.send(ingest.event("damaged", "u2", anonymous=True), wait=False)
    after = ingest.send(ingest.event("after", "u3", anonymous=True), wait=False)
    ingest.close()

    segment = _queue_file(data_dir)
    data = bytearray(segment.read_bytes())
    second = data.index(middle[0].encode())  # inside the second record's body
    if where == "body":
        data[second] ^= 0xFF
    else:
        start = data.rindex(b"}", 0, second) + 1  # the second record's header
        data[start] ^= 0x40  # its length now points past the segment's records
    segment.write_bytes(bytes(data))

    project_id = ingest.project_id
    ingest = Ingest(data_dir)
    ingest.project_id = project_id
    try:
        ingest.settle()
        stored = {e["event"] for e in ingest.events()}
        assert "before" in stored and "damaged" not in stored
        worker = ingest.magpie.worker
        assert worker.stats.dead_letters == 1
        assert worker._thread.is_alive()
        [(payload,)] = ingest.cursor.execute("SELECT payload FROM dead_letters").fetchall()
        assert b'"event":"damaged"' in payload
        if where == "body":
            assert "after" in stored  # the record after it was still found
        else:
            # A length that lands inside the next record is caught by its checksum and
            # the reader finds the next record again; one that points past the records
            # takes the rest along. Either way the event after it is not lost.
            assert "after" in stored or after[0].encode() in payload
        # New events keep flowing.
        ingest.send(ingest.event("later", "u4", anonymous=True))
        assert "later" in {e["event"] for e in ingest.events()}
    finally:
        ingest.close()
