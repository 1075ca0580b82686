"""A worker on NATS may run a unit on every partition at once: its PostgreSQL pool
must hold a connection for each of them, and leave room for everything else."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from magpie.backends import POOL_RESERVE, Backends, open_backends
from magpie.clock import SystemClock
from magpie.settings import Settings
from magpie.store.base import IngestUnit
from tests.conftest import cluster_settings
from tests.queue_nats.conftest import delete_streams

# Long enough for a loaded machine to start every unit; a unit that never gets a
# connection breaks the barrier instead of hanging the test.
_ALL_AT_ONCE_SECONDS = 60.0


@pytest.fixture
def queue_url(nats_url: str) -> Iterator[str]:
    url = f"{nats_url}/test_{secrets.token_hex(5)}"
    yield url
    delete_streams(url)


@pytest.fixture
def worker_backends(
    tmp_path: Path,
    chdb_dsn: str,
    new_database: Callable[[], str],
    queue_url: str,
) -> Iterator[Backends]:
    settings = Settings.load(
        env={},
        data_dir=tmp_path,
        queue_url=queue_url,
        **cluster_settings(chdb_dsn, new_database()),
    )
    backends = open_backends(settings, SystemClock(), frozenset({"worker"}))
    yield backends
    backends.stop()


def test_a_unit_on_every_partition_at_once_and_a_request_beside_them(
    worker_backends: Backends,
) -> None:
    """With the old fixed pool of 8, the ninth unit waits for a connection that the
    first eight hold until all sixteen have started: the barrier breaks."""
    assert worker_backends.queue is not None
    partitions = worker_backends.queue.partitions
    all_started = threading.Barrier(partitions + 1, timeout=_ALL_AT_ONCE_SECONDS)
    may_commit = threading.Event()
    failures: list[BaseException] = []

    def unit(work: IngestUnit) -> None:
        all_started.wait()  # every unit holds its connection and transaction now
        may_commit.wait(_ALL_AT_ONCE_SECONDS)

    def run() -> None:
        try:
            worker_backends.stores.ingest.transact(unit)
        except BaseException as exc:
            failures.append(exc)
            all_started.abort()

    threads = [threading.Thread(target=run) for _ in range(partitions)]
    for thread in threads:
        thread.start()
    try:
        all_started.wait()
        # While every unit holds its connection, the rest of the process still
        # reaches PostgreSQL (the reserve).
        reserve = [worker_backends.stores.projects.all() for _ in range(POOL_RESERVE)]
        assert all(r == reserve[0] for r in reserve)
    finally:
        may_commit.set()
        for thread in threads:
            thread.join()
    assert not failures


def test_the_pool_size_can_be_set(
    tmp_path: Path,
    chdb_dsn: str,
    new_database: Callable[[], str],
    queue_url: str,
) -> None:
    settings = Settings.load(
        env={"MAGPIE_DATABASE_POOL_SIZE": "3"},
        data_dir=tmp_path,
        queue_url=queue_url,
        **cluster_settings(chdb_dsn, new_database()),
    )
    backends = open_backends(settings, SystemClock(), frozenset({"worker"}))
    try:
        pool = backends.stores.ingest._db.pool  # type: ignore[attr-defined]
        assert pool.max_size == 3
    finally:
        backends.stop()
