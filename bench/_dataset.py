"""bench/query.py's events in a Magpie data folder, generated once and reused.

Generating 10M events (and copying them into chdb) takes many minutes; the
funnel and insight benches time queries only, so with ``--data DIR`` they keep
the generated store (and its ClickHouse copy) under ``DIR`` and open it again on
the next run. Without it the store lives in a temporary folder removed at the end.
A folder is reused only when its marker names the same size and span of days.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import query as query_bench
from clickhouse_connect.driver.client import Client

from magpie.app import Magpie
from magpie.clock import Clock
from magpie.settings import Settings
from magpie.store.base import Project
from magpie.store.clickhouse.connection import connect
from tests.clickhouse import copy_store

_READY = "generated"
_CLICKHOUSE_READY = "clickhouse-copied"
_CLICKHOUSE_DATABASE = "bench_events"


@dataclass
class Dataset:
    magpie: Magpie
    project: Project
    folder: Path

    def clickhouse(self) -> tuple[Client, str]:
        """A chdb database holding the same rows (copied on first use, then kept)."""
        marker = self.folder / _CLICKHOUSE_READY
        dsn = f"chdb://{self.folder / 'chdb'}"
        if marker.exists():
            return connect(dsn, _CLICKHOUSE_DATABASE, migrate=False), _CLICKHOUSE_DATABASE
        started = time.perf_counter()
        client = connect(dsn, _CLICKHOUSE_DATABASE)
        copy_store(self.magpie.db.new_cursor(), client)
        client.command(f"OPTIMIZE TABLE {_CLICKHOUSE_DATABASE}.events FINAL")
        marker.touch()
        print(f"  copied them into ClickHouse in {time.perf_counter() - started:.1f} s")
        return client, _CLICKHOUSE_DATABASE


@contextmanager
def dataset(
    events: int, days: int, data: Path | None, clock: Clock | None = None, **settings: Any
) -> Iterator[Dataset]:
    """A store with ``events`` of bench/query.py's events over ``days`` days
    (``clock`` and ``settings``: Magpie's, for the bench)."""
    temporary = data is None
    folder = (
        Path(tempfile.mkdtemp(prefix="magpie-bench-"))
        if data is None
        else data / f"events-{events}-{days}d"
    )
    marker = folder / _READY
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    loaded = Settings.load(
        env={},
        data_dir=folder,
        **{"query_memory_margin": "8GB", "query_timeout_seconds": 900, **settings},
    )
    magpie = Magpie(loaded) if clock is None else Magpie(loaded, clock=clock)
    try:
        if marker.exists():
            project = magpie.projects.all()[0]
            print(f"  reusing {events:,} events in {folder}")
        else:
            project = magpie.projects.create("bench")
            started = time.perf_counter()
            query_bench.DAYS = days  # the generator spreads events over this many days
            query_bench.generate(magpie.db.cursor(), project.id, events)
            print(f"  generated {events:,} events in {time.perf_counter() - started:.1f} s")
            marker.touch()
        stored = magpie.projects.get(project.id)
        assert stored is not None
        yield Dataset(magpie, stored, folder)
    finally:
        magpie.close()
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
