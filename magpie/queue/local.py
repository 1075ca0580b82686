"""A local write-ahead log in segment files, with group commit.

Records are framed as ``[length u32][crc32 u32][payload]``. One writer thread
takes every record that arrived while the previous fsync ran, writes them in
one call and fsyncs once, so concurrent requests share the cost of a sync.
Positions are byte offsets in the whole log; a segment file is named after the
position of its first byte and deleted once the worker has consumed past it.

Once the log carries real traffic, segments are files already full of zeros
(spare.py) that records overwrite in place: an fsync that changes no file
size waits for no journal commit, and so not for other files' writes. A
segment's records end at the first zero header (no record is empty), or
where the next segment starts.

After a crash the tail of the last segment may hold a torn record that was
never acknowledged; recovery cuts it off (zeroes it in a preallocated file).
"""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import logging
import os
import struct
import threading
import zlib
from pathlib import Path
from typing import BinaryIO

from magpie.errors import ServiceUnavailable
from magpie.queue import Entry, QueueCorrupt
from magpie.queue.spare import SpareSegment

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_SUFFIX = ".seg"
PREALLOCATE_AFTER_BYTES = 1024 * 1024


class QueueClosed(ServiceUnavailable):
    pass


class _DurableEnd:
    """How far a log is durable, and waiting for it to move past a position."""

    def __init__(self, end: int) -> None:
        self._cond = threading.Condition()
        self._end = end
        self._closing = False

    @property
    def end(self) -> int:
        return self._end

    def _wait_past(self, position: int, timeout: float) -> int:
        with self._cond:
            if self._end <= position and timeout > 0:
                self._cond.wait_for(lambda: self._end > position or self._closing, timeout)
            return self._end


