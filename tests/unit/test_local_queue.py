import asyncio
from pathlib import Path

import pytest

from magpie.queue.local import LocalLog, QueueClosed


def test_append_read_release_and_reopen(tmp_path: Path) -> None:
    log = LocalLog(tmp_path, segment_bytes=200)
    ends = [log.append_sync(f"record-{i}".encode() * 3) for i in range(30)]
    assert ends == sorted(ends) and log.end == ends[-1]
    segments = list(tmp_path.glob("*.seg"))
    assert len(segments) > 3
    entries = log.read(0, max_records=100, max_bytes=1 << 20)
    assert [e.payload for e in entries] == [f"record-{i}".encode() * 3 for i in range(30)]
    assert entries[-1].next_position == log.end
    log.release(entries[20].position)
    assert len(list(tmp_path.glob("*.seg"))) < len(segments)
    rest = log.read(entries[20].position, max_records=100, max_bytes=1 << 20)
    assert [e.payload for e in rest] == [e.payload for e in entries[20:]]
    log.close()
    reopened = LocalLog(tmp_path, segment_bytes=200)
    assert reopened.end == ends[-1]
    assert [
        e.payload for e in reopened.read(entries[20].position, max_records=100, max_bytes=1 << 20)
    ] == [e.payload for e in rest]
    reopened.close()


def test_read_limits(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    for i in range(10):
        log.append_sync(bytes([i]) * 100)
    assert len(log.read(0, max_records=3, max_bytes=1 << 20)) == 3
    # A byte limit smaller than one record still returns that record.
    assert len(log.read(0, max_records=10, max_bytes=10)) == 1
    assert log.read(log.end, max_records=10, max_bytes=1 << 20, timeout=0.01) == []
    log.close()


def test_torn_tail_is_truncated_on_recovery(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    log.append_sync(b"first")
    good_end = log.append_sync(b"second")
    log.close()
    segment = next(tmp_path.glob("*.seg"))
    with open(segment, "ab") as f:
        f.write(b"\x40\x00\x00\x00garbage-that-was-never-acknowledged")
    recovered = LocalLog(tmp_path)
    assert recovered.end == good_end
    assert [e.payload for e in recovered.read(0, max_records=10, max_bytes=1 << 20)] == [
        b"first",
        b"second",
    ]
    recovered.append_sync(b"third")
    assert [e.payload for e in recovered.read(0, max_records=10, max_bytes=1 << 20)][-1] == b"third"
    recovered.close()


def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)

    async def burst() -> list[int]:
        return await asyncio.gather(*(log.append(b"x" * 50) for _ in range(500)))

    ends = asyncio.run(burst())
    assert len(set(ends)) == 500
    assert len(log.read(0, max_records=1000, max_bytes=1 << 20)) == 500
    log.close()


def test_closed_queue_refuses_appends(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    log.close()
    with pytest.raises(QueueClosed):
        log.append_sync(b"late")
