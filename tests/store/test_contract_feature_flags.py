"""FeatureFlagStore: flags, versions, soft delete and what evaluation reads, alike on
DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from magpie.store.base import FeatureFlagStore
from magpie.store.model import FeatureFlag
from tests.store.conftest import Backend
from tests.store.test_contract_persons import World

FILTERS = {"groups": [{"properties": [], "rollout_percentage": 50}]}


@pytest.fixture
def world(backend: Backend) -> World:
    return World(backend)


def flags(world: World) -> FeatureFlagStore:
    return world.backend.stores.feature_flags


def new(world: World, key: str = "beta", **fields: Any) -> FeatureFlag:
    values: dict[str, Any] = {
        "name": "Beta",
        "filters": FILTERS,
        "active": True,
        "ensure_experience_continuity": False,
        "changed_by": "ada@example.com",
        **fields,
    }
    return flags(world).create(world.project, key, **values)


def test_a_flag_is_created_read_and_listed(world: World) -> None:
    made = new(world)
    assert (made.key, made.name, made.filters, made.version, made.deleted) == (
        "beta",
        "Beta",
        FILTERS,
        1,
        False,
    )
    assert made.created_by == "ada@example.com"
    assert made.created_at == made.updated_at == world.backend.clock.now().replace(tzinfo=None)
    assert flags(world).get(world.project, made.id) == made
    second = new(world, "second")
    assert [f.key for f in flags(world).list(world.project)] == ["beta", "second"]
    assert flags(world).get(world.project, second.id + 1000) is None


def test_flags_belong_to_their_project(world: World) -> None:
    made = new(world)
    other = world.backend.stores.projects.create("other").id
    assert flags(world).get(other, made.id) is None
    assert flags(world).list(other) == []
    assert flags(world).update(other, made.id, None, name="x") is None
    assert not flags(world).delete(other, made.id, None)
    # the same key in another project is another flag
    assert (
        flags(world)
        .create(
            other,
            "beta",
            name="",
            filters={},
            active=True,
            ensure_experience_continuity=False,
            changed_by=None,
        )
        .project_id
        == other
    )


def test_a_key_is_unique_among_flags_not_deleted(world: World) -> None:
    made = new(world)
    with pytest.raises(ValueError, match="beta"):
        new(world)
    other = new(world, "other")
    with pytest.raises(ValueError, match="beta"):
        flags(world).update(world.project, other.id, None, key="beta")
    assert flags(world).delete(world.project, made.id, "bob")
    assert not flags(world).delete(world.project, made.id, "bob")
    again = new(world)  # a deleted flag gives its key up
    assert again.id != made.id
    assert [f.id for f in flags(world).list(world.project)] == [other.id, again.id]
    gone = flags(world).get(world.project, made.id)
    assert gone is not None and gone.deleted and gone.version == 2


def test_every_change_is_a_version_with_who_and_when(world: World) -> None:
    made = new(world)
    world.backend.clock.set(world.backend.clock.now() + timedelta(minutes=5))
    changed = flags(world).update(
        world.project, made.id, "bob@example.com", active=False, key="beta-2"
    )
    assert changed is not None
    assert (changed.key, changed.active, changed.version) == ("beta-2", False, 2)
    assert changed.updated_at > changed.created_at
    flags(world).delete(world.project, made.id, "cy@example.com")
    versions = flags(world).versions(world.project, made.id)
    assert [(v.version, v.changed_by) for v in versions] == [
        (1, "ada@example.com"),
        (2, "bob@example.com"),
        (3, "cy@example.com"),
    ]
    assert versions[0].state == {
        "key": "beta",
        "name": "Beta",
        "filters": FILTERS,
        "active": True,
        "ensure_experience_continuity": False,
        "is_remote_configuration": False,
        "deleted": False,
    }
    assert (versions[1].state["key"], versions[1].state["active"]) == ("beta-2", False)
    assert versions[2].state["deleted"] is True
    assert versions[1].changed_at == changed.updated_at
    # the old key was given up by the rename
    assert new(world).key == "beta"


def test_a_flag_is_a_remote_configuration_when_made_or_changed_so(world: World) -> None:
    assert not new(world).is_remote_configuration
    made = new(world, "config", is_remote_configuration=True)
    assert made.is_remote_configuration
    assert flags(world).get(world.project, made.id) == made
    changed = flags(world).update(world.project, made.id, "bob", is_remote_configuration=False)
    assert changed is not None and not changed.is_remote_configuration
    versions = flags(world).versions(world.project, made.id)
    assert [v.state["is_remote_configuration"] for v in versions] == [True, False]


def test_the_revision_grows_with_every_change(world: World) -> None:
    seen = [flags(world).revision(world.project)]
    made = new(world)
    seen.append(flags(world).revision(world.project))
    flags(world).update(world.project, made.id, None, filters={"groups": []})
    seen.append(flags(world).revision(world.project))
    flags(world).delete(world.project, made.id, None)
    seen.append(flags(world).revision(world.project))
    assert seen == sorted(set(seen))


def test_context_reads_persons_groups_and_types(world: World) -> None:
    world.send(
        world.event("$pageview", "anon-1", anonymous=True),
        world.identify("anon-1", "ada", **{"$set": {"plan": "pro", "seats": 5}}),
        world.event(
            "$groupidentify",
            "ada",
            **{"$group_type": "company", "$group_key": "acme", "$group_set": {"size": 20}},
        ),
    )
    found = flags(world).context(
        world.project, ["ada", "nobody"], {"company": "acme", "project": "x"}
    )
    person_uuid, properties = found.persons["ada"]
    assert person_uuid == world.the_person("ada").uuid
    assert properties["plan"] == "pro" and properties["seats"] == 5
    assert "nobody" not in found.persons
    assert found.group_types == {0: "company"}
    assert found.groups == {"company": {"size": 20}}
    assert flags(world).group_types(world.project) == {0: "company"}
    assert flags(world).context(world.project, ["anon-1"], {}).persons["anon-1"][0] == person_uuid


def test_the_first_hash_key_an_id_gets_is_kept(world: World) -> None:
    world.send(world.event("e", "bob"))
    store = flags(world)
    store.add_hash_keys(world.project, ["ada", "anon-1"], ["exp", "other"], "anon-1")
    store.add_hash_keys(world.project, ["ada"], ["exp", "third"], "anon-2")
    # no person is needed: /flags comes right after identify, before ingestion
    assert store.context(world.project, ["ada"], {}).hash_keys == {
        "exp": "anon-1",
        "other": "anon-1",
        "third": "anon-2",
    }
    assert store.context(world.project, ["bob"], {}).hash_keys == {}


def test_hash_keys_of_the_first_id_come_first(world: World) -> None:
    flags(world).add_hash_keys(world.project, ["ada"], ["exp"], "anon-1")
    flags(world).add_hash_keys(world.project, ["phone"], ["exp", "only-phone"], "phone")
    found = flags(world).context(world.project, ["ada", "phone"], {}).hash_keys
    assert found == {"exp": "anon-1", "only-phone": "phone"}
    assert flags(world).context(world.project, ["phone", "ada"], {}).hash_keys["exp"] == "phone"
    assert flags(world).context(world.project, ["ada"], {}, hash_keys=False).hash_keys == {}


def test_the_directory_answers_as_context_does_for_every_id(world: World) -> None:
    world.send(
        world.event("$pageview", "anon-1", anonymous=True),
        world.identify("anon-1", "ada", **{"$set": {"plan": "pro", "seats": 5}}),
        world.identify("bob", "bob", **{"$set": {"plan": "free"}}),
        world.event("$pageview", "visitor", anonymous=True),
    )
    store = flags(world)
    store.add_hash_keys(world.project, ["ada", "anon-1"], ["exp"], "anon-1")
    store.add_hash_keys(world.project, ["visitor"], ["exp"], "visitor")
    whole = store.directory(world.project, limit=10)
    assert whole is not None
    assert sorted(whole.persons) == ["ada", "anon-1", "bob"]  # a visitor has no person
    for distinct_id in ("ada", "anon-1", "bob"):
        assert (
            whole.persons[distinct_id]
            == store.context(world.project, [distinct_id], {}).persons[distinct_id]
        )
    assert whole.hash_keys == {
        "ada": {"exp": "anon-1"},
        "anon-1": {"exp": "anon-1"},
        "visitor": {"exp": "visitor"},
    }
    assert store.directory(world.project, limit=2) is None  # more ids than that
    assert store.directory(world.project + 1000, limit=10) == type(whole)({}, {})
