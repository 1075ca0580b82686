"""Two ingest units changing the same persons at once on PostgreSQL (two workers
whose partitions hold distinct ids of one person): every update lands, and the
outcome is always one consistent person.

Each race is forced: one unit is held between loading and writing until the
other is seen waiting for its locks (or has finished, where nothing is locked),
so a store without the locking rule would let both read the same state."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg.errors
import pytest

from magpie.ingest.persons import person_uuid_for
from magpie.store.base import IngestUnit
from magpie.store.model import EventFilter, PersonRecord
from magpie.store.postgres import PostgresDatabase, PostgresIngestStore
from magpie.store.postgres.conflicts import ConcurrentChange
from magpie.store.postgres.person_reader import PostgresPersonReader
from tests.store.event_table import EventTable
from tests.store.races import Paused, Racer, ingest, raw_event, wait_for_lock_waiter

P = 1


@pytest.fixture
def sink(pg_db: PostgresDatabase) -> EventTable:
    return EventTable(pg_db)


@pytest.fixture
def store(pg_db: PostgresDatabase, sink: EventTable) -> PostgresIngestStore:
    return PostgresIngestStore(pg_db, sink)


def only_once(store: PostgresIngestStore) -> PostgresIngestStore:
    """The same database, without retries: a unit that loses a race fails."""
    return PostgresIngestStore(store._db, store._sink, attempts=1)


def person(db: PostgresDatabase, distinct_id: str) -> PersonRecord:
    reader = PostgresPersonReader(db)
    [found] = reader.list_persons(P, distinct_id=distinct_id)
    full = reader.get_person(P, found.uuid)
    assert full is not None
    return full


def all_persons(db: PostgresDatabase) -> list[PersonRecord]:
    return PostgresPersonReader(db).list_persons(P, limit=1000)


@pytest.fixture
def held() -> Iterator[threading.Event]:
    """Set once the first unit has loaded (and so locked) its persons."""
    yield threading.Event()


def race(
    db: PostgresDatabase,
    first: PostgresIngestStore,
    second: PostgresIngestStore,
    first_events: list[dict],
    second_events: list[dict],
) -> bool:
    """Run two units; the first holds its locks until the second waits for them.
    Returns whether the second was seen waiting."""
    loaded = threading.Event()
    seen_waiting: list[bool] = []

    def hold() -> None:
        if not seen_waiting:  # only the first attempt races
            loaded.set()
            seen_waiting.append(wait_for_lock_waiter(db, timeout=3))

    def run_first() -> None:
        first.transact(lambda unit: ingest(Paused(unit, hold), P, *first_events))

    def run_second() -> None:
        assert loaded.wait(10)
        second.transact(lambda unit: ingest(unit, P, *second_events))

    racers = [Racer(run_first), Racer(run_second)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.outcome()
    return seen_waiting == [True]


def test_two_updates_of_one_person_both_land(
    pg_db: PostgresDatabase, store: PostgresIngestStore
) -> None:
    store.transact(lambda unit: ingest(unit, P, raw_event("e", "shared-user")))
    waited = race(
        pg_db,
        only_once(store),
        only_once(store),
        [raw_event("$set", "shared-user", **{"$set": {"from_a": True}})],
        [raw_event("$set", "shared-user", **{"$set": {"from_b": True}})],
    )
    assert waited, "the second unit did not wait for the person the first had locked"
    found = person(pg_db, "shared-user")
    assert found.properties["from_a"] is True and found.properties["from_b"] is True
    assert found.version == 2


def test_identify_both_ways_at_once_makes_one_person(
    pg_db: PostgresDatabase, store: PostgresIngestStore, sink: EventTable
) -> None:
    """A→B on one partition, B→A on another, both unidentified persons before."""
    store.transact(lambda unit: ingest(unit, P, raw_event("e", "A", x=1), raw_event("e", "B", y=1)))
    waited = race(
        pg_db,
        only_once(store),
        only_once(store),
        [raw_event("$identify", "B", **{"$anon_distinct_id": "A", "$set": {"via": "B"}})],
        [raw_event("$identify", "A", **{"$anon_distinct_id": "B", "$set": {"via_a": 1}})],
    )
    assert waited
    [one] = all_persons(pg_db)
    assert sorted(one.distinct_ids) == ["A", "B"] and one.is_identified
    assert {"via", "via_a"} <= one.properties.keys()
    events = sink.list_events(EventFilter(P, limit=100))
    assert {e.person_id for e in events} == {one.uuid}


def test_merging_two_persons_from_both_sides_at_once_keeps_every_id(
    pg_db: PostgresDatabase, store: PostgresIngestStore, sink: EventTable
) -> None:
    """Persons {A, a2} and {B, b2}; one unit merges the first into the second while
    another merges the second into the first."""
    store.transact(
        lambda unit: ingest(
            unit,
            P,
            raw_event("e", "A", **{"$set": {"side": "a"}}),
            raw_event("$create_alias", "A", alias="a2"),
            raw_event("e", "B", **{"$set": {"side": "b"}}),
            raw_event("$create_alias", "B", alias="b2"),
        )
    )
    assert len(all_persons(pg_db)) == 2
    waited = race(
        pg_db,
        only_once(store),
        only_once(store),
        [raw_event("$merge_dangerously", "B", alias="A")],
        [raw_event("$merge_dangerously", "A", alias="B")],
    )
    assert waited
    [one] = all_persons(pg_db)
    assert sorted(one.distinct_ids) == ["A", "B", "a2", "b2"]
    for distinct_id in ("A", "B", "a2", "b2"):
        assert person(pg_db, distinct_id).uuid == one.uuid
    history = person(pg_db, "A").merge_history or []
    assert [m.kind for m in history].count("merge") == 1
    assert {e.person_id for e in sink.list_events(EventFilter(P, limit=100))} == {one.uuid}
    with pg_db.connection() as connection:
        rows = connection.execute(
            "SELECT distinct_id, person_uuid FROM person_distinct_ids ORDER BY 1"
        ).fetchall()
    assert rows == [(d, one.uuid) for d in ("A", "B", "a2", "b2")]


def test_an_id_moved_by_a_merge_while_waiting_is_followed(
    pg_db: PostgresDatabase, store: PostgresIngestStore
) -> None:
    """One unit merges {A, a2} into B; another, updating the person through a2, waits
    for it, then finds a2 moved and locks the person it moved to."""
    store.transact(
        lambda unit: ingest(
            unit,
            P,
            raw_event("e", "A"),
            raw_event("$create_alias", "A", alias="a2"),
            raw_event("e", "B"),
        )
    )
    waited = race(
        pg_db,
        only_once(store),
        only_once(store),
        [raw_event("$merge_dangerously", "B", alias="A")],
        [raw_event("$set", "a2", **{"$set": {"late": True}})],
    )
    assert waited
    [one] = all_persons(pg_db)
    assert one.uuid == person_uuid_for(P, "B")
    assert sorted(one.distinct_ids) == ["A", "B", "a2"]
    assert one.properties["late"] is True


def test_a_deadlock_between_two_units_is_retried(
    pg_db: PostgresDatabase, store: PostgresIngestStore
) -> None:
    """Each unit locks one person in its first chunk and the other's in its second:
    PostgreSQL aborts one, and the store runs it again."""
    store.transact(lambda unit: ingest(unit, P, raw_event("e", "a"), raw_event("e", "b")))
    barrier = threading.Barrier(2, timeout=10)
    attempts: dict[str, int] = {"x": 0, "y": 0}

    def unit_of(name: str, first: str, second: str) -> object:
        def work(unit: IngestUnit) -> None:
            attempts[name] += 1
            ingest(unit, P, raw_event("$set", first, **{"$set": {name: 1}}))
            if attempts[name] == 1:
                barrier.wait()
            ingest(unit, P, raw_event("$set", second, **{"$set": {name: 1}}))

        return lambda: store.transact(work)

    racers = [Racer(unit_of("x", "a", "b")), Racer(unit_of("y", "b", "a"))]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.outcome()
    assert sorted(attempts.values()) == [1, 2]
    for distinct_id in ("a", "b"):
        found = person(pg_db, distinct_id)
        assert found.properties["x"] == 1 and found.properties["y"] == 1
        assert found.version == 2


def test_without_retries_a_deadlock_is_reported(
    pg_db: PostgresDatabase, store: PostgresIngestStore
) -> None:
    store.transact(lambda unit: ingest(unit, P, raw_event("e", "a"), raw_event("e", "b")))
    barrier = threading.Barrier(2, timeout=10)
    once = only_once(store)

    def unit_of(name: str, first: str, second: str) -> object:
        def work(unit: IngestUnit) -> None:
            ingest(unit, P, raw_event("$set", first, **{"$set": {name: 1}}))
            barrier.wait()
            ingest(unit, P, raw_event("$set", second, **{"$set": {name: 1}}))

        return lambda: once.transact(work)

    racers = [Racer(unit_of("x", "a", "b")), Racer(unit_of("y", "b", "a"))]
    for racer in racers:
        racer.start()
    outcomes = []
    for racer in racers:
        try:
            racer.outcome()
            outcomes.append("ok")
        except psycopg.errors.DeadlockDetected:
            outcomes.append("deadlock")
    assert sorted(outcomes) == ["deadlock", "ok"]
    # The loser's changes were undone whole: each person has one unit's update.
    assert {tuple(sorted(k for k in person(pg_db, d).properties if len(k) == 1)) for d in "ab"} in (
        {("x",)},
        {("y",)},
    )


@pytest.mark.parametrize("merge_first", [True, False])
def test_an_anonymous_event_and_a_merge_of_its_new_id_meet(
    pg_db: PostgresDatabase, store: PostgresIngestStore, sink: EventTable, merge_first: bool
) -> None:
    """``d`` has never been seen. One worker stores d's first anonymous event while
    another identifies d with user u. Nothing exists to lock; whichever commits
    second must see the other's row, so d's event ends with u's person."""
    anonymous = [raw_event("$pageview", "d", **{"$process_person_profile": False})]
    identify = [raw_event("$identify", "u", **{"$anon_distinct_id": "d"})]
    held, other_done = threading.Event(), threading.Event()
    paused: list[str] = []

    def hold() -> None:
        if not paused:
            paused.append("held")
            held.set()
            assert other_done.wait(10)

    first, second = (identify, anonymous) if merge_first else (anonymous, identify)

    def run_first() -> None:
        store.transact(lambda unit: ingest(Paused(unit, hold), P, *first))

    def run_second() -> None:
        assert held.wait(10)
        store.transact(lambda unit: ingest(unit, P, *second))
        other_done.set()

    racers = [Racer(run_first), Racer(run_second)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.outcome()
    [one] = all_persons(pg_db)
    assert sorted(one.distinct_ids) == ["d", "u"]
    events = sink.list_events(EventFilter(P, limit=100))
    assert len(events) == 2
    assert {e.person_id for e in events} == {one.uuid}


def test_a_group_changed_by_two_units_keeps_both_changes(
    pg_db: PostgresDatabase, store: PostgresIngestStore
) -> None:
    def identify_group(distinct_id: str, **props: object) -> dict:
        return raw_event(
            "$groupidentify",
            distinct_id,
            **{"$group_type": "company", "$group_key": "acme", "$group_set": props},
        )

    store.transact(lambda unit: ingest(unit, P, identify_group("u0", plan="free")))
    held, other_done = threading.Event(), threading.Event()
    attempts: list[int] = []

    def hold() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            held.set()
            assert other_done.wait(10)

    def run_first() -> None:
        store.transact(
            lambda unit: ingest(Paused(unit, before_groups=hold), P, identify_group("u1", a=1))
        )

    def run_second() -> None:
        assert held.wait(10)
        store.transact(lambda unit: ingest(unit, P, identify_group("u2", b=2)))
        other_done.set()

    racers = [Racer(run_first), Racer(run_second)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.outcome()
    assert len(attempts) == 2  # the first lost the compare-and-set and ran again
    state = store.transact(lambda unit: unit.load_groups({P}, {(P, "company", "acme")}))
    group = state.groups[(P, 0, "acme")]
    assert group.properties == {"plan": "free", "a": 1, "b": 2}
    assert group.version == 2


def test_a_lost_group_race_without_retries_is_refused_not_lost(
    pg_db: PostgresDatabase, store: PostgresIngestStore
) -> None:
    held, other_done = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        assert other_done.wait(10)

    def run_first() -> None:
        event = raw_event("e", "u1", **{"$groups": {"org": "x"}})
        only_once(store).transact(lambda unit: ingest(Paused(unit, before_groups=hold), P, event))

    def run_second() -> None:
        assert held.wait(10)
        store.transact(
            lambda unit: ingest(unit, P, raw_event("e", "u2", **{"$groups": {"team": "y"}}))
        )
        other_done.set()

    racers = [Racer(run_first), Racer(run_second)]
    for racer in racers:
        racer.start()
    with pytest.raises(ConcurrentChange):
        racers[0].outcome()
    racers[1].outcome()
    # Two new group types, one number: the second to write it had to go again.
    state = store.transact(lambda unit: unit.load_groups({P}, set()))
    assert state.type_index == {(P, "team"): 0}
