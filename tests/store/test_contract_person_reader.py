"""PersonReader: listing, searching, paging and one person's history, the same on
every backend (and a whole scenario read back alike from both)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from magpie.store.model import PersonRecord
from tests.store.conftest import Backend, make_backend
from tests.store.test_contract_persons import World


@pytest.fixture
def world(backend: Backend) -> World:
    return World(backend)


def shop(world: World) -> None:
    """Three persons made an hour apart, one of them merged from two."""
    world.send(
        world.event("e", "ada", **{"$set": {"email": "ada@example.com", "plan": "pro"}}),
        world.event("e", "bob", after=timedelta(hours=1), **{"$set": {"email": "bob@corp.io"}}),
        world.event("$pageview", "anon-c", anonymous=True, after=timedelta(hours=1)),
        world.identify("anon-c", "cy", **{"$set": {"name": "Cy"}}),
    )


def test_persons_are_listed_newest_first(world: World) -> None:
    shop(world)
    listed = world.backend.stores.persons.list_persons(world.project)
    assert [p.uuid for p in listed] == [
        world.uuid5("anon-c"),
        world.uuid5("bob"),
        world.uuid5("ada"),
    ]
    assert all(p.merge_history is None for p in listed)
    assert sorted(listed[0].distinct_ids) == ["anon-c", "cy"]


def test_ties_in_creation_time_are_listed_by_uuid(world: World) -> None:
    world.send(*(world.event("e", f"user-{i}", after=timedelta(0)) for i in range(6)))
    listed = world.backend.stores.persons.list_persons(world.project)
    assert [p.uuid for p in listed] == sorted(p.uuid for p in listed)
    assert len({p.created_at for p in listed}) == 1


def test_paging_through_persons(world: World) -> None:
    shop(world)
    reader = world.backend.stores.persons
    assert [p.uuid for p in reader.list_persons(world.project, limit=2)] == [
        world.uuid5("anon-c"),
        world.uuid5("bob"),
    ]
    assert [p.uuid for p in reader.list_persons(world.project, limit=2, offset=2)] == [
        world.uuid5("ada")
    ]
    assert reader.list_persons(world.project, offset=3) == []


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("example.com", ["ada"]),
        ("EXAMPLE", ["ada"]),
        ("corp", ["bob"]),
        ("anon-", ["anon-c"]),  # a distinct id matches
        ("cy", ["anon-c"]),
        ("@", ["bob", "ada"]),
        ("pro", ["ada"]),
        ("nobody", []),
    ],
)
def test_searching_properties_and_distinct_ids(world: World, search: str, found: list[str]) -> None:
    shop(world)
    listed = world.backend.stores.persons.list_persons(world.project, search=search)
    assert [p.uuid for p in listed] == [world.uuid5(d) for d in found]


def test_a_distinct_id_finds_its_person_only(world: World) -> None:
    shop(world)
    reader = world.backend.stores.persons
    [cy] = reader.list_persons(world.project, distinct_id="cy")
    assert cy.uuid == world.uuid5("anon-c")
    assert reader.list_persons(world.project, distinct_id="nobody") == []
    assert reader.list_persons(world.project, distinct_id="cy", search="example") == []
    other = world.backend.stores.projects.create("other").id
    assert reader.list_persons(other, distinct_id="cy") == []
    assert reader.list_persons(other) == []


def test_one_person_with_its_merge_history(world: World) -> None:
    ids = world.send(
        world.event("e", "a", **{"$set": {"x": 1}}),
        world.event("$pageview", "device", anonymous=True),
        world.identify("device", "a"),
        world.event("e", "b"),
        world.identify("b", "a"),
    )
    reader = world.backend.stores.persons
    person = reader.get_person(world.project, world.uuid5("a"))
    assert person is not None
    assert person.distinct_ids == ["a", "b", "device"]  # by row version, then id
    history = person.merge_history or []
    assert [(m.kind, m.distinct_ids) for m in history] == [
        ("attach", ["device"]),
        ("merge", ["b"]),
    ]
    assert [m.event_uuid for m in history] == [uuid.UUID(ids[2]), uuid.UUID(ids[4])]
    assert history[1].source_person_uuid == world.uuid5("b")
    assert all(m.target_person_uuid == person.uuid for m in history)
    assert all(m.recorded_at >= m.event_timestamp for m in history)
    assert reader.get_person(world.project, world.uuid5("b")) is None
    assert reader.get_person(world.project, uuid.uuid4()) is None
    other = world.backend.stores.projects.create("other").id
    assert reader.get_person(other, person.uuid) is None


def scenario(world: World) -> None:
    shop(world)
    world.send(
        world.event("e", "dee", **{"$set_once": {"first": "x"}, "$set": {"n": [1, {"a": None}]}}),
        world.event("$create_alias", "dee", alias="dee-2"),
        world.event("e", "bob", **{"$unset": ["email"], "$set": {"plan": "team"}}),
        world.identify("ada", "bob"),  # ada was never identified: merged into bob
        world.event("$merge_dangerously", "cy", alias="dee"),
        world.identify("null", "cy"),
    )


def readable(person: PersonRecord | None) -> dict[str, Any]:
    assert person is not None
    return {
        **vars(person),
        "merge_history": [vars(m) for m in person.merge_history or []],
    }


def test_both_backends_read_back_the_same_scenario(tmp_path: Path, new_database: Any) -> None:
    results = []
    for name in ("duckdb", "postgres"):
        backend = make_backend(name, tmp_path / name, new_database)
        try:
            world = World(backend)
            scenario(world)
            reader = backend.stores.persons
            persons = reader.list_persons(world.project)
            results.append(
                {
                    "persons": [
                        readable(reader.get_person(world.project, p.uuid)) for p in persons
                    ],
                    "warnings": [
                        (w.type, w.details, w.timestamp)
                        for w in reader.list_warnings(world.project)
                    ],
                }
            )
        finally:
            backend.close()
    duck, postgres = results
    assert sorted(sorted(p["distinct_ids"]) for p in duck["persons"]) == [
        ["ada", "bob"],
        ["anon-c", "cy", "dee", "dee-2"],
    ]
    assert [w[0] for w in duck["warnings"]] == ["cannot_merge_with_illegal_distinct_id"]
    # recorded_at is the worker's clock, the same frozen instant on both.
    assert postgres == duck
