"""The durable queue between capture and the ingest worker.

Capture appends a record and answers the SDK only once the record is on disk;
the worker reads records from a position it commits together with what it
wrote, so a crash at any moment neither loses nor repeats an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Entry:
    payload: bytes
    position: int  # where this record starts
    next_position: int  # where the record after it starts


class QueueCorrupt(Exception):
    """Records from ``position`` up to ``resume_at`` cannot be read: the log is damaged
    there (a checksum fails inside its durable part). ``damaged`` holds those raw bytes,
    so a reader can keep them and go on from ``resume_at``."""

    def __init__(self, message: str, position: int, resume_at: int, damaged: bytes) -> None:
        super().__init__(message)
        self.position = position
        self.resume_at = resume_at
        self.damaged = damaged


class QueueWriter(Protocol):
    """What capture needs of the queue: an append that returns once it is durable."""

    async def append(self, payload: bytes) -> int:
        """Store one record; returns the (opaque) position after it, once durable."""
        ...

    @property
    def end(self) -> int:
        """The position after the last durable record."""
        ...

    def close(self) -> None: ...


class QueueReader(Protocol):
    """What the ingest worker needs of the queue."""

    def read(
        self, position: int, *, max_records: int, max_bytes: int, timeout: float
    ) -> list[Entry]:
        """Records from ``position`` on, waiting up to ``timeout`` seconds for the first.

        Raises ``QueueCorrupt`` when the record at ``position`` is damaged (records
        before a damaged one are returned first)."""
        ...

    def release(self, position: int) -> None:
        """Everything before ``position`` has been consumed and may be discarded."""
        ...

    @property
    def end(self) -> int:
        """The position after the last durable record."""
        ...

    @property
    def start(self) -> int:
        """The position of the first record not yet released."""
        ...

    def close(self) -> None: ...
