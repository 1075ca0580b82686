"""What feature flags ask of cohorts (``magpie/flags/cohorts.py``'s
``CohortMembership``), answered from the cohort store alone, so any process
that evaluates flags can answer, whether or not it computes cohorts.

Membership lookups are answered from memory: a flag evaluation asks many times
a second. A cohort's members are read once and kept a while, and dropped at
once when this process changes the cohort (``forget``).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from magpie.cohorts.definition import is_person_properties_only, parse_definition
from magpie.errors import MagpieError
from magpie.store.base import CohortStore

# Kept this long (another process may have computed the cohort since)...
MEMBERS_KEPT_SECONDS = 30.0
# ...unless it has more members than this, which are looked up in the store;
# and all cohorts together keep at most this many (the oldest read go first).
MEMBERS_KEPT_AT_MOST = 200_000
MEMBERS_KEPT_IN_ALL = 1_000_000

Kept = tuple[float, frozenset[uuid.UUID] | None]  # when read, the members (None: too many)


class StoredMembership:
    def __init__(self, store: CohortStore) -> None:
        self._store = store
        self._kept: dict[tuple[int, int], Kept] = {}
        self._keeping = threading.Lock()

    def exists(self, project_id: int, cohort_id: int) -> bool:
        cohort = self._store.get(project_id, cohort_id)
        return cohort is not None and not cohort.deleted

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        """From the stored membership (as fresh as its last computation)."""
        members = self._members(project_id, cohort_id)
        if members is None:
            return self._store.is_member(project_id, cohort_id, person_id)
        return person_id in members

    def kept_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool | None:
        """``is_member`` if the members are kept in memory (and fresh), else None."""
        kept = self._kept.get((project_id, cohort_id))
        if kept is None or kept[1] is None or time.monotonic() - kept[0] >= MEMBERS_KEPT_SECONDS:
            return None
        return person_id in kept[1]

    def property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        """The cohort's ``filters.properties`` when membership follows from person
        properties alone (so it can be evaluated on the spot, or by an SDK), else
        None: static, behavioural and nested cohorts need the stored membership."""
        cohort = self._store.get(project_id, cohort_id)
        if cohort is None or cohort.deleted or cohort.is_static:
            return None
        try:
            group = parse_definition(cohort.filters)
        except MagpieError:
            return None
        if not is_person_properties_only(group):
            return None
        return dict(cohort.filters["properties"])

    def forget(self, project_id: int, cohort_id: int) -> None:
        """The cohort changed here: read its members again when next asked."""
        with self._keeping:
            self._kept.pop((project_id, cohort_id), None)

    def _members(self, project_id: int, cohort_id: int) -> frozenset[uuid.UUID] | None:
        key = (project_id, cohort_id)
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < MEMBERS_KEPT_SECONDS:
            return kept[1]
        cohort = self._store.get(project_id, cohort_id)
        members: frozenset[uuid.UUID] | None = frozenset()
        if cohort is not None and not cohort.deleted:
            if (cohort.count or 0) > MEMBERS_KEPT_AT_MOST:
                members = None
            else:
                limit = MEMBERS_KEPT_AT_MOST + 1
                members = frozenset(self._store.members(project_id, cohort_id, limit=limit))
        self._keep(key, now, members)
        return members

    def _keep(self, key: tuple[int, int], now: float, members: frozenset[uuid.UUID] | None) -> None:
        with self._keeping:
            self._kept.pop(key, None)
            self._kept[key] = (now, members)  # last in the order: the newest
            total = sum(len(m) for _, m in self._kept.values() if m)
            while total > MEMBERS_KEPT_IN_ALL and len(self._kept) > 1:
                dropped = self._kept.pop(next(iter(self._kept)))[1]
                total -= len(dropped) if dropped else 0
