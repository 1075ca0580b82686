"""Random interleavings of SDK actions, checked against a small reference model.

Clients behave as posthog-js does (compat §4): ``person_profiles``
identified_only or always, identify, alias, setPersonProperties, group, reset.
The model applies the document's rules naively; Magpie's batched, persisted
implementation must end in the same state, whatever the batch boundaries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magpie.ingest.persons import FORCE_UPGRADE_AFTER
from tests.harness import Ingest

USERS = 3
LOGINS = ["alice", "bob", "carol"]
KEYS = ["k0", "k1", "k2"]
MERGE_EVENTS = {"$identify", "$create_alias", "$merge_dangerously"}

props_strategy = st.one_of(
    st.none(), st.dictionaries(st.sampled_from(KEYS), st.integers(0, 3), max_size=2)
)
action = st.one_of(
    st.tuples(st.just("capture"), st.integers(0, USERS - 1), props_strategy),
    st.tuples(
        st.just("identify"), st.integers(0, USERS - 1), st.sampled_from(LOGINS), props_strategy
    ),
    st.tuples(st.just("alias"), st.integers(0, USERS - 1), st.sampled_from(LOGINS)),
    st.tuples(
        st.just("set"),
        st.integers(0, USERS - 1),
        st.dictionaries(st.sampled_from(KEYS), st.integers(0, 3), min_size=1, max_size=2),
    ),
    st.tuples(
        st.just("group"),
        st.integers(0, USERS - 1),
        st.sampled_from(["company", "team"]),
        st.sampled_from(["acme", "globex"]),
    ),
    st.tuples(st.just("reset"), st.integers(0, USERS - 1)),
    st.tuples(
        st.just("mode"), st.integers(0, USERS - 1), st.sampled_from(["identified_only", "always"])
    ),
    st.tuples(st.just("wait")),
    st.tuples(st.just("flush")),
)


@dataclass
class Client:
    """posthog-js's person-processing state machine."""

    user: int
    mode: str = "identified_only"
    resets: int = 0
    distinct_id: str = ""
    identified: bool = False
    epp: bool = False
    groups: dict[str, str] = field(default_factory=dict)
    aliased: bool = False

    def __post_init__(self) -> None:
        self.distinct_id = f"anon-{self.user}-0"

    def processing(self) -> bool:
        return (
            self.mode == "always"
            or self.identified
            or bool(self.groups)
            or self.aliased
            or self.epp
        )

    def event(self, name: str, **properties: Any) -> dict[str, Any]:
        processing = self.processing()
        if processing:
            self.epp = True
        return {
            "event": name,
            "distinct_id": self.distinct_id,
            "properties": {**properties, "$process_person_profile": processing},
        }

    def act(self, kind: str, *args: Any) -> list[dict[str, Any]]:
        return getattr(self, f"_{kind}")(*args)

    def _capture(self, props: dict[str, int] | None) -> list[dict[str, Any]]:
        return [self.event("clicked", **({"$set": props} if props else {}))]

    def _identify(self, login: str, props: dict[str, int] | None) -> list[dict[str, Any]]:
        previous = self.distinct_id
        self.epp = True
        if login != previous:
            self.distinct_id = login
        if not self.identified:
            self.identified = True
            if login != previous:
                return [
                    self.event("$identify", **{"$anon_distinct_id": previous, "$set": props or {}})
                ]
            return [self.event("$set", **{"$set": props or {}})]
        return [self.event("$set", **{"$set": props})] if props else []

    def _alias(self, alias: str) -> list[dict[str, Any]]:
        if alias == self.distinct_id:
            return self._identify(alias, None)
        self.epp = True
        self.aliased = True
        return [self.event("$create_alias", alias=alias, distinct_id=self.distinct_id)]

    def _set(self, props: dict[str, int]) -> list[dict[str, Any]]:
        self.epp = True
        return [self.event("$set", **{"$set": props})]

    def _group(self, group_type: str, key: str) -> list[dict[str, Any]]:
        self.groups[group_type] = key
        return [
            self.event(
                "$groupidentify", **{"$group_type": group_type, "$group_key": key, "$group_set": {}}
            )
        ]

    def _reset(self) -> list[dict[str, Any]]:
        self.resets += 1
        self.distinct_id = f"anon-{self.user}-{self.resets}"
        self.identified = self.epp = self.aliased = False
        self.groups = {}
        return []

    def _mode(self, mode: str) -> list[dict[str, Any]]:
        self.mode = mode
        return []


@dataclass
class ModelPerson:
    distinct_ids: set[str]
    properties: dict[str, int]
    identified: bool
    created_at: Any


