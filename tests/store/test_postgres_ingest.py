"""What the PostgreSQL ingest unit does beyond the contract: positions that fence
off a worker whose partition was taken over, and text PostgreSQL cannot hold."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
import pytest

from magpie.errors import ServiceUnavailable
from magpie.store.base import IngestUnit
from magpie.store.model import UsageCount
from magpie.store.postgres import PostgresDatabase, PostgresIngestStore
from magpie.store.postgres.billing import PostgresBillingStore
from magpie.store.postgres.ingest_log import ConsumerTakenOver
from magpie.store.postgres.person_reader import PostgresPersonReader
from tests.store.event_table import EventTable
from tests.store.races import ingest, raw_event

P = 1
DAY = date(2026, 3, 1)


@pytest.fixture
def sink(pg_db: PostgresDatabase) -> EventTable:
    return EventTable(pg_db)


def test_a_worker_whose_partition_was_taken_over_cannot_commit(
    pg_db: PostgresDatabase, sink: EventTable
) -> None:
    old, new = PostgresIngestStore(pg_db, sink), PostgresIngestStore(pg_db, sink)
    old.transact(lambda unit: unit.save_position("ingest:3", 100))
    assert old.position("ingest:3") == new.position("ingest:3") == 100
    new.transact(lambda unit: unit.save_position("ingest:3", 250))

    def replay(unit: IngestUnit) -> None:
        unit.add_usage([UsageCount(P, DAY, "web", "1", "anonymous", "", 7)])
        unit.save_position("ingest:3", 180)

    with pytest.raises(ConsumerTakenOver):
        old.transact(replay)
    with pytest.raises(ConsumerTakenOver):
        old.dead_letter("ingest:3", 100, 180, b"{}", "boom", datetime(2026, 3, 1))
    assert new.position("ingest:3") == 250
    assert PostgresBillingStore(pg_db).usage_rows(P, DAY, date(2026, 3, 2)) == []
    # Once it has read the position again (taking the partition back), it goes on.
    assert old.position("ingest:3") == 250
    old.transact(lambda unit: unit.save_position("ingest:3", 300))
    assert new.position("ingest:3") == 300


def test_two_workers_claiming_a_new_partition_at_once_commit_once(
    pg_db: PostgresDatabase, sink: EventTable
) -> None:
    first, second = PostgresIngestStore(pg_db, sink), PostgresIngestStore(pg_db, sink)
    assert first.position("ingest:9") == second.position("ingest:9") == 0
    first.transact(lambda unit: unit.save_position("ingest:9", 40))
    with pytest.raises(ConsumerTakenOver):
        second.transact(lambda unit: unit.save_position("ingest:9", 40))


def test_a_unit_moves_its_position_more_than_once(
    pg_db: PostgresDatabase, sink: EventTable
) -> None:
    store = PostgresIngestStore(pg_db, sink)
    assert store.position("ingest") == 0

    def chunks(unit: IngestUnit) -> None:
        for position in (10, 20, 30):
            unit.save_position("ingest", position)

    store.transact(chunks)
    store.transact(lambda unit: unit.save_position("ingest", 45))
    assert store.position("ingest") == 45


def test_nul_characters_are_stored_as_replacement_characters(
    pg_db: PostgresDatabase, sink: EventTable
) -> None:
    """A merge's alias is not cleaned by capture as distinct ids are; properties and
    warnings may hold NUL too. PostgreSQL cannot, so they become U+FFFD, the way
    capture writes such an event's own distinct id."""
    store = PostgresIngestStore(pg_db, sink)
    store.transact(
        lambda unit: ingest(
            unit,
            P,
            raw_event("e", "user", **{"$set": {"na\x00me": "a\x00b", "list": ["\x00"]}}),
            raw_event("$create_alias", "user", alias="al\x00ias"),
            raw_event("$create_alias", "user", alias="al\x00ias"),
        )
    )
    reader = PostgresPersonReader(pg_db)
    [person] = reader.list_persons(P)
    assert person.properties["na\ufffdme"] == "a\ufffdb"
    assert person.properties["list"] == ["\ufffd"]
    assert sorted(person.distinct_ids) == ["al\ufffdias", "user"]
    # Found again by its id as sent, in a later unit.
    store.transact(
        lambda unit: ingest(unit, P, raw_event("$create_alias", "user", alias="al\x00ias"))
    )
    assert [p.uuid for p in reader.list_persons(P, distinct_id="al\x00ias")] == [person.uuid]
    # A search for NUL looks for what it was stored as, instead of failing.
    assert [p.uuid for p in reader.list_persons(P, search="\x00")] == [person.uuid]


def test_a_commit_whose_answer_was_lost_is_known_by_its_position(
    pg_db: PostgresDatabase, sink: EventTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresIngestStore(pg_db, sink)
    assert store.position("ingest") == 0
    original = psycopg.Transaction.__exit__

    def commit_then_lose_the_answer(self: psycopg.Transaction, *exc: Any) -> bool:
        result = original(self, *exc)
        if exc[0] is None:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return result

    monkeypatch.setattr(psycopg.Transaction, "__exit__", commit_then_lose_the_answer)
    assert store.transact(lambda unit: (unit.save_position("ingest", 70), "done")[1]) == "done"
    monkeypatch.undo()
    # The store knows it moved the position, so the next unit moves it on from there.
    store.transact(lambda unit: unit.save_position("ingest", 90))
    assert store.position("ingest") == 90


def test_a_commit_that_really_failed_is_reported(pg_db: PostgresDatabase, sink: EventTable) -> None:
    store = PostgresIngestStore(pg_db, sink)
    assert store.position("ingest") == 0

    def cut_off(unit: IngestUnit) -> None:
        unit.add_usage([UsageCount(P, DAY, "web", "1", "anonymous", "", 7)])
        unit.save_position("ingest", 70)
        pid = unit._connection.info.backend_pid  # type: ignore[attr-defined]
        with pg_db.connection() as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))

    # A lost connection is an outage, not the records' fault: the worker keeps them.
    with pytest.raises(ServiceUnavailable):
        store.transact(cut_off)
    assert store.position("ingest") == 0
    assert PostgresBillingStore(pg_db).usage_rows(P, DAY, date(2026, 3, 2)) == []
    # The pool replaces the dead connection; the records go again and land once.
    store.transact(lambda unit: unit.save_position("ingest", 70))
    assert store.position("ingest") == 70
