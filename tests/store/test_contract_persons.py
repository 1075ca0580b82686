"""Persons through the real ingest rules (PersonRules and GroupRules over state the
unit loads and saves), read back through the person reader: the same on every
backend. Most scenarios send each event as its own unit, so that state goes
through the store between events; some also send them all in one unit."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from magpie.ingest.persons import person_uuid_for
from magpie.store.model import EventFilter, PersonRecord, StoredEvent
from magpie.store.state import GroupState
from tests.store.conftest import Backend
from tests.store.feed import Feed

SPLITS = ["unit-per-event", "one-unit"]


class World:
    """One project on one backend, fed by a real worker."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.project = backend.stores.projects.create("test").id
        self.feed: Feed = backend.feed()

    def event(self, name: str, distinct_id: str, /, **kwargs: Any) -> dict[str, Any]:
        return self.feed.event(name, distinct_id, **kwargs)

    def identify(self, anon: str, user: str, **props: Any) -> dict[str, Any]:
        return self.event("$identify", user, **{"$anon_distinct_id": anon, **props})

    def send(self, *events: dict[str, Any], split: str = "unit-per-event") -> list[str]:
        if split == "one-unit":
            return self.feed.send(self.project, *events)
        return [u for e in events for u in self.feed.send(self.project, e)]

    def person(self, distinct_id: str) -> PersonRecord | None:
        reader = self.backend.stores.persons
        found = reader.list_persons(self.project, distinct_id=distinct_id)
        return reader.get_person(self.project, found[0].uuid) if found else None

    def the_person(self, distinct_id: str) -> PersonRecord:
        person = self.person(distinct_id)
        assert person is not None, f"no person has {distinct_id!r}"
        return person

    def persons(self) -> list[PersonRecord]:
        return self.backend.stores.persons.list_persons(self.project, limit=1000)

    def stored(self, event_uuid: str) -> StoredEvent:
        events = self.backend.stores.events.list_events(EventFilter(self.project, limit=1000))
        return next(e for e in events if str(e.uuid) == event_uuid)

    def warning_types(self) -> list[str]:
        return sorted(w.type for w in self.backend.stores.persons.list_warnings(self.project))

    def uuid5(self, distinct_id: str) -> uuid.UUID:
        return person_uuid_for(self.project, distinct_id)

    def groups(self, *keys: tuple[str, str]) -> GroupState:
        wanted = {(self.project, t, k) for t, k in keys}
        return self.backend.stores.ingest.transact(
            lambda unit: unit.load_groups({self.project}, wanted)
        )


@pytest.fixture
def world(backend: Backend) -> World:
    return World(backend)


def test_a_person_processed_event_creates_a_person(world: World) -> None:
    [first] = world.send(
        world.event(
            "$pageview",
            "user-1",
            **{"$set": {"email": "a@example.com"}, "$set_once": {"plan": "free"}},
        )
    )
    person = world.the_person("user-1")
    assert person.uuid == world.uuid5("user-1")
    assert person.is_identified is False and person.version == 0
    assert person.distinct_ids == ["user-1"]
    assert person.properties["email"] == "a@example.com"
    assert person.properties["plan"] == "free"
    assert person.properties["$creator_event_uuid"] == first
    assert person.created_at == world.stored(first).timestamp
    stored = world.stored(first)
    assert (stored.person_mode, stored.person_id) == ("full", person.uuid)


def test_set_set_once_and_unset_across_units(world: World) -> None:
    world.send(world.event("e", "u", **{"$set": {"a": 1, "b": 1}, "$set_once": {"c": 1}}))
    world.send(
        world.event("e", "u", **{"$set": {"a": 2}, "$set_once": {"c": 2, "d": 2}, "$unset": ["b"]})
    )
    world.send(world.event("e", "u", **{"$set_once": {"a": 9}, "$set": {"c": 3, "e": None}}))
    person = world.the_person("u")
    mine = {k: v for k, v in person.properties.items() if not k.startswith("$")}
    assert mine == {"a": 2, "c": 3, "d": 2, "e": None}
    assert person.version == 2
    world.send(world.event("e", "u", **{"$set_once": {"e": "x"}, "$unset": {"c": 1}}))
    person = world.the_person("u")
    assert person.properties["e"] is None and "c" not in person.properties
    assert person.version == 3


