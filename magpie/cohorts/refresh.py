"""Keeping computed cohorts fresh: every ``interval`` seconds, a thread of its own
recomputes each one (oldest calculation first), so membership is at most one
interval plus one pass old. A failure is recorded on its cohort and the pass
goes on; the next pass tries again."""

from __future__ import annotations

import logging
import threading

from magpie import priority
from magpie.cohorts.service import CohortService

log = logging.getLogger(__name__)


class CohortRefresher:
    def __init__(self, service: CohortService, interval_seconds: float) -> None:
        self._service = service
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # completed passes, for status and tests

    def start(self) -> None:
        if self._interval <= 0 or self._thread is not None:
            return  # 0: refreshing is off (cohorts are computed on demand only)
        self._thread = threading.Thread(target=self._run, name="cohort-refresh", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Background work: below capture and the API's own queries.
        priority.lower(priority.INGEST)
        while not self._stop.wait(self._interval):
            try:
                self._service.refresh_all(stopping=self._stop.is_set)
            except Exception:
                # The store itself failed (not one cohort): try again next pass.
                log.exception("refreshing cohorts failed")
            self.passes += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