class LocalLog(_DurableEnd):
    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024) -> None:
        self._dir = directory
        self._segment_bytes = segment_bytes
        self._dir.mkdir(parents=True, exist_ok=True)
        self._starts = segment_starts(self._dir)
        if not self._starts:
            self._starts = [0]
            self._create_segment(0)
        self._active_start = self._starts[-1]
        super().__init__(self._active_start + self._recover_tail(self._active_start))
        self._fd = os.open(self._path(self._active_start), os.O_WRONLY)
        # Bytes the active segment's file holds: records are overwritten in place below this.
        self._active_size = os.fstat(self._fd).st_size
        self._spare = SpareSegment(self._dir, segment_bytes)
        # Spares are prepared once this much was appended, so a log that sees
        # little traffic (a test, an idle server) never writes megabytes of zeros.
        self._spare_after = min(PREALLOCATE_AFTER_BYTES, max(1, segment_bytes // 4))
        self._appended = 0
        self._pending: list[tuple[bytes, concurrent.futures.Future[int]]] = []
        self._writer = threading.Thread(target=self._write_loop, name="magpie-queue", daemon=True)
        self._writer.start()

    # -- writing -----------------------------------------------------------

    async def append(self, payload: bytes) -> int:
        return await asyncio.wrap_future(self.submit(payload))

    def append_sync(self, payload: bytes) -> int:
        return self.submit(payload).result()

    def submit(self, payload: bytes) -> concurrent.futures.Future[int]:
        if not payload:
            # A zero header marks where a preallocated segment's records end.
            raise ValueError("a queue record cannot be empty")
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        with self._cond:
            if self._closing:
                raise QueueClosed("the queue is shutting down")
            self._pending.append((payload, future))
            self._cond.notify_all()
        return future

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending and self._closing:
                    return
                batch, self._pending = self._pending, []
            self._write_batch(batch)

    def _write_batch(self, batch: list[tuple[bytes, concurrent.futures.Future[int]]]) -> None:
        frames = [_HEADER.pack(len(p), zlib.crc32(p)) + p for p, _ in batch]
        size = sum(len(f) for f in frames)
        try:
            if self._should_roll(size):
                self._roll()
            offset = self._end - self._active_start
            _write_all(self._fd, b"".join(frames), offset)
            os.fdatasync(self._fd)
        except OSError as exc:
            log.error("queue write failed: %s", exc)
            self._undo_partial_write(size)
            for _, future in batch:
                future.set_exception(ServiceUnavailable("events could not be stored durably"))
            return
        ends = []
        position = self._end
        for frame in frames:
            position += len(frame)
            ends.append(position)
        with self._cond:
            self._end = position
            self._cond.notify_all()
        for (_, future), end in zip(batch, ends, strict=True):
            future.set_result(end)
        self._appended += size
        if self._appended >= self._spare_after:
            self._spare.request()

    def _should_roll(self, size: int) -> bool:
        offset = self._end - self._active_start
        if offset == 0:
            return False  # an empty segment takes any record, however large
        if offset + size > self._segment_bytes:
            return True
        # This write would extend the file: move to a zero-filled spare if one is ready.
        return offset + size > self._active_size and self._spare.ready

    def _undo_partial_write(self, size: int) -> None:
        offset = self._end - self._active_start
        try:
            if offset + size <= self._active_size:
                # Preallocated: put the zeros back, so the records still end here.
                _write_all(self._fd, bytes(size), offset)
            else:
                os.ftruncate(self._fd, offset)
                self._active_size = min(self._active_size, offset)
        except OSError as exc:  # the disk is failing; later appends will fail too
            log.error("queue could not undo a partial write: %s", exc)

    def _roll(self) -> None:
        path = self._path(self._end)
        if self._spare.take(path):
            _fsync_dir(self._dir)
        else:
            self._create_segment(self._end)
        fd = os.open(path, os.O_WRONLY)
        os.close(self._fd)
        self._fd = fd
        self._active_size = os.fstat(fd).st_size
        with self._cond:
            self._starts.append(self._end)
            self._active_start = self._end

    def _create_segment(self, start: int) -> None:
        fd = os.open(self._path(start), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fsync(fd)
        os.close(fd)
        _fsync_dir(self._dir)

    # -- reading -----------------------------------------------------------

    @property
    def start(self) -> int:
        return self._starts[0]

    def read(
        self,
        position: int,
        *,
        max_records: int = 1000,
        max_bytes: int = 16 << 20,
        timeout: float = 0.0,
    ) -> list[Entry]:
        end = self._wait_past(position, timeout)
        with self._cond:
            starts = list(self._starts)
        return read_entries(self._dir, starts, position, end, max_records, max_bytes)

    def release(self, position: int) -> None:
        """Delete segments whose every record lies before ``position``."""
        with self._cond:
            removable = [
                s for s, nxt in zip(self._starts, self._starts[1:], strict=False) if nxt <= position
            ]
            self._starts = self._starts[len(removable) :]
        for start in removable:
            segment_path(self._dir, start).unlink(missing_ok=True)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join()
        self._spare.close()
        os.close(self._fd)

    # -- recovery ----------------------------------------------------------

    def _recover_tail(self, start: int) -> int:
        """Cut off a torn write: a last record that never reached the disk whole, and
        so was never acknowledged. A whole record that fails its checksum is damage,
        not a torn write: it stays, with everything after it, for the reader to set
        aside (``QueueCorrupt``), and appends go on after the file's end."""
        path = self._path(start)
        data = path.read_bytes()
        valid = _valid_prefix(data)
        if data.count(0, valid) == len(data) - valid:
            return valid  # nothing after the records but (preallocated) zeros
        # Past the records: bytes up to the last non-zero one, then perhaps zeros.
        used = len(data.rstrip(b"\0"))
        if not _is_torn(data[:used], valid):
            log.error(
                "queue: %s holds a damaged record at byte %d; it will be kept as a dead letter",
                path.name,
                valid,
            )
            return used
        log.warning(
            "queue: dropping %d bytes of an unacknowledged torn write in %s",
            used - valid,
            path.name,
        )
        with open(path, "r+b") as f:
            if used < len(data):  # preallocated: zero it, and keep the space
                f.seek(valid)
                f.write(bytes(used - valid))
            else:
                f.truncate(valid)
            f.flush()
            os.fsync(f.fileno())
        return valid

    def _path(self, start: int) -> Path:
        return segment_path(self._dir, start)


class LogFollower(_DurableEnd):
    """Reads a log that another process writes (the capture process).

    The writer tells how far the log is durable (``advance``); segments are
    found on disk, since the writer starts new ones on its own.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__(0)
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)

    def advance(self, end: int) -> None:
        with self._cond:
            if end > self._end:
                self._end = end
                self._cond.notify_all()

    @property
    def start(self) -> int:
        starts = segment_starts(self._dir)
        return starts[0] if starts else 0

    def read(
        self,
        position: int,
        *,
        max_records: int = 1000,
        max_bytes: int = 16 << 20,
        timeout: float = 0.0,
    ) -> list[Entry]:
        end = self._wait_past(position, timeout)
        if position >= end:
            return []
        return read_entries(
            self._dir, segment_starts(self._dir), position, end, max_records, max_bytes
        )

    def release(self, position: int) -> None:
        """Delete segments wholly before ``position``; never the last one (being written)."""
        starts = segment_starts(self._dir)
        for start, following in zip(starts, starts[1:], strict=False):
            if following <= position:
                segment_path(self._dir, start).unlink(missing_ok=True)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()


def segment_path(directory: Path, start: int) -> Path:
    return directory / f"{start:020d}{_SUFFIX}"


def segment_starts(directory: Path) -> list[int]:
    return sorted(int(p.name[: -len(_SUFFIX)]) for p in directory.glob(f"*{_SUFFIX}"))


def read_entries(
    directory: Path, starts: list[int], position: int, end: int, max_records: int, max_bytes: int
) -> list[Entry]:
    """Records from ``position`` up to ``end``, within the given limits (at least one)."""
    entries: list[Entry] = []
    taken = 0
    while position < end and len(entries) < max_records and taken < max_bytes:
        index = bisect.bisect_right(starts, position) - 1
        if index < 0:
            raise ValueError(f"queue position {position} was already released")
        seg_start = starts[index]
        seg_end = min(starts[index + 1], end) if index + 1 < len(starts) else end
        with open(segment_path(directory, seg_start), "rb") as segment:
            segment.seek(position - seg_start)
            while position < seg_end and len(entries) < max_records and taken < max_bytes:
                entry = _read_frame(segment, position, seg_end)
                if entry is None:
                    if entries:
                        return entries  # the damage is the next read's to report
                    raise _damage(segment, seg_start, position, seg_end)
                entries.append(entry)
                taken += entry.next_position - position
                position = entry.next_position
    return entries


def _valid_prefix(data: bytes) -> int:
    """Length of the run of whole, checksummed records at the start of ``data``."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        if length == 0:
            break  # zeros: where a preallocated segment's records end
        body_end = offset + _HEADER.size + length
        if body_end > len(data) or zlib.crc32(data[offset + _HEADER.size : body_end]) != crc:
            break
        offset = body_end
    return offset


def _is_torn(data: bytes, offset: int) -> bool:
    """Whether the record at ``offset`` runs past the end of ``data`` (a write cut short),
    or its header never reached a preallocated segment (still zeros)."""
    if offset + _HEADER.size > len(data):
        return True
    length, _ = _HEADER.unpack_from(data, offset)
    return length == 0 or offset + _HEADER.size + length > len(data)


def _read_frame(segment: BinaryIO, position: int, seg_end: int) -> Entry | None:
    """The record at ``position``, or None when it is damaged."""
    header = segment.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    length, crc = _HEADER.unpack(header)
    if length == 0 or position + _HEADER.size + length > seg_end:
        return None
    payload = segment.read(length)
    if len(payload) < length or zlib.crc32(payload) != crc:
        return None
    return Entry(payload, position, position + _HEADER.size + length)


def _damage(segment: BinaryIO, seg_start: int, position: int, seg_end: int) -> QueueCorrupt:
    """Where reading can go on past a damaged record: after it when its length is
    intact (only its body fails the checksum), else at the end of its segment,
    since the records after it can no longer be found."""
    segment.seek(position - seg_start)
    header = segment.read(_HEADER.size)
    resume_at = seg_end
    if len(header) == _HEADER.size:
        length, _ = _HEADER.unpack(header)
        body_end = position + _HEADER.size + length
        if body_end <= seg_end and _frame_follows(segment, seg_start, body_end, seg_end):
            resume_at = body_end
    segment.seek(position - seg_start)
    damaged = segment.read(resume_at - position)
    return QueueCorrupt(
        f"queue record damaged at position {position}; resuming at {resume_at}",
        position,
        resume_at,
        damaged,
    )


def _frame_follows(segment: BinaryIO, seg_start: int, at: int, seg_end: int) -> bool:
    """Whether a whole, checksummed record (or the segment's end) starts at ``at``: a
    damaged length would point into the middle of something else."""
    if at == seg_end:
        return True
    segment.seek(at - seg_start)
    return _read_frame(segment, at, seg_end) is not None


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
