"""The background thread that turns queued events into ``/batch/`` requests.

Sending happens off the caller's thread so that ``capture()`` never waits on
the network. The thread is a daemon: it can never keep an app from exiting.
Events still queued at exit are sent by the client's atexit hook.
"""

from __future__ import annotations

import logging
import threading

from magpie_sdk.delivery import BatchSender, Outcome
from magpie_sdk.queue.buffer import EventBuffer

logger = logging.getLogger("magpie_sdk")


class Consumer(threading.Thread):
    def __init__(
        self,
        buffer: EventBuffer,
        sender: BatchSender,
        *,
        flush_at: int,
        flush_interval: float,
        max_batch_bytes: int,
    ) -> None:
        super().__init__(name="magpie-sdk-consumer", daemon=True)
        self._buffer = buffer
        self._sender = sender
        self._flush_at = max(1, flush_at)
        self._flush_interval = max(0.0, flush_interval)
        self._max_batch_bytes = max_batch_bytes
        self.sent_events = 0
        self.failed_events = 0

    def run(self) -> None:
        while True:
            try:
                batch = self._buffer.take(
                    self._flush_at, self._max_batch_bytes, self._flush_interval
                )
            except Exception:  # pragma: no cover - defensive: the thread must not die
                logger.exception("Magpie consumer failed to read its queue")
                continue
            if batch is None:
                return
            try:
                outcome = self._sender.send([item.data for item in batch])
            except Exception:
                # The sender catches everything itself; this keeps the thread
                # alive even if it has a bug, since a dead consumer would make
                # every later flush() wait out its timeout.
                logger.exception("Magpie consumer failed to send %d events", len(batch))
                outcome = Outcome.FAILED
            if outcome is Outcome.SENT:
                self.sent_events += len(batch)
            else:
                self.failed_events += len(batch)
            self._buffer.mark_done(batch[-1].seq)
