"""What ``/flags`` reads of persons, groups and hash keys, kept in memory.

A request for a stored person costs several point lookups in the store (the
person of the distinct id, its properties, the continuity hash keys, the
group types and the named groups), which cost far more than evaluating 50
flags. Each answer is kept here, for distinct ids with no person too, and
dropped as soon as what it holds changes:

- the ingest worker tells, after each commit and before its position moves
  on, which distinct ids' persons and which groups it changed
  (``StoredChanges``), so a request made after ``wait_until_caught_up`` or
  after ingestion reached an event sees that event's ``$set``: read-your-writes
  is the store's;
- ``add_hash_keys`` drops the ids it gave hash keys.

A read that overlapped any such change is answered but not kept (the
generation check), so an entry never holds what a commit has replaced.

This is only right while every write passes through this process: the
embedded server, whose one worker runs here. With workers in other processes
(cluster mode) ``app.py`` gives ``/flags`` the store itself.

The entries are bounded (``capacity`` distinct ids and as many groups); past
that the oldest go first.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from magpie.flags.kept import NotKept
from magpie.store.model import FlagContext, FlagDirectory
from magpie.store.state import StoredChanges

_Person = tuple[uuid.UUID, dict[str, Any]] | None
_ABSENT: Any = object()


class ContextSource(Protocol):
    """What remote evaluation reads and writes besides the definitions."""

    def context(
        self,
        project_id: int,
        distinct_ids: Sequence[str],
        groups: dict[str, str],
        *,
        hash_keys: bool = True,
    ) -> FlagContext: ...

    def add_hash_keys(
        self, project_id: int, distinct_ids: Sequence[str], flag_keys: Sequence[str], hash_key: str
    ) -> None: ...


class CachedStore(ContextSource, Protocol):
    """What the cache reads from (``FeatureFlagStore``)."""

    def group_types(self, project_id: int) -> dict[int, str]: ...

    def directory(self, project_id: int, limit: int) -> FlagDirectory | None: ...


class _Directory:
    """A project's every id with a person, read in one pass: an id absent from it
    has no person, with no lookup. Ids changed since are ``stale`` and read one by
    one (through the per-id entries) until the directory is read afresh."""

    __slots__ = ("directory", "stale")

    def __init__(self, directory: FlagDirectory, stale: set[str]) -> None:
        self.directory = directory
        self.stale = stale


class _Id:
    """One distinct id as the store answered: its person (None: no person) and,
    once asked, its own hash keys (flag key → hash key)."""

    __slots__ = ("hash_keys", "person")

    def __init__(self, person: _Person, hash_keys: dict[str, str] | None) -> None:
        self.person = person
        self.hash_keys = hash_keys


class ContextCache:
    def __init__(self, store: CachedStore, *, capacity: int = 200_000) -> None:
        """``capacity``: the ids kept one by one, and the most ids a project may have
        for all of them to be read at once (its directory)."""
        self._store = store
        self._capacity = capacity
        self._directories: dict[int, _Directory | None] = {}  # None: too many ids
        # Projects whose directory is being read → the ids changed meanwhile.
        self._reading: dict[int, set[str]] = {}
        self._ids: dict[tuple[int, str], _Id] = {}
        # (project, type index, key) → the group's properties, None: no such group
        self._groups: dict[tuple[int, int, str], dict[str, Any] | None] = {}
        self._types: dict[int, dict[int, str]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every change: reads that overlap it are not kept

    # -- reading -------------------------------------------------------------

    def context(
        self,
        project_id: int,
        distinct_ids: Sequence[str],
        groups: dict[str, str],
        *,
        hash_keys: bool = True,
    ) -> FlagContext:
        generation = self._generation
        whole = self._directory(project_id) if distinct_ids else None
        entries: list[tuple[str, _Id]] = []
        for distinct_id in distinct_ids:
            if whole is not None and distinct_id not in whole.stale:
                known = whole.directory
                entries.append(
                    (
                        distinct_id,
                        _Id(known.persons.get(distinct_id), known.hash_keys.get(distinct_id, {})),
                    )
                )
                continue
            entry = self._ids.get((project_id, distinct_id))
            if entry is None or (hash_keys and entry.hash_keys is None):
                # One id per read: the store picks hash keys across the ids it is
                # given, and each id's own are what is kept.
                read = self._store.context(project_id, [distinct_id], {}, hash_keys=hash_keys)
                entry = _Id(read.persons.get(distinct_id), read.hash_keys if hash_keys else None)
                self._keep(self._ids, (project_id, distinct_id), entry, generation)
            entries.append((distinct_id, entry))
        types, found = self._groups_of(project_id, groups, generation) if groups else ({}, {})
        persons = {d: e.person for d, e in entries if e.person is not None}
        picked: dict[str, str] = {}
        for _, entry in entries if hash_keys else ():  # the first id's first
            for flag_key, hash_key in (entry.hash_keys or {}).items():
                picked.setdefault(flag_key, hash_key)
        return FlagContext(persons, types, found, picked)

    def kept(
        self,
        project_id: int,
        distinct_ids: Sequence[str],
        groups: dict[str, str],
        *,
        hash_keys: bool = True,
    ) -> FlagContext:
        """``context`` from what is kept alone; ``NotKept`` if it would read the store."""
        whole = self._directories.get(project_id) if distinct_ids else None
        entries: list[_Id] = []
        for distinct_id in distinct_ids:
            if whole is not None and distinct_id not in whole.stale:
                known = whole.directory
                entries.append(
                    _Id(known.persons.get(distinct_id), known.hash_keys.get(distinct_id, {}))
                )
                continue
            entry = self._ids.get((project_id, distinct_id))
            if entry is None or (hash_keys and entry.hash_keys is None):
                raise NotKept
            entries.append(entry)
        found: dict[str, dict[str, Any]] = {}
        types: dict[int, str] = {}
        if groups:
            kept_types = self._types.get(project_id)
            if kept_types is None:
                raise NotKept
            types = kept_types
            indexes = {name: index for index, name in types.items()}
            for name, key in groups.items():
                index = indexes.get(name)
                if index is None:
                    continue
                properties = self._groups.get((project_id, index, key), _ABSENT)
                if properties is _ABSENT:
                    raise NotKept
                if properties is not None:
                    found[name] = properties
        persons = {
            d: e.person for d, e in zip(distinct_ids, entries, strict=True) if e.person is not None
        }
        picked: dict[str, str] = {}
        for entry in entries if hash_keys else ():  # the first id's first
            for flag_key, hash_key in (entry.hash_keys or {}).items():
                picked.setdefault(flag_key, hash_key)
        return FlagContext(persons, types, found, picked)

    def _directory(self, project_id: int) -> _Directory | None:
        if project_id in self._directories:
            return self._directories[project_id]
        with self._lock:
            if project_id in self._reading:
                return None  # another request is reading it: ids one by one meanwhile
            self._reading[project_id] = set()
        try:
            read = self._store.directory(project_id, self._capacity)
        finally:
            with self._lock:
                changed = self._reading.pop(project_id)
                self._directories[project_id] = None if read is None else _Directory(read, changed)
        return self._directories[project_id]

    def _groups_of(
        self, project_id: int, groups: dict[str, str], generation: int
    ) -> tuple[dict[int, str], dict[str, dict[str, Any]]]:
        types = self._types.get(project_id)
        if types is None:
            types = self._store.group_types(project_id)
            self._keep(self._types, project_id, types, generation)
        indexes = {name: index for index, name in types.items()}
        found: dict[str, dict[str, Any]] = {}
        for name, key in groups.items():
            index = indexes.get(name)
            if index is None:
                continue
            cache_key = (project_id, index, key)
            if cache_key in self._groups:
                properties = self._groups[cache_key]
            else:
                read = self._store.context(project_id, [], {name: key}, hash_keys=False)
                properties = read.groups.get(name)
                self._keep(self._groups, cache_key, properties, generation)
            if properties is not None:
                found[name] = properties
        return types, found

    def _keep(self, table: dict[Any, Any], key: Any, value: Any, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # a change came in while this was read: it may be stale
            if len(table) >= self._capacity:
                # The oldest first (dicts keep insertion order); a tenth at a time.
                for old in list(table)[: max(1, self._capacity // 10)]:
                    del table[old]
            table[key] = value

    # -- changes -------------------------------------------------------------

    def add_hash_keys(
        self, project_id: int, distinct_ids: Sequence[str], flag_keys: Sequence[str], hash_key: str
    ) -> None:
        try:
            self._store.add_hash_keys(project_id, distinct_ids, flag_keys, hash_key)
        finally:
            self._forget_ids((project_id, d) for d in distinct_ids)

    def changed(self, changes: StoredChanges) -> None:
        """After an ingestion commit (``IngestWorker``'s ``on_commit``)."""
        with self._lock:
            self._generation += 1
            for key in changes.distinct_ids:
                self._ids.pop(key, None)
                self._mark_stale(*key)
            for group in changes.groups:
                self._groups.pop(group, None)
            for project_id in changes.group_type_projects:
                self._types.pop(project_id, None)

    def _forget_ids(self, keys: Any) -> None:
        with self._lock:
            self._generation += 1
            for key in keys:
                self._ids.pop(key, None)
                self._mark_stale(*key)

    def _mark_stale(self, project_id: int, distinct_id: str) -> None:
        """Under the lock."""
        reading = self._reading.get(project_id)
        if reading is not None:
            reading.add(distinct_id)
        whole = self._directories.get(project_id)
        if whole is not None:
            whole.stale.add(distinct_id)
            if len(whole.stale) > self._capacity // 10:
                del self._directories[project_id]  # read afresh on the next request
