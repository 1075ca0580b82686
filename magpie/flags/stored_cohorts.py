"""Cohorts as flag evaluation sees them: the cohort store's answers
(``magpie/cohorts/stored.py``), with each cohort's definition kept briefly.

A cohort that person properties alone decide is evaluated on the spot against
the subject's properties (stored ones with the request's merged over them), as
the SDKs do when they evaluate locally; any other cohort (static, behavioural,
nested) is answered from its stored membership, which holds persons only and
is as fresh as its last computation (``magpie/cohorts/refresh.py``; its
members are kept in memory for 30 seconds).

Whether a cohort exists and which filters decide it are read once per cohort
and kept for ``KEPT_SECONDS``: every ``/flags`` request with a cohort
condition asks, and the answer changes only when someone edits the cohort.
When it is due, one request reads it again while the others still answer from
the one kept.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from magpie.flags.cohorts import CohortMembership
from magpie.flags.kept import NotKept

KEPT_SECONDS = 5.0


class StoredCohorts:
    def __init__(
        self, cohorts: CohortMembership, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._cohorts = cohorts
        self._monotonic = monotonic
        # (project, cohort) → (when read, exists, its property filters or None)
        self._kept: dict[tuple[int, int], tuple[float, bool, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()
        # One request reads a definition again; the others answer from the one
        # kept meanwhile rather than all asking the store at once.
        self._reading = threading.Lock()

    def exists(self, project_id: int, cohort_id: int) -> bool:
        return self._definition(project_id, cohort_id)[0]

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        return self._cohorts.is_member(project_id, cohort_id, person_id)

    def property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        return self._definition(project_id, cohort_id)[1]

    def kept_only(self) -> CohortMembership:
        """The same answers, from memory only: ``NotKept`` where a store is read."""
        return _KeptCohorts(self)

    def kept_definition(
        self, project_id: int, cohort_id: int
    ) -> tuple[bool, dict[str, Any] | None]:
        kept = self._kept.get((project_id, cohort_id))
        if kept is None or self._monotonic() - kept[0] >= KEPT_SECONDS:
            raise NotKept
        return kept[1], kept[2]

    def kept_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        # Only a membership that says what it keeps (StoredMembership) is asked here.
        kept_member = getattr(self._cohorts, "kept_member", None)
        member = None if kept_member is None else kept_member(project_id, cohort_id, person_id)
        if member is None:
            raise NotKept
        return bool(member)

    def _definition(self, project_id: int, cohort_id: int) -> tuple[bool, dict[str, Any] | None]:
        key = (project_id, cohort_id)
        now = self._monotonic()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < KEPT_SECONDS:
            return kept[1], kept[2]
        if kept is not None and not self._reading.acquire(blocking=False):
            return kept[1], kept[2]
        if kept is None:
            self._reading.acquire()
        try:
            exists = self._cohorts.exists(project_id, cohort_id)
            filters = self._cohorts.property_filters(project_id, cohort_id) if exists else None
        finally:
            self._reading.release()
        with self._lock:
            if len(self._kept) > 10_000:
                self._kept.clear()
            self._kept[key] = (now, exists, filters)
        return exists, filters


class _KeptCohorts:
    """``StoredCohorts`` answering from memory only (``StoredCohorts.kept_only``)."""

    def __init__(self, cohorts: StoredCohorts) -> None:
        self._cohorts = cohorts

    def exists(self, project_id: int, cohort_id: int) -> bool:
        return self._cohorts.kept_definition(project_id, cohort_id)[0]

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        return self._cohorts.kept_member(project_id, cohort_id, person_id)

    def property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        return self._cohorts.kept_definition(project_id, cohort_id)[1]
