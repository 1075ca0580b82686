"""The per-project cache of flag definitions: dropped on this process's changes at
once, and another process's changes noticed by the store's revision."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from magpie.clock import FrozenClock
from magpie.flags.definitions import FlagDefinitions
from magpie.store.duckdb.database import Database
from magpie.store.duckdb.flags import DuckDBFeatureFlagStore


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBFeatureFlagStore]:
    db = Database(tmp_path / "magpie.duckdb", threads=1, memory_limit="128MB")
    yield DuckDBFeatureFlagStore(db, FrozenClock(datetime(2026, 1, 1, tzinfo=UTC)))
    db.close()


def make(store: DuckDBFeatureFlagStore, key: str) -> int:
    return store.create(
        1,
        key,
        name="",
        filters={"groups": [{}]},
        active=True,
        ensure_experience_continuity=False,
        changed_by=None,
    ).id


def test_changes_elsewhere_are_seen_after_the_recheck_interval(
    store: DuckDBFeatureFlagStore,
) -> None:
    ticks = Ticks()
    cache = FlagDefinitions(store, recheck_seconds=2.0, monotonic=ticks)
    assert cache.flag_set(1).active == ()
    make(store, "a")  # as another server would: not through this cache
    assert cache.flag_set(1).active == ()  # still within the interval
    ticks.now = 2.5
    assert [f.key for f in cache.flag_set(1).active] == ["a"]


def test_local_changes_drop_the_entry_at_once(store: DuckDBFeatureFlagStore) -> None:
    ticks = Ticks()
    cache = FlagDefinitions(store, recheck_seconds=60.0, monotonic=ticks)
    flag_id = make(store, "a")
    first = cache.flag_set(1)
    assert cache.flag_set(1) is first  # cached
    store.update(1, flag_id, None, active=False)
    cache.invalidate(1)
    assert cache.flag_set(1).active == ()


def test_an_unchanged_revision_keeps_the_flags(store: DuckDBFeatureFlagStore) -> None:
    ticks = Ticks()
    cache = FlagDefinitions(store, recheck_seconds=1.0, monotonic=ticks)
    make(store, "a")
    first = cache.flag_set(1)
    ticks.now = 5.0
    assert cache.flag_set(1) is first
    assert cache.revision(1) == store.revision(1)
