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


def _wait_for_spare(log: LocalLog) -> None:
    """The spare is prepared in a thread of its own; nothing here depends on how fast."""
    import time

    for _ in range(6000):  # a guard against hanging, not a speed check
        if log._spare.ready:
            return
        time.sleep(0.01)
    raise AssertionError("no spare segment was prepared")


def test_busy_log_writes_into_preallocated_segments(tmp_path: Path) -> None:
    from magpie.queue.spare import SPARE_NAME

    size = 64 * 1024
    log = LocalLog(tmp_path, segment_bytes=size)
    payloads = [f"record-{i:04d}".encode() * 60 for i in range(40)]  # past a quarter segment
    for payload in payloads[:30]:
        log.append_sync(payload)
    _wait_for_spare(log)
    assert (tmp_path / SPARE_NAME).stat().st_size == size
    for payload in payloads[30:]:
        log.append_sync(payload)
    # The next append extended no file: it rolled onto the zero-filled spare.
    active = max(tmp_path.glob("*.seg"))
    assert active.stat().st_size == size
    assert active.read_bytes().rstrip(b"\0") != b""
    end = log.end
    assert [e.payload for e in log.read(0, max_records=100)] == payloads
    log.close()
    assert not (tmp_path / SPARE_NAME).exists()

    reopened = LocalLog(tmp_path, segment_bytes=size)
    assert reopened.end == end  # the records end at the zeros, not at the file's end
    later = reopened.append_sync(b"later")
    assert active.stat().st_size == size  # written in place
    assert [e.payload for e in reopened.read(0, max_records=100)] == [*payloads, b"later"]
    assert reopened.read(end, max_records=10)[-1].next_position == later
    reopened.close()


def test_torn_write_in_a_preallocated_segment_is_zeroed(tmp_path: Path) -> None:
    size = 64 * 1024
    log = LocalLog(tmp_path, segment_bytes=size)
    for i in range(30):
        log.append_sync(f"record-{i:04d}".encode() * 60)
    _wait_for_spare(log)
    good_end = log.append_sync(b"rolled")
    log.close()
    active = max(tmp_path.glob("*.seg"))
    offset = good_end - int(active.name[: -len(".seg")])
    with open(active, "r+b") as f:  # a header and half a body reached the disk
        f.seek(offset)
        f.write(b"\x40\x00\x00\x00\x12\x34\x56\x78half-a-record")
    recovered = LocalLog(tmp_path, segment_bytes=size)
    assert recovered.end == good_end
    assert active.stat().st_size == size  # still preallocated
    assert active.read_bytes()[offset:].count(0) == size - offset
    recovered.append_sync(b"after")
    assert [e.payload for e in recovered.read(0, max_records=100)][-2:] == [b"rolled", b"after"]
    recovered.close()


def test_empty_records_are_refused(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    with pytest.raises(ValueError):
        log.append_sync(b"")
    log.close()
