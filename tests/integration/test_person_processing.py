"""Person processing and identity merging (compat §2.3–§3.4), case by case.

Every scenario runs twice: each event in its own worker batch (state goes
through DuckDB between events) and all events in one batch (state stays in
memory), which must give the same result.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from magpie.ingest.persons import ILLEGAL_ANY_CASE, ILLEGAL_EXACT, is_illegal_distinct_id
from tests.harness import Ingest

pytestmark = pytest.mark.both_modes

SPLITS = ["batch-per-event", "one-batch"]


def run(ingest: Ingest, split: str, *events: dict) -> list[str]:
    if split == "one-batch":
        return ingest.send(*events)
    return [u for e in events for u in ingest.send(e)]


def identify(ingest: Ingest, anon: str, user: str, **props: object) -> dict:
    return ingest.event("$identify", user, **{"$anon_distinct_id": anon, **props})


# -- anonymous events ---------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.embedded_only
def test_anonymous_events_never_create_persons(ingest: Ingest, split: str) -> None:
    ids = run(
        ingest,
        split,
        ingest.event(
            "$pageview", "anon-1", anonymous=True, **{"$browser": "Firefox", "$set": {"a": 1}}
        ),
        ingest.event(
            "$pageview",
            "anon-1",
            anonymous=True,
            **{"$groups": {"company": "acme"}, "$group_0": "acme"},
        ),
    )
    assert ingest.persons() == []
    for event_uuid in ids:
        stored = ingest.event_by_uuid(event_uuid)
        assert stored["person_mode"] == "propertyless"
        assert stored["person_id"] == ingest.uuid5("anon-1")
        assert "$set" not in stored["properties"] and "$set_once" not in stored["properties"]
        assert "$group_0" not in stored["properties"]
        assert stored["properties"]["$process_person_profile"] is False
    row = ingest.cursor.execute(
        "SELECT is_merged FROM personless_distinct_ids WHERE project_id = ? AND distinct_id = ?",
        [ingest.project_id, "anon-1"],
    ).fetchall()
    assert row == [(False,)]


@pytest.mark.parametrize(
    "name", ["$identify", "$create_alias", "$merge_dangerously", "$groupidentify"]
)
def test_personless_identity_events_are_dropped_with_a_warning(ingest: Ingest, name: str) -> None:
    ingest.send(
        ingest.event(
            name,
            "user",
            anonymous=True,
            alias="a",
            **{"$anon_distinct_id": "a", "$group_type": "company", "$group_key": "acme"},
        )
    )
    assert ingest.events() == [] and ingest.persons() == []
    assert ingest.warning_types() == ["invalid_event_when_process_person_profile_is_false"]


def test_person_processed_event_creates_a_person_with_properties(ingest: Ingest) -> None:
    [event_uuid] = ingest.send(
        ingest.event(
            "$pageview",
            "user-1",
            **{
                "$set": {"email": "a@example.com"},
                "$set_once": {"plan": "free"},
                "$browser": "Chrome",
                "utm_source": "news",
            },
        )
    )
    person = ingest.person("user-1")
    assert person is not None
    assert person["uuid"] == ingest.uuid5("user-1")
    assert person["is_identified"] is False
    assert person["distinct_ids"] == ["user-1"]
    props = person["properties"]
    assert props["email"] == "a@example.com" and props["plan"] == "free"
    assert props["$browser"] == "Chrome" and props["$initial_browser"] == "Chrome"
    assert props["utm_source"] == "news" and props["$initial_utm_source"] == "news"
    assert props["$creator_event_uuid"] == event_uuid
    stored = ingest.event_by_uuid(event_uuid)
    assert stored["person_mode"] == "full" and stored["person_id"] == person["uuid"]
    assert "$process_person_profile" not in stored["properties"]


def test_set_set_once_unset(ingest: Ingest) -> None:
    ingest.send(ingest.event("e", "u", **{"$set": {"a": 1, "b": 1}, "$set_once": {"c": 1}}))
    ingest.send(
        ingest.event("e", "u", **{"$set": {"a": 2}, "$set_once": {"c": 2, "d": 2}, "$unset": ["b"]})
    )
    ingest.send(ingest.event("e", "u", **{"$set_once": {"a": 9}, "$set": {"c": 3, "e": None}}))
    props = ingest.person("u")["properties"]  # type: ignore[index]
    assert {k: v for k, v in props.items() if not k.startswith("$")} == {
        "a": 2,
        "c": 3,
        "d": 2,
        "e": None,
    }
    ingest.send(ingest.event("e", "u", **{"$set_once": {"e": "x"}, "$unset": {"c": 1}}))
    props = ingest.person("u")["properties"]  # type: ignore[index]
    assert props["e"] is None and "c" not in props


def test_last_seen_is_truncated_to_the_hour(ingest: Ingest) -> None:
    ingest.send(ingest.event("e", "u", after=timedelta(minutes=130)))
    person = ingest.person("u")
    assert person is not None and person["last_seen_at"] == "2026-03-01T14:00:00Z"


# -- identify / alias / merge (compat §3.4) -------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_identify_after_anonymous_browsing(ingest: Ingest, split: str) -> None:
    """Neither id has a person; only the anonymous id has events: it becomes primary."""
    ids = run(
        ingest,
        split,
        ingest.event("$pageview", "anon", anonymous=True),
        ingest.event("$pageview", "anon", anonymous=True),
        identify(ingest, "anon", "user@example.com", **{"$set": {"email": "user@example.com"}}),
        ingest.event("$pageview", "user@example.com"),
    )
    person = ingest.person("user@example.com")
    assert person is not None
    assert person["uuid"] == ingest.uuid5("anon")
    assert sorted(person["distinct_ids"]) == ["anon", "user@example.com"]
    assert person["is_identified"] is True
    assert person["properties"]["email"] == "user@example.com"
    modes = [ingest.event_by_uuid(u)["person_mode"] for u in ids]
    assert modes == ["propertyless", "propertyless", "full", "full"]
    assert {ingest.event_by_uuid(u)["person_id"] for u in ids} == {person["uuid"]}
    assert [h["kind"] for h in person["merge_history"]] == ["create"]
    assert ingest.person("anon")["uuid"] == person["uuid"]  # type: ignore[index]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.embedded_only
def test_identify_into_an_existing_person_overrides_past_events(ingest: Ingest, split: str) -> None:
    """The user logged in before on another device; this device browsed anonymously."""
    first = run(
        ingest,
        split,
        ingest.event("$pageview", "user", **{"$set": {"name": "Ada"}}),
        ingest.event("$pageview", "device-2", anonymous=True),
    )
    merged = run(ingest, split, identify(ingest, "device-2", "user"))
    person = ingest.person("user")
    assert person is not None and person["uuid"] == ingest.uuid5("user")
    assert sorted(person["distinct_ids"]) == ["device-2", "user"]
    past = ingest.event_by_uuid(first[1])
    assert past["person_mode"] == "propertyless"  # still billed as anonymous
    assert past["person_id"] == person["uuid"]  # but attributed to the person
    assert (
        ingest.events(person_id=person["uuid"])
        and len(ingest.events(person_id=__import__("uuid").UUID(person["uuid"]))) == 3
    )
    assert ingest.event_by_uuid(merged[0])["person_mode"] == "full"
    assert [h["kind"] for h in person["merge_history"]] == ["attach"]
    override = ingest.cursor.execute(
        "SELECT version FROM person_overrides WHERE project_id = ? AND distinct_id = 'device-2'",
        [ingest.project_id],
    ).fetchall()
    assert override == [(1,)]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.embedded_only
def test_identify_when_only_the_anonymous_id_has_a_person(ingest: Ingest, split: str) -> None:
    """person_profiles 'always': the anonymous id already has a person."""
    run(ingest, split, ingest.event("$pageview", "anon"), identify(ingest, "anon", "user"))
    person = ingest.person("user")
    assert person is not None and person["uuid"] == ingest.uuid5("anon")
    assert sorted(person["distinct_ids"]) == ["anon", "user"] and person["is_identified"]
    assert ingest.cursor.execute("SELECT count(*) FROM person_overrides").fetchone() == (0,)


@pytest.mark.parametrize("split", SPLITS)
def test_neither_id_used_before(ingest: Ingest, split: str) -> None:
    run(ingest, split, identify(ingest, "fresh-anon", "fresh-user"))
    person = ingest.person("fresh-anon")
    assert person is not None and person["uuid"] == ingest.uuid5("fresh-user")
    assert person["is_identified"]


@pytest.mark.parametrize("split", SPLITS)
def test_both_ids_used_anonymously(ingest: Ingest, split: str) -> None:
    ids = run(
        ingest,
        split,
        ingest.event("e", "a", anonymous=True),
        ingest.event("e", "b", anonymous=True),
        identify(ingest, "a", "b"),
    )
    person = ingest.person("a")
    assert person is not None and person["uuid"] == ingest.uuid5("b")
    assert ingest.event_by_uuid(ids[0])["person_id"] == person["uuid"]  # via an override
    assert ingest.event_by_uuid(ids[1])["person_id"] == person["uuid"]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.embedded_only
def test_merge_of_two_unidentified_persons(ingest: Ingest, split: str) -> None:
    ids = run(
        ingest,
        split,
        ingest.event("e", "a", **{"$set": {"shared": "from-a", "only_a": 1}}),
        ingest.event(
            "e", "b", after=timedelta(hours=1), **{"$set": {"shared": "from-b", "only_b": 1}}
        ),
        identify(ingest, "a", "b", **{"$set": {"after": True}}),
    )
    person = ingest.person("b")
    assert person is not None
    assert person["uuid"] == ingest.uuid5("b")
    assert sorted(person["distinct_ids"]) == ["a", "b"]
    props = person["properties"]
    assert (props["shared"], props["only_a"], props["only_b"], props["after"]) == (
        "from-b",
        1,
        1,
        True,
    )
    assert person["created_at"] == "2026-03-01T12:00:01Z"  # the older of the two
    assert ingest.cursor.execute(
        "SELECT count(*) FROM persons WHERE project_id = ?", [ingest.project_id]
    ).fetchone() == (1,)
    assert {ingest.event_by_uuid(u)["person_id"] for u in ids} == {person["uuid"]}
    history = person["merge_history"]
    assert history[-1]["kind"] == "merge"
    assert history[-1]["source_person_uuid"] == ingest.uuid5("a")
    assert history[-1]["distinct_ids"] == ["a"]


@pytest.mark.parametrize("split", SPLITS)
def test_merging_an_identified_person_is_refused(ingest: Ingest, split: str) -> None:
    run(
        ingest,
        split,
        identify(ingest, "anon-1", "alice"),
        ingest.event("e", "bob"),
        identify(ingest, "alice", "bob"),
    )
    assert ingest.person("alice")["uuid"] != ingest.person("bob")["uuid"]  # type: ignore[index]
    assert ingest.person("bob")["is_identified"] is True  # type: ignore[index]
    assert ingest.warning_types() == ["cannot_merge_already_identified"]


@pytest.mark.parametrize("split", SPLITS)
def test_merge_dangerously_merges_identified_persons(ingest: Ingest, split: str) -> None:
    run(
        ingest,
        split,
        identify(ingest, "anon-1", "alice"),
        ingest.event("e", "bob"),
        ingest.event("$merge_dangerously", "bob", alias="alice"),
    )
    assert ingest.person("alice")["uuid"] == ingest.person("bob")["uuid"]  # type: ignore[index]
    assert sorted(ingest.person("bob")["distinct_ids"]) == ["alice", "anon-1", "bob"]  # type: ignore
    assert ingest.warning_types() == []


@pytest.mark.parametrize("split", SPLITS)
def test_alias(ingest: Ingest, split: str) -> None:
    """posthog-js alias('alias-id') while 'current' is the distinct id."""
    run(
        ingest,
        split,
        ingest.event("e", "current"),
        ingest.event("$create_alias", "current", alias="alias-id"),
    )
    person = ingest.person("alias-id")
    assert person is not None and sorted(person["distinct_ids"]) == ["alias-id", "current"]
    assert person["is_identified"] is True


def test_same_person_identify_only_marks_identified(ingest: Ingest) -> None:
    ingest.send(identify(ingest, "a", "b"))
    ingest.send(identify(ingest, "a", "b", **{"$set": {"x": 1}}))
    person = ingest.person("a")
    assert person is not None and person["properties"]["x"] == 1
    assert len(ingest.persons()) == 1


def test_identify_with_itself_is_not_a_merge(ingest: Ingest) -> None:
    ingest.send(identify(ingest, "same", "same"))
    person = ingest.person("same")
    assert person is not None and person["is_identified"] is False
    assert person["merge_history"] == []


def test_identify_without_anon_id_does_not_identify(ingest: Ingest) -> None:
    ingest.send(ingest.event("$identify", "server-user", **{"$set": {"plan": "pro"}}))
    person = ingest.person("server-user")
    assert person is not None and person["is_identified"] is False
    assert person["properties"]["plan"] == "pro"


ILLEGAL = sorted(ILLEGAL_ANY_CASE | ILLEGAL_EXACT) + [
    "",
    "   ",
    "Anonymous",
    '"GUEST"',
    "UNDEFINED",
]


@pytest.mark.parametrize("illegal", ILLEGAL)
def test_illegal_ids_are_never_merged(ingest: Ingest, illegal: str) -> None:
    assert is_illegal_distinct_id(illegal)
    ingest.send(identify(ingest, illegal, "real-user"))
    ingest.send(ingest.event("$create_alias", "real-user-2", alias=illegal))
    assert ingest.warning_types() == ["cannot_merge_with_illegal_distinct_id"] * 2
    for user in ("real-user", "real-user-2"):
        person = ingest.person(user)
        assert person is not None and person["distinct_ids"] == [user]
        assert person["is_identified"] is False


@pytest.mark.parametrize(
    "legal",
    [
        "nulls",
        "None2",
        "Null",
        "NULL",
        "NONE",
        "00",
        "user-0",
        "[object]",
        "'0",
        "guest@example.com",
    ],
)
def test_near_illegal_ids_merge(ingest: Ingest, legal: str) -> None:
    assert not is_illegal_distinct_id(legal)
    ingest.send(identify(ingest, legal, "real-user"))
    assert sorted(ingest.person("real-user")["distinct_ids"]) == sorted([legal, "real-user"])  # type: ignore


@pytest.mark.parametrize("split", SPLITS)
def test_identify_chain_moves_all_ids_and_overrides(ingest: Ingest, split: str) -> None:
    """a→b then b's person into c: a's events must follow to c."""
    ids = run(
        ingest,
        split,
        ingest.event("e", "a", anonymous=True),
        ingest.event("e", "b"),
        identify(ingest, "a", "b"),
        ingest.event("e", "c"),
        ingest.event("$merge_dangerously", "c", alias="b"),
    )
    person = ingest.person("c")
    assert person is not None and sorted(person["distinct_ids"]) == ["a", "b", "c"]
    assert {ingest.event_by_uuid(u)["person_id"] for u in ids} == {person["uuid"]}


# -- force_upgrade and reset ------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_force_upgrade(ingest: Ingest, split: str) -> None:
    ids = run(
        ingest,
        split,
        identify(ingest, "anon", "user"),
        ingest.event("soon", "user", anonymous=True, after=timedelta(seconds=30)),
        ingest.event(
            "later",
            "user",
            anonymous=True,
            after=timedelta(minutes=5),
            **{"$set": {"ignored": True}},
        ),
    )
    person = ingest.person("user")
    assert person is not None
    soon, later = ingest.event_by_uuid(ids[1]), ingest.event_by_uuid(ids[2])
    assert (soon["person_mode"], soon["person_id"]) == ("propertyless", person["uuid"])
    assert (later["person_mode"], later["person_id"]) == ("force_upgrade", person["uuid"])
    assert "ignored" not in person["properties"]


def test_reset_then_old_id_is_identified_again(ingest: Ingest) -> None:
    """The document: after reset() a new id is anonymous; the old identified id is not."""
    ingest.send(ingest.event("$pageview", "anon-1", anonymous=True))
    ingest.send(identify(ingest, "anon-1", "user"))
    [after_reset] = ingest.send(
        ingest.event("$pageview", "anon-2", anonymous=True, after=timedelta(minutes=5))
    )
    [old_id] = ingest.send(ingest.event("$pageview", "user", anonymous=True))
    assert ingest.event_by_uuid(after_reset)["person_mode"] == "propertyless"
    assert ingest.event_by_uuid(after_reset)["person_id"] == ingest.uuid5("anon-2")
    assert ingest.event_by_uuid(old_id)["person_mode"] == "force_upgrade"
    assert ingest.person("anon-2") is None


# -- groups ---------------------------------------------------------------------


def group_identify(
    ingest: Ingest,
    distinct_id: str,
    group_type: str,
    key: str,
    event_properties: dict | None = None,
    **props: object,
) -> dict:
    return ingest.event(
        "$groupidentify",
        distinct_id,
        **{
            "$group_type": group_type,
            "$group_key": key,
            "$group_set": props,
            **(event_properties or {}),
        },
    )


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.embedded_only
def test_groups(ingest: Ingest, split: str) -> None:
    ids = run(
        ingest,
        split,
        group_identify(ingest, "u", "company", "acme", name="Acme", size=10),
        group_identify(
            ingest, "u", "company", "acme", {"$set": {"never": "on the person"}}, size=12
        ),
        group_identify(ingest, "u", "project", "p1"),
        ingest.event("e", "u", **{"$groups": {"company": "acme", "project": "p1"}}),
        ingest.event("e", "v", anonymous=True, **{"$groups": {"company": "acme"}}),
    )
    rows = ingest.cursor.execute(
        "SELECT m.group_type, g.group_type_index, g.group_key, CAST(g.properties AS JSON),"
        " g.version FROM groups g JOIN group_type_mapping m USING (project_id, group_type_index)"
        " WHERE project_id = ? ORDER BY 2",
        [ingest.project_id],
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("company", 0, "acme"), ("project", 1, "p1")]
    assert __import__("json").loads(rows[0][3]) == {"name": "Acme", "size": 12}
    assert rows[0][4] == 1
    grouped = ingest.event_by_uuid(ids[3])
    assert (grouped["properties"]["$group_0"], grouped["properties"]["$group_1"]) == ("acme", "p1")
    assert "$group_0" not in ingest.event_by_uuid(ids[4])["properties"]
    assert "never" not in ingest.person("u")["properties"]  # type: ignore[index]
    columns = ingest.cursor.execute(
        "SELECT group_0, group_1 FROM events WHERE uuid IN (?, ?) ORDER BY timestamp",
        [ids[3], ids[4]],
    ).fetchall()
    assert columns == [("acme", "p1"), (None, None)]


@pytest.mark.embedded_only
def test_a_sixth_group_type_is_ignored_with_a_warning(ingest: Ingest) -> None:
    for index in range(6):
        ingest.send(group_identify(ingest, "u", f"type-{index}", "k"))
    types = ingest.cursor.execute(
        "SELECT group_type, group_type_index FROM group_type_mapping WHERE project_id = ?"
        " ORDER BY 2",
        [ingest.project_id],
    ).fetchall()
    assert types == [(f"type-{i}", i) for i in range(5)]
    assert ingest.warning_types() == ["group_type_limit_reached"]


def test_invalid_process_person_profile_value_warns_and_processes(ingest: Ingest) -> None:
    ingest.send(ingest.event("e", "u", **{"$process_person_profile": "no"}))
    assert ingest.person("u") is not None
    assert ingest.warning_types() == ["invalid_process_person_profile"]


def test_page_by_page_properties_alone_do_not_make_a_new_person_version(ingest: Ingest) -> None:
    ingest.send(
        ingest.event(
            "$pageview", "u", **{"$current_url": "https://a.example/1", "$browser": "Chrome"}
        )
    )
    first = ingest.person("u")
    assert first is not None and first["properties"]["$current_url"] == "https://a.example/1"
    ingest.send(ingest.event("$pageview", "u", **{"$current_url": "https://a.example/2"}))
    unchanged = ingest.person("u")
    assert unchanged is not None and unchanged["version"] == first["version"]
    assert unchanged["properties"]["$current_url"] == "https://a.example/1"
    # With a change worth writing, the page properties go along with it.
    ingest.send(
        ingest.event(
            "$pageview", "u", **{"$current_url": "https://a.example/3", "$set": {"plan": "pro"}}
        )
    )
    written = ingest.person("u")
    assert written is not None and written["version"] == first["version"] + 1
    assert written["properties"]["$current_url"] == "https://a.example/3"
    assert written["properties"]["plan"] == "pro"
    # An explicit $set event always writes.
    ingest.send(ingest.event("$set", "u", **{"$set": {"$current_url": "https://a.example/4"}}))
    assert ingest.person("u")["properties"]["$current_url"] == "https://a.example/4"  # type: ignore[index]
