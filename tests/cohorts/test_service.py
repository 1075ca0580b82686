"""What the rest of Magpie asks of cohorts: refreshing, the membership lookup and
person-property definitions for feature flags."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from magpie.clock import FrozenClock
from magpie.cohorts.refresh import CohortRefresher
from magpie.cohorts.service import CohortService
from tests.harness import Ingest

PRO = {"key": "plan", "type": "person", "value": "pro"}
SIGNED_UP = {
    "key": "signup",
    "type": "behavioral",
    "value": "performed_event",
    "time_value": 7,
    "time_interval": "day",
}


def _and(*leaves: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"type": "AND", "values": list(leaves)}}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Ingest, CohortService]]:
    ingest = Ingest(tmp_path / "data")
    ingest.send(ingest.event("$pageview", "ada", **{"$set": {"plan": "pro"}}))
    clock = FrozenClock(ingest.clock + timedelta(minutes=1))
    magpie = ingest.magpie
    yield ingest, CohortService(magpie.stores.cohorts, magpie.projects, magpie.query_runner, clock)
    ingest.close()


def _person(ingest: Ingest, distinct_id: str) -> uuid.UUID:
    found = ingest.person(distinct_id)
    assert found is not None
    return uuid.UUID(found["uuid"])


def test_a_refresh_recomputes_every_computed_cohort_and_survives_a_broken_one(
    setup: tuple[Ingest, CohortService],
) -> None:
    ingest, service = setup
    project = ingest.project_id
    signed = service.create(project, "signed up", "", _and(SIGNED_UP))
    pro = service.create(project, "pro", "", _and(PRO))
    broken = service.create(
        project, "broken", "", _and({"key": "id", "type": "cohort", "value": pro.id})
    )
    assert signed.count == 0 and pro.count == 1 and broken.count == 1
    service.update(project, pro.id, deleted=True)  # broken now names a deleted cohort
    ingest.send(
        ingest.event("signup", "ada"), ingest.event("$pageview", "bob", **{"$set": {"plan": "pro"}})
    )
    assert service.refresh_all() == 1
    assert service.get(project, signed.id).count == 1
    assert service.is_member(project, signed.id, _person(ingest, "ada"))
    assert not service.is_member(project, signed.id, _person(ingest, "bob"))
    failed = service.get(project, broken.id)
    assert failed.errors_calculating == 1 and "no cohort" in (failed.last_error or "")
    assert failed.count == 1  # the last good membership stays


def test_the_refresher_runs_passes_until_stopped(setup: tuple[Ingest, CohortService]) -> None:
    ingest, service = setup
    cohort = service.create(ingest.project_id, "pro", "", _and(PRO))
    refresher = CohortRefresher(service, interval_seconds=0.01)
    refresher.start()
    deadline = time.monotonic() + 20
    while refresher.passes < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    refresher.stop()
    assert refresher.passes >= 2
    assert service.get(ingest.project_id, cohort.id).version >= 3
    off = CohortRefresher(service, interval_seconds=0)
    off.start()
    off.stop()
    assert off.passes == 0


def test_flags_get_person_property_definitions_only(setup: tuple[Ingest, CohortService]) -> None:
    ingest, service = setup
    project = ingest.project_id
    pro = service.create(project, "pro", "", _and(PRO))
    behavioural = service.create(project, "b", "", _and(PRO, SIGNED_UP))
    static = service.create(project, "s", "", {}, is_static=True)
    nested = service.create(
        project, "n", "", _and({"key": "id", "type": "cohort", "value": pro.id})
    )
    assert service.person_property_filters(project, pro.id) == _and(PRO)["properties"]
    for other in (behavioural, static, nested):
        assert service.person_property_filters(project, other.id) is None
    assert service.person_property_filters(project, 10**6) is None
    assert service.is_member(project, pro.id, _person(ingest, "ada"))
    assert not service.is_member(project + 1, pro.id, _person(ingest, "ada"))
    # A new member counts once computed (the kept membership is dropped at once).
    ingest.send(ingest.event("$pageview", "bob", **{"$set": {"plan": "pro"}}))
    assert not service.is_member(project, pro.id, _person(ingest, "bob"))
    service.recompute(project, pro.id)
    assert service.is_member(project, pro.id, _person(ingest, "bob"))
    service.update(project, pro.id, deleted=True)  # a deleted cohort has no members
    assert not service.is_member(project, pro.id, _person(ingest, "bob"))


def test_kept_memberships_stay_within_their_bound(
    setup: tuple[Ingest, CohortService], monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest, service = setup
    monkeypatch.setattr("magpie.cohorts.service.MEMBERS_KEPT_IN_ALL", 1)
    project, ada = ingest.project_id, _person(ingest, "ada")
    first = service.create(project, "a", "", _and(PRO))
    second = service.create(project, "b", "", _and(PRO))
    assert service.is_member(project, first.id, ada) and service.is_member(project, second.id, ada)
    assert list(service._kept) == [(project, second.id)]  # the older one was let go
    assert service.is_member(project, first.id, ada)  # and is read again when asked
