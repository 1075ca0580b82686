"""Two transactions changing the same person at once: one loses the race, rolls
back and retries from a fresh read, so neither update is lost."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import duckdb
import pytest

from magpie.ingest import worker
from magpie.ingest.pipeline import normalize
from magpie.store.duckdb import ingest as duckdb_ingest
from magpie.store.duckdb.ingest import DuckDBIngestStore
from tests.harness import Ingest


def person_update(ingest: Ingest, key: str) -> Any:
    record = ingest.record(ingest.event("$set", "shared-user", **{"$set": {key: True}}))
    return normalize([record]).events


def run_concurrently(ingest: Ingest, monkeypatch: pytest.MonkeyPatch, *, retry: bool) -> list[Any]:
    ingest.send(ingest.event("e", "shared-user"))
    barrier = threading.Barrier(2, timeout=10)
    waited: set[int] = set()
    original_save = duckdb_ingest.DuckDBIngestUnit.save_persons

    def save_after_both_loaded(unit: Any, state: Any, now: datetime) -> None:
        if threading.get_ident() not in waited:  # only the first attempt races
            waited.add(threading.get_ident())
            barrier.wait()
        original_save(unit, state, now)

    monkeypatch.setattr(duckdb_ingest.DuckDBIngestUnit, "save_persons", save_after_both_loaded)
    monkeypatch.setattr(duckdb_ingest, "CONFLICT_RETRIES", 3 if retry else 1)
    outcomes: list[Any] = []

    def apply(key: str) -> None:
        events = person_update(ingest, key)
        store = DuckDBIngestStore(ingest.magpie.db)
        try:
            store.transact(
                lambda unit: worker.apply_persons_and_groups(unit, events, [], datetime(2026, 3, 2))
            )
            outcomes.append("ok")
        except duckdb.TransactionException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=apply, args=(key,)) for key in ("from_a", "from_b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_racing_update_is_refused_not_lost(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = run_concurrently(ingest, monkeypatch, retry=False)
    assert sorted(map(type, outcomes), key=str) == sorted(
        [str, duckdb.TransactionException], key=str
    )
    person = ingest.person("shared-user")
    assert person is not None
    assert ("from_a" in person["properties"]) != ("from_b" in person["properties"])


def test_with_retries_both_updates_land(ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_concurrently(ingest, monkeypatch, retry=True) == ["ok", "ok"]
    person = ingest.person("shared-user")
    assert person is not None
    assert person["properties"]["from_a"] is True and person["properties"]["from_b"] is True
    assert person["version"] == 2