class Model:
    """The document's rules, applied one event at a time, with no batching or storage."""

    def __init__(self) -> None:
        self.persons: list[ModelPerson] = []
        self.modes: dict[str, str] = {}
        self.merge_ids: set[str] = set()
        self.processed_ids: set[str] = set()

    def owner(self, distinct_id: str) -> ModelPerson | None:
        return next((p for p in self.persons if distinct_id in p.distinct_ids), None)

    def apply(self, event: dict[str, Any], event_uuid: str, at: Any) -> None:
        props = event["properties"]
        did = event["distinct_id"]
        if not props["$process_person_profile"]:
            if event["event"] in MERGE_EVENTS | {"$groupidentify"}:
                return
            person = self.owner(did)
            upgraded = person is not None and at > person.created_at + FORCE_UPGRADE_AFTER
            self.modes[event_uuid] = "force_upgrade" if upgraded else "propertyless"
            return
        self.modes[event_uuid] = "full"
        self.processed_ids.add(did)
        updates = props.get("$set") or {}
        if event["event"] == "$groupidentify":
            updates = {}
        other = (
            props.get("$anon_distinct_id")
            if event["event"] == "$identify"
            else props.get("alias")
            if event["event"] == "$create_alias"
            else None
        )
        if other is None or other == did:
            person = self.owner(did) or self._create({did}, at, False)
            person.properties.update(updates)
            return
        self.merge_ids |= {other, did}
        source, target = self.owner(other), self.owner(did)
        if source and target and source is not target and source.identified:
            target.properties.update(updates)
            target.identified = True
            return
        if source and target and source is not target:
            target.properties = {**source.properties, **target.properties}
            target.distinct_ids |= source.distinct_ids
            target.created_at = min(target.created_at, source.created_at)
            self.persons.remove(source)
        person = target or source or self._create({other, did}, at, True)
        person.distinct_ids |= {other, did}
        person.properties.update(updates)
        person.identified = True

    def _create(self, ids: set[str], at: Any, identified: bool) -> ModelPerson:
        person = ModelPerson(set(ids), {}, identified, at)
        self.persons.append(person)
        return person


@pytest.fixture(scope="module")
def shared_ingest(tmp_path_factory: pytest.TempPathFactory) -> Any:
    harness = Ingest(tmp_path_factory.mktemp("model") / "data")
    yield harness
    harness.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=1, max_size=40))
def test_magpie_matches_the_model(shared_ingest: Ingest, actions: list[tuple[Any, ...]]) -> None:
    ingest = shared_ingest
    ingest.new_project()
    clients = [Client(user) for user in range(USERS)]
    model = Model()
    pending: list[dict[str, Any]] = []
    modes_at_ingestion: dict[str, str] = {}

    def flush() -> None:
        if pending:
            ingest.send(*pending)
            pending.clear()
        for stored in ingest.events():
            modes_at_ingestion.setdefault(stored["uuid"], stored["person_mode"])

    for kind, *args in actions:
        if kind == "flush":
            flush()
            continue
        if kind == "wait":
            ingest.clock += timedelta(minutes=2)
            continue
        for raw in clients[args[0]].act(kind, *args[1:]):
            event = ingest.event(raw["event"], raw["distinct_id"], **raw["properties"])
            model.apply(event, event["uuid"], ingest.clock.replace(tzinfo=None))
            pending.append(event)
    flush()
    check(ingest, model, modes_at_ingestion)


def check(ingest: Ingest, model: Model, modes_at_ingestion: dict[str, str]) -> None:
    persons = ingest.persons()
    # A distinct id belongs to at most one person.
    all_ids = [d for p in persons for d in p["distinct_ids"]]
    assert len(all_ids) == len(set(all_ids))
    # The same people, with the same ids, properties and identification.
    stored = {frozenset(p["distinct_ids"]): p for p in persons}
    expected = {frozenset(p.distinct_ids): p for p in model.persons}
    assert set(stored) == set(expected)
    for ids, person in stored.items():
        user_props = {k: v for k, v in person["properties"].items() if not k.startswith("$")}
        assert user_props == expected[ids].properties, sorted(ids)
        assert person["is_identified"] == expected[ids].identified, sorted(ids)
        # Nobody is identified without identify/alias, and anonymous events create no one.
        if person["is_identified"]:
            assert ids & model.merge_ids
        assert ids & model.processed_ids
    # Every event keeps the billing class it was ingested with, and it is the model's.
    events = ingest.events()
    assert {e["uuid"]: e["person_mode"] for e in events} == model.modes
    assert {e["uuid"]: e["person_mode"] for e in events} == modes_at_ingestion
    # Past events are attributed to the person their distinct id ended up with.
    person_of = {d: p["uuid"] for p in persons for d in p["distinct_ids"]}
    for event in events:
        did = event["distinct_id"]
        assert event["person_id"] == person_of.get(did, ingest.uuid5(did)), event


def test_model_check_catches_a_wrong_attribution(shared_ingest: Ingest) -> None:
    """The checker itself can fail: a tampered override must be caught."""
    ingest = shared_ingest
    ingest.new_project()
    model = Model()
    events = [
        ingest.event("e", "a", **{"$process_person_profile": False}),
        ingest.event(
            "$identify", "b", **{"$anon_distinct_id": "a", "$process_person_profile": True}
        ),
    ]
    for event in events:
        model.apply(event, event["uuid"], ingest.clock.replace(tzinfo=None))
    ingest.send(*events)
    modes = {e["uuid"]: e["person_mode"] for e in ingest.events()}
    check(ingest, model, modes)
    ingest.cursor.execute(
        "INSERT INTO person_overrides VALUES (?, 'a', ?, 9)"
        " ON CONFLICT DO UPDATE SET person_uuid = excluded.person_uuid",
        [ingest.project_id, uuid.uuid4()],
    )
    with pytest.raises(AssertionError):
        check(ingest, model, modes)
