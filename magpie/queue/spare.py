"""The local log's next segment, written full of zeros before it is needed.

Capture answers an SDK only once its record is fsynced, so the fsync is on
every request's path. Appending to a file changes its size and its block
map, and ext4 makes such an fsync wait for a journal commit: a commit that
is shared with every other file on the disk, and that in its default
``data=ordered`` mode first writes out the data those files have waiting
(DuckDB's WAL and checkpoints, its spill files). Overwriting blocks that
already exist changes no metadata, so its fdatasync writes the record and
flushes the disk's cache, and waits for no one else's writes.

So the log writes into segments that were filled with zeros in advance
(``LocalLog`` overwrites them in place). This thread prepares the next
one while the current one fills; the writer takes it when it rolls over, or
creates an ordinary segment if the spare is not ready yet (never waiting for
it). The zeros go out in small synced chunks with pauses between them, so
that preparing a spare never queues megabytes ahead of a capture fsync.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

SPARE_NAME = "spare.zeros"  # never *.seg: readers must not take it for a segment
CHUNK_BYTES = 1024 * 1024
PAUSE_SECONDS = 0.005


class SpareSegment:
    def __init__(self, directory: Path, size: int) -> None:
        self.path = directory / SPARE_NAME
        self._size = size
        self._cond = threading.Condition()
        self._wanted = False
        self._ready = False
        self._closing = False
        self._thread: threading.Thread | None = None
        # A spare left by a process that stopped may be half written.
        self.path.unlink(missing_ok=True)

    @property
    def ready(self) -> bool:
        return self._ready

    def request(self) -> None:
        """Have a spare prepared (from now on, after every ``take``)."""
        with self._cond:
            if self._closing or self._wanted:
                return
            self._wanted = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._prepare_loop, name="magpie-queue-spare", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def take(self, target: Path) -> bool:
        """Move the prepared file to ``target``; False (nothing done) if none is ready."""
        with self._cond:
            if not self._ready:
                return False
            # Under the lock: the next spare is not begun before this one has moved.
            os.rename(self.path, target)
            self._ready = False
            self._cond.notify_all()
            return True

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self.path.unlink(missing_ok=True)

    def _prepare_loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and (self._ready or not self._wanted):
                    self._cond.wait()
                if self._closing:
                    return
            try:
                done = self._fill()
            except OSError as exc:  # a full disk: the log goes on with ordinary segments
                log.warning("queue: no spare segment (%s); appends extend the file", exc)
                with contextlib.suppress(OSError):
                    self.path.unlink(missing_ok=True)
                with self._cond:
                    self._cond.wait(5.0)
                continue
            if done:
                with self._cond:
                    self._ready = True

    def _fill(self) -> bool:
        """Write the spare; False when closing stopped it half way."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            zeros = bytes(min(CHUNK_BYTES, self._size))
            written = 0
            while written < self._size:
                if self._closing:
                    return False
                chunk = zeros[: self._size - written]
                written += os.pwrite(fd, chunk, written)
                os.fdatasync(fd)
                with self._cond:
                    self._cond.wait_for(lambda: self._closing, PAUSE_SECONDS)
            os.fsync(fd)
            return True
        finally:
            os.close(fd)
