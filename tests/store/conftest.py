"""Backends for the store contract tests: each test runs on DuckDB and on PostgreSQL.

Every PostgreSQL test gets a database of its own (``new_database`` in
tests/conftest.py: created, dropped after), so no test sees another's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from magpie.clock import FrozenClock
from magpie.store.base import Stores
from magpie.store.duckdb import duckdb_stores
from magpie.store.duckdb.database import Database
from magpie.store.postgres import PostgresDatabase, postgres_stores
from tests.store.event_table import EventTable
from tests.store.feed import Feed

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def pg_url(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[PostgresDatabase]:
    db = PostgresDatabase(pg_url, max_size=6)
    yield db
    db.close()


@dataclass
class Backend:
    name: str
    stores: Stores
    clock: FrozenClock
    folder: Path
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def feed(self) -> Feed:
        """A real ingest worker over a real local queue, writing through these stores."""
        feed = Feed(self.stores.ingest, self.folder / f"queue-{len(self._closers)}", self.clock)
        self._closers.append(feed.close)
        return feed

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


def make_backend(name: str, folder: Path, pg_url: Callable[[], str]) -> Backend:
    clock = FrozenClock(T0)
    if name == "duckdb":
        duck = Database(folder / "magpie.duckdb", threads=1, memory_limit="256MB")
        backend = Backend(name, duckdb_stores(duck, clock), clock, folder)
        backend._closers.append(duck.close)
        return backend
    db = PostgresDatabase(pg_url(), max_size=6)
    events = EventTable(db)
    backend = Backend(name, postgres_stores(db, clock, events, events), clock, folder)
    backend._closers.append(db.close)
    return backend


@pytest.fixture(params=["duckdb", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, new_database: Callable[[], str]
) -> Iterator[Backend]:
    made = make_backend(request.param, tmp_path, new_database)
    yield made
    made.close()
