"""CohortStore: definitions and stored membership, the same on every backend."""

from __future__ import annotations

import uuid
from datetime import timedelta

from magpie.clock import utc_naive
from tests.store.conftest import T0, Backend

FILTERS = {
    "properties": {
        "type": "OR",
        "values": [
            {
                "type": "AND",
                "values": [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}],
            }
        ],
    }
}
A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))


def test_cohorts_are_the_project_s_own_and_deleting_keeps_them(backend: Backend) -> None:
    projects = backend.stores.projects
    mine, other = projects.create("mine").id, projects.create("other").id
    cohorts = backend.stores.cohorts
    first = cohorts.create(mine, "Pro users", "paying", FILTERS)
    assert first.filters == FILTERS and not first.is_static and not first.deleted
    assert first.version == 0 and first.count is None and first.last_calculation is None
    assert first.created_at == utc_naive(T0)
    static = cohorts.create(mine, "Beta list", "", {}, is_static=True)
    assert static.is_static
    cohorts.create(other, "theirs", "", {})
    assert cohorts.get(mine, first.id) == first
    assert cohorts.get(other, first.id) is None
    assert [c.id for c in cohorts.list(mine)] == [static.id, first.id]  # newest first
    assert [c.id for c in cohorts.list(mine, limit=1, offset=1)] == [first.id]
    changed = cohorts.update(mine, first.id, name="Pros", filters={"properties": {}})
    assert changed is not None and changed.name == "Pros" and changed.filters == {"properties": {}}
    assert changed.description == "paying"
    assert cohorts.update(other, first.id, name="x") is None
    deleted = cohorts.update(mine, first.id, deleted=True)
    assert deleted is not None and deleted.deleted
    assert [c.id for c in cohorts.list(mine)] == [static.id]
    assert cohorts.get(mine, first.id) == deleted  # still there, marked deleted
    # Only live, computed cohorts are refreshed.
    assert [c.name for c in cohorts.computed()] == ["theirs"]


def test_membership_is_replaced_whole_with_a_new_version(backend: Backend) -> None:
    project = backend.stores.projects.create("p").id
    cohorts = backend.stores.cohorts
    cohort = cohorts.create(project, "c", "", FILTERS)
    at = T0 + timedelta(minutes=5)
    stored = cohorts.set_members(project, cohort.id, [B, A, A], at)
    assert stored is not None and stored.version == 1 and stored.count == 2
    assert stored.last_calculation == utc_naive(at)
    assert cohorts.members(project, cohort.id) == [A, B]
    assert cohorts.is_member(project, cohort.id, A)
    assert not cohorts.is_member(project, cohort.id, C)
    assert not cohorts.is_member(project + 1, cohort.id, A)
    again = cohorts.set_members(project, cohort.id, [C, B], at)
    assert again is not None and again.version == 2 and again.count == 2
    assert cohorts.members(project, cohort.id) == [B, C]
    assert cohorts.members(project, cohort.id, limit=1, offset=1) == [C]
    assert not cohorts.is_member(project, cohort.id, A)
    emptied = cohorts.set_members(project, cohort.id, [], at)
    assert emptied is not None and emptied.count == 0 and cohorts.members(project, cohort.id) == []
    assert cohorts.set_members(project + 1, cohort.id, [A], at) is None


def test_a_failed_computation_is_counted_and_keeps_the_membership(backend: Backend) -> None:
    project = backend.stores.projects.create("p").id
    cohorts = backend.stores.cohorts
    cohort = cohorts.create(project, "c", "", FILTERS)
    cohorts.set_members(project, cohort.id, [A], T0)
    cohorts.record_failure(project, cohort.id, "query_timeout")
    failed = cohorts.get(project, cohort.id)
    assert failed is not None and failed.errors_calculating == 1
    assert failed.last_error == "query_timeout" and failed.count == 1
    assert cohorts.members(project, cohort.id) == [A]


def test_static_members_are_the_persons_of_their_distinct_ids(backend: Backend) -> None:
    project = backend.stores.projects.create("p").id
    feed = backend.feed()
    feed.send(
        project,
        feed.event("$identify", "ada", **{"$anon_distinct_id": "anon-ada"}),
        feed.event("$pageview", "bob"),
        feed.event("$pageview", "visitor", anonymous=True),
    )
    reader = backend.stores.persons
    [ada] = reader.list_persons(project, distinct_id="ada")
    [bob] = reader.list_persons(project, distinct_id="bob")
    cohorts = backend.stores.cohorts
    cohort = cohorts.create(project, "list", "", {}, is_static=True)
    added = cohorts.add_static_members(
        project, cohort.id, ["ada", "anon-ada", "visitor", "nobody"], T0
    )
    # Two ids of one person make one member; an anonymous visitor has no person.
    assert added == [ada.uuid]
    assert cohorts.add_static_members(project, cohort.id, ["bob", "ada"], T0) == [bob.uuid]
    stored = cohorts.get(project, cohort.id)
    assert stored is not None and stored.count == 2 and stored.version == 2
    assert set(cohorts.members(project, cohort.id)) == {ada.uuid, bob.uuid}
    other = backend.stores.projects.create("other").id
    assert cohorts.add_static_members(other, cohort.id, ["ada"], T0) == []


def test_each_stored_membership_keeps_its_count(backend: Backend) -> None:
    project = backend.stores.projects.create("p").id
    cohorts = backend.stores.cohorts
    computed = cohorts.create(project, "c", "", FILTERS)
    assert cohorts.count_history(project, computed.id) == []
    first, second = T0 + timedelta(minutes=5), T0 + timedelta(minutes=20)
    cohorts.set_members(project, computed.id, [A, B], first)
    cohorts.set_members(project, computed.id, [C], second)
    history = cohorts.count_history(project, computed.id)
    assert [(h.version, h.count, h.calculated_at) for h in history] == [
        (2, 1, utc_naive(second)),
        (1, 2, utc_naive(first)),
    ]
    assert [h.version for h in cohorts.count_history(project, computed.id, limit=1, offset=1)] == [
        1
    ]
    other = backend.stores.projects.create("other").id
    assert cohorts.count_history(other, computed.id) == []