def test_nested_and_unusual_property_values_round_trip(world: World) -> None:
    value = {"list": [1, 2.5, "x", None, {"deep": [True]}], "ü": "ñ", "big": 2**60, "f": 0.1}
    world.send(world.event("e", "u", **{"$set": {"doc": value, 'quote"key': "a\\b"}}))
    person = world.the_person("u")
    assert person.properties["doc"] == value
    assert person.properties['quote"key'] == "a\\b"


def test_last_seen_is_the_hour_of_the_latest_event(world: World) -> None:
    world.send(world.event("e", "u", after=timedelta(minutes=130)))
    world.send(world.event("e", "u", after=timedelta(minutes=5)))
    person = world.the_person("u")
    assert person.last_seen_at == datetime(2026, 3, 1, 14, 0)


def test_anonymous_events_make_no_person(world: World) -> None:
    [event_uuid] = world.send(world.event("$pageview", "anon", anonymous=True))
    assert world.persons() == []
    stored = world.stored(event_uuid)
    assert stored.person_mode == "propertyless" and stored.person_id == world.uuid5("anon")


@pytest.mark.parametrize("split", SPLITS)
def test_identify_after_anonymous_browsing(world: World, split: str) -> None:
    ids = world.send(
        world.event("$pageview", "anon", anonymous=True),
        world.identify("anon", "user@example.com", **{"$set": {"email": "user@example.com"}}),
        world.event("$pageview", "user@example.com"),
        split=split,
    )
    person = world.the_person("user@example.com")
    # The id with past events names the person, so they need no override.
    assert person.uuid == world.uuid5("anon")
    assert sorted(person.distinct_ids) == ["anon", "user@example.com"]
    assert person.is_identified and person.properties["email"] == "user@example.com"
    assert {world.stored(u).person_id for u in ids} == {person.uuid}
    assert [m.kind for m in person.merge_history or []] == ["create"]
    assert world.the_person("anon").uuid == person.uuid


@pytest.mark.parametrize("split", SPLITS)
def test_identify_into_a_person_repoints_past_anonymous_events(world: World, split: str) -> None:
    past = world.send(
        world.event("$pageview", "user", **{"$set": {"name": "Ada"}}),
        world.event("$pageview", "device-2", anonymous=True),
        split=split,
    )
    world.send(world.identify("device-2", "user"), split=split)
    person = world.the_person("user")
    assert person.uuid == world.uuid5("user")
    assert sorted(person.distinct_ids) == ["device-2", "user"]
    assert person.distinct_ids == ["user", "device-2"]  # by row version: the override is 1
    anonymous = world.stored(past[1])
    assert anonymous.person_mode == "propertyless" and anonymous.person_id == person.uuid
    [attach] = person.merge_history or []
    assert (attach.kind, attach.distinct_ids, attach.source_person_uuid) == (
        "attach",
        ["device-2"],
        None,
    )


def test_both_ids_used_anonymously_keep_their_events(world: World) -> None:
    ids = world.send(
        world.event("e", "a", anonymous=True),
        world.event("e", "b", anonymous=True),
        world.identify("a", "b"),
    )
    person = world.the_person("a")
    assert person.uuid == world.uuid5("b")
    assert {world.stored(u).person_id for u in ids} == {person.uuid}


@pytest.mark.parametrize("split", SPLITS)
def test_two_unidentified_persons_merge_into_one(world: World, split: str) -> None:
    ids = world.send(
        world.event("e", "a", **{"$set": {"shared": "from-a", "only_a": 1}}),
        world.event("e", "b", after=timedelta(hours=1), **{"$set": {"shared": "from-b"}}),
        world.identify("a", "b", **{"$set": {"after": True}}),
        split=split,
    )
    person = world.the_person("b")
    assert person.uuid == world.uuid5("b") and sorted(person.distinct_ids) == ["a", "b"]
    props = person.properties
    assert (props["shared"], props["only_a"], props["after"]) == ("from-b", 1, True)
    assert person.created_at == datetime(2026, 3, 1, 12, 0, 1)
    assert [p.uuid for p in world.persons()] == [person.uuid]
    assert world.backend.stores.persons.get_person(world.project, world.uuid5("a")) is None
    assert {world.stored(u).person_id for u in ids} == {person.uuid}
    merge = (person.merge_history or [])[-1]
    assert (merge.kind, merge.source_person_uuid, merge.distinct_ids) == (
        "merge",
        world.uuid5("a"),
        ["a"],
    )
    assert merge.target_person_uuid == person.uuid
    assert merge.event == "$identify" and merge.event_uuid == uuid.UUID(ids[2])


