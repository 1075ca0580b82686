"""What /flags answers on the event loop: only what is kept in memory, the same
answer as the store path, and NotKept wherever a store would be read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from magpie.flags.context_cache import ContextCache
from magpie.flags.kept import NotKept
from magpie.flags.stored_cohorts import KEPT_SECONDS, StoredCohorts
from magpie.store.model import FlagContext, FlagDirectory
from magpie.store.state import StoredChanges

ADA = uuid.UUID(int=1)
NOW = datetime(2026, 6, 15, tzinfo=UTC)


class Store:
    """Persons and one group; counts its reads."""

    def __init__(self, *, directory: bool = True) -> None:
        self.persons = {"ada": (ADA, {"plan": "pro"})}
        self.groups = {(0, "acme"): {"seats": 12}}
        self.reads = 0
        self.with_directory = directory

    def context(
        self, project_id: int, ids: Sequence[str], groups: dict[str, str], *, hash_keys: bool = True
    ) -> FlagContext:
        self.reads += 1
        found = {n: self.groups[(0, k)] for n, k in groups.items() if (0, k) in self.groups}
        persons = {d: self.persons[d] for d in ids if d in self.persons}
        return FlagContext(persons, {0: "company"}, found, {})

    def add_hash_keys(self, *args: Any) -> None:
        raise AssertionError("not asked")

    def group_types(self, project_id: int) -> dict[int, str]:
        self.reads += 1
        return {0: "company"}

    def directory(self, project_id: int, limit: int) -> FlagDirectory | None:
        self.reads += 1
        return FlagDirectory(dict(self.persons), {}) if self.with_directory else None


@pytest.mark.parametrize("directory", [True, False])
def test_the_cache_answers_from_memory_what_it_read_and_nothing_else(directory: bool) -> None:
    store = Store(directory=directory)
    cache = ContextCache(store)
    ask: tuple[Any, ...] = (1, ["ada"], {"company": "acme"})
    with pytest.raises(NotKept):
        cache.kept(*ask, hash_keys=False)
    assert store.reads == 0
    read = cache.context(*ask, hash_keys=False)
    reads = store.reads
    assert cache.kept(*ask, hash_keys=False) == read
    assert read.persons["ada"][1] == {"plan": "pro"} and read.groups == {"company": {"seats": 12}}
    assert store.reads == reads
    # An id or a group never read, and ada once ingestion changed her: not kept.
    with pytest.raises(NotKept):
        cache.kept(1, ["bob"] if not directory else [], {"company": "other"}, hash_keys=False)
    cache.changed(StoredChanges({(1, "ada")}, set(), set()))
    with pytest.raises(NotKept):
        cache.kept(1, ["ada"], {}, hash_keys=False)


class Membership:
    def __init__(self) -> None:
        self.reads = 0

    def exists(self, project_id: int, cohort_id: int) -> bool:
        self.reads += 1
        return True

    def property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        return None

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        self.reads += 1
        return person_id == ADA

    def kept_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool | None:
        return None if self.reads < 2 else person_id == ADA


def test_cohorts_answer_from_memory_only_once_read_and_while_fresh() -> None:
    ticks = [0.0]
    cohorts = StoredCohorts(Membership(), monotonic=lambda: ticks[0])
    kept = cohorts.kept_only()
    with pytest.raises(NotKept):
        kept.exists(1, 5)
    with pytest.raises(NotKept):
        kept.is_member(1, 5, ADA)  # the membership keeps nothing yet
    assert cohorts.exists(1, 5) and cohorts.is_member(1, 5, ADA)
    assert kept.exists(1, 5) and kept.property_filters(1, 5) is None
    assert kept.is_member(1, 5, ADA) and not kept.is_member(1, 5, uuid.UUID(int=2))
    ticks[0] = KEPT_SECONDS + 1
    with pytest.raises(NotKept):
        kept.exists(1, 5)
