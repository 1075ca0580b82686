"""Each project's flag definitions, kept in memory for ``/flags``.

Reading the definitions from the store on every ``/flags`` request would cost
more than evaluating them, so each project's ``FlagSet`` is cached. Changes
made through this process's API drop the entry at once; changes made by
another process (several servers on one PostgreSQL) are noticed by comparing
the store's revision, asked at most every ``recheck_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from magpie.flags.evaluation import FlagSet
from magpie.flags.kept import NotKept
from magpie.store.base import FeatureFlagStore


@dataclass
class _Entry:
    revision: int
    flags: FlagSet
    checked_at: float


class FlagDefinitions:
    def __init__(
        self,
        store: FeatureFlagStore,
        *,
        recheck_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._recheck = recheck_seconds
        self._monotonic = monotonic
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()
        # Bumped by invalidate(): a load that began before a change must not put
        # the old definitions back.
        self._generation = 0

    def flag_set(self, project_id: int) -> FlagSet:
        now = self._monotonic()
        entry = self._entries.get(project_id)
        if entry is not None and now - entry.checked_at < self._recheck:
            return entry.flags
        generation = self._generation
        revision = self._store.revision(project_id)
        if entry is not None and entry.revision == revision:
            entry.checked_at = now
            return entry.flags
        flags = FlagSet(self._store.list(project_id))
        with self._lock:
            if generation == self._generation:
                self._entries[project_id] = _Entry(revision, flags, now)
        return flags

    def kept(self, project_id: int) -> FlagSet:
        """The project's flags if they are in memory and were checked recently
        enough not to ask the store; otherwise ``NotKept``."""
        entry = self._entries.get(project_id)
        if entry is None or self._monotonic() - entry.checked_at >= self._recheck:
            raise NotKept
        return entry.flags

    def revision(self, project_id: int) -> int:
        self.flag_set(project_id)
        entry = self._entries.get(project_id)
        return entry.revision if entry is not None else self._store.revision(project_id)

    def invalidate(self, project_id: int) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(project_id, None)