def test_a_chain_of_merges_moves_every_id(world: World) -> None:
    ids = world.send(
        world.event("e", "a1"),
        world.event("e", "a2", anonymous=True),
        world.identify("a2", "a1"),
        world.event("e", "b1"),
        world.identify("b1", "a1"),
    )
    person = world.the_person("a2")
    assert sorted(person.distinct_ids) == ["a1", "a2", "b1"]
    assert {world.stored(u).person_id for u in ids} == {person.uuid}
    assert len(world.persons()) == 1
    assert [m.kind for m in person.merge_history or []] == ["attach", "merge"]


def test_merging_an_identified_person_is_refused(world: World) -> None:
    world.send(
        world.identify("anon-1", "alice"),
        world.event("e", "bob"),
        world.identify("alice", "bob"),
    )
    assert world.the_person("alice").uuid != world.the_person("bob").uuid
    assert world.the_person("bob").is_identified
    assert world.warning_types() == ["cannot_merge_already_identified"]


def test_merge_dangerously_and_alias(world: World) -> None:
    world.send(
        world.identify("anon-1", "alice"),
        world.event("e", "bob"),
        world.event("$merge_dangerously", "bob", alias="alice"),
        world.event("$create_alias", "bob", alias="bobby"),
    )
    person = world.the_person("bobby")
    assert sorted(person.distinct_ids) == ["alice", "anon-1", "bob", "bobby"]
    assert world.warning_types() == []


def test_illegal_ids_are_not_merged(world: World) -> None:
    world.send(world.event("e", "user"), world.identify("null", "user"))
    assert world.the_person("user").distinct_ids == ["user"]
    assert world.person("null") is None
    assert world.warning_types() == ["cannot_merge_with_illegal_distinct_id"]


def test_force_upgrade_attributes_anonymous_events_to_the_person(world: World) -> None:
    world.send(world.event("e", "user"))
    [late] = world.send(world.event("e", "user", anonymous=True, after=timedelta(hours=2)))
    stored = world.stored(late)
    assert (stored.person_mode, stored.person_id) == ("force_upgrade", world.uuid5("user"))
    assert world.the_person("user").last_seen_at == datetime(2026, 3, 1, 14, 0)


@pytest.mark.parametrize("split", SPLITS)
def test_groups_are_created_numbered_and_updated(world: World, split: str) -> None:
    world.send(
        world.event(
            "$groupidentify",
            "u",
            **{"$group_type": "company", "$group_key": "acme", "$group_set": {"plan": "pro"}},
        ),
        world.event("e", "u", **{"$groups": {"company": "acme", "project": "p1"}}),
        world.event(
            "$groupidentify",
            "u",
            **{"$group_type": "company", "$group_key": "acme", "$group_set": {"seats": 5}},
        ),
        world.event(
            "$groupidentify",
            "u",
            **{"$group_type": "company", "$group_key": "acme", "$group_set": {"seats": 5}},
        ),
        split=split,
    )
    state = world.groups(("company", "acme"), ("project", "p1"), ("company", "nobody"))
    assert state.type_index == {(world.project, "company"): 0, (world.project, "project"): 1}
    group = state.groups[(world.project, 0, "acme")]
    assert group.properties == {"plan": "pro", "seats": 5}
    assert group.version == 1
    assert set(state.groups) == {(world.project, 0, "acme")}


def test_a_sixth_group_type_is_refused_with_a_warning(world: World) -> None:
    world.send(world.event("e", "u", **{"$groups": {f"t{i}": "k" for i in range(5)}}))
    world.send(world.event("e", "u", **{"$groups": {"t5": "k", "t0": "k"}}))
    state = world.groups()
    assert sorted(state.type_index.values()) == [0, 1, 2, 3, 4]
    assert world.warning_types() == ["group_type_limit_reached"]
