"""The ingest unit's own rows (positions, dead letters, warnings, what is stored),
and that a unit is kept whole or not at all: the same on every backend."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from magpie.ingest.persons import PERSONLESS_CREATED_AT
from magpie.store.base import IngestUnit
from magpie.store.model import IngestionWarning, UsageCount
from tests.store.conftest import Backend

NOW = datetime(2026, 3, 1, 12, 0)


def warning(project: int, type_: str, at: datetime, **details: Any) -> IngestionWarning:
    return IngestionWarning(project, type_, dict(details), str(uuid.uuid4()), at)


def event_columns(project: int, uuids: list[str], at: datetime) -> dict[str, list[Any]]:
    """Column lists for personless events, as the worker hands them over."""
    n = len(uuids)
    columns: dict[str, list[Any]] = {
        "project_id": [project] * n,
        "uuid": uuids,
        "event": ["$pageview"] * n,
        "distinct_id": [f"anon-{i}" for i in range(n)],
        "timestamp": [at] * n,
        "properties": ["{}"] * n,
        "elements_chain": [""] * n,
        "person_id": [str(uuid.uuid4()) for _ in range(n)],
        "person_mode": ["propertyless"] * n,
        "person_properties": ["{}"] * n,
        "person_created_at": [PERSONLESS_CREATED_AT] * n,
        "created_at": [at] * n,
    }
    for index in range(5):
        columns[f"group_{index}"] = [None] * n
    return columns


def test_a_position_is_saved_per_consumer(backend: Backend) -> None:
    ingest = backend.stores.ingest
    assert ingest.position("ingest:0") == 0
    ingest.transact(lambda unit: unit.save_position("ingest:0", 120))
    ingest.transact(lambda unit: unit.save_position("ingest:1", 7))
    assert ingest.position("ingest:0") == 120
    assert ingest.position("ingest:1") == 7
    ingest.transact(lambda unit: unit.save_position("ingest:0", 300))
    assert (ingest.position("ingest:0"), ingest.position("ingest:1")) == (300, 7)


def test_committed_positions_of_every_consumer_asked(backend: Backend) -> None:
    """What a status report reads of consumers that may be committed elsewhere:
    every one asked for, 0 when never committed."""
    ingest = backend.stores.ingest
    ingest.transact(lambda unit: unit.save_position("ingest:p00", 40))
    assert ingest.committed_positions(["ingest:p00", "ingest:p01"]) == {
        "ingest:p00": 40,
        "ingest:p01": 0,
    }
    ingest.transact(lambda unit: unit.save_position("ingest:p00", 90))
    assert ingest.committed_positions(["ingest:p00"]) == {"ingest:p00": 90}
    assert ingest.committed_positions([]) == {}


def test_a_dead_letter_moves_its_consumer_past_the_record(backend: Backend) -> None:
    ingest = backend.stores.ingest
    assert ingest.position("ingest") == 0
    ingest.dead_letter("ingest", 0, 64, b"\x00\xffnot json", "ValueError('bad')", NOW)
    assert ingest.position("ingest") == 64
    ingest.dead_letter("ingest", 64, 99, b"{}", "KeyError('events')", NOW)
    assert ingest.position("ingest") == 99


def test_a_failing_unit_keeps_nothing(backend: Backend) -> None:
    ingest, billing = backend.stores.ingest, backend.stores.billing
    assert ingest.position("ingest") == 0

    def work(unit: IngestUnit) -> None:
        unit.add_usage([UsageCount(1, date(2026, 3, 1), "web", "1", "anonymous", "", 5)])
        unit.add_dropped(1, date(2026, 3, 1), 3)
        unit.add_warnings([warning(1, "skipped", NOW)])
        unit.append_events(event_columns(1, [str(uuid.uuid4())], NOW))
        unit.save_position("ingest", 500)
        raise RuntimeError("the worker failed mid-unit")

    with pytest.raises(RuntimeError):
        ingest.transact(work)
    assert ingest.position("ingest") == 0
    assert billing.usage_rows(1, date(2026, 3, 1), date(2026, 3, 2)) == []
    assert billing.dropped_events(1, date(2026, 3, 1), date(2026, 3, 2)) == 0
    assert backend.stores.persons.list_warnings(1) == []


def test_transact_returns_what_the_work_returns(backend: Backend) -> None:
    assert backend.stores.ingest.transact(lambda unit: ("done", 3)) == ("done", 3)


def test_warnings_are_listed_newest_first_by_type_and_page(backend: Backend) -> None:
    ingest, reader = backend.stores.ingest, backend.stores.persons
    made = [
        warning(1, "cannot_merge_already_identified", NOW + timedelta(seconds=i), n=i)
        for i in range(4)
    ]
    made.append(warning(1, "group_type_limit_reached", NOW + timedelta(seconds=10), limit=5))
    made.append(warning(2, "cannot_merge_already_identified", NOW, n=99))
    ingest.transact(lambda unit: unit.add_warnings(made[:3]))
    ingest.transact(lambda unit: unit.add_warnings(made[3:]))
    listed = reader.list_warnings(1)
    assert [w.details for w in listed] == [{"limit": 5}, {"n": 3}, {"n": 2}, {"n": 1}, {"n": 0}]
    first = listed[0]
    assert first.type == "group_type_limit_reached"
    assert first.event_uuid == uuid.UUID(made[4].event_uuid or "")
    assert first.timestamp == NOW + timedelta(seconds=10)
    merges = reader.list_warnings(1, type_="cannot_merge_already_identified")
    assert [w.details["n"] for w in merges] == [3, 2, 1, 0]
    page = reader.list_warnings(1, limit=2, offset=1)
    assert [w.details for w in page] == [{"n": 3}, {"n": 2}]
    assert [w.details for w in reader.list_warnings(2)] == [{"n": 99}]
    assert reader.list_warnings(3) == []


def test_warning_details_keep_values_json_cannot_hold_as_text(backend: Backend) -> None:
    at = datetime(2026, 3, 1, 8, 30)
    backend.stores.ingest.transact(
        lambda unit: unit.add_warnings([warning(1, "odd", NOW, when=at, size=3)])
    )
    [stored] = backend.stores.persons.list_warnings(1)
    assert stored.details == {"when": "2026-03-01T08:30:00", "size": 3}


def test_stored_events_are_known_to_later_units_and_to_their_own(backend: Backend) -> None:
    ingest = backend.stores.ingest
    first, second, third = (str(uuid.uuid4()) for _ in range(3))

    def store_first(unit: IngestUnit) -> set[str]:
        assert unit.append_events(event_columns(1, [first], NOW)) == 1
        # A later chunk of the same unit sees what an earlier one stored.
        return unit.known_uuids([(1, first), (1, second)], NOW, NOW)

    assert ingest.transact(store_first) == {first}
    keys = [(1, first), (1, second), (1, third), (2, first)]
    assert ingest.transact(lambda unit: unit.known_uuids(keys, NOW, NOW)) == {first}
    ingest.transact(lambda unit: unit.append_events(event_columns(1, [third], NOW)))
    assert ingest.transact(lambda unit: unit.known_uuids(keys, NOW, NOW)) == {first, third}
    later = NOW + timedelta(days=3)
    assert ingest.transact(lambda unit: unit.known_uuids(keys, later, later)) == set()


def test_events_of_a_unit_that_failed_are_not_known(backend: Backend) -> None:
    """Whatever a failed unit wrote, its events go again as new when the records are
    read again (the person changes they made were undone with the unit)."""
    ingest = backend.stores.ingest
    lost = str(uuid.uuid4())

    def fail(unit: IngestUnit) -> None:
        unit.append_events(event_columns(1, [lost], NOW))
        raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        ingest.transact(fail)
    assert ingest.transact(lambda unit: unit.known_uuids([(1, lost)], NOW, NOW)) == set()
