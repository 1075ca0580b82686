"""ActionStore: a project's actions, the same on every backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from magpie.clock import utc_naive
from tests.store.conftest import T0, Backend

STEPS: list[dict[str, Any]] = [
    {"event": "$pageview", "url": "/pricing", "url_matching": "contains"},
    {"event": "signed up", "properties": [{"key": "plan", "value": "pro", "type": "event"}]},
]


def test_actions_are_the_project_s_own_and_deleting_keeps_them(backend: Backend) -> None:
    projects = backend.stores.projects
    mine, other = projects.create("mine").id, projects.create("other").id
    actions = backend.stores.actions
    first = actions.create(mine, "Interested", description="saw pricing", steps=STEPS, tags=["a"])
    assert (first.name, first.description, first.steps, first.tags) == (
        "Interested",
        "saw pricing",
        STEPS,
        ["a"],
    )
    assert first.created_at == first.updated_at == utc_naive(T0) and not first.deleted
    second = actions.create(mine, "Any event\0", steps=[{"event": None}])
    assert second.tags == [] and second.description == ""
    actions.create(other, "theirs", steps=STEPS)
    assert actions.get(mine, first.id) == first
    assert actions.get(other, first.id) is None
    assert [a.id for a in actions.list(mine)] == [second.id, first.id]  # newest first
    assert [a.id for a in actions.list(mine, limit=1, offset=1)] == [first.id]

    backend.clock.set(T0 + timedelta(minutes=5))
    changed = actions.update(mine, first.id, name="Keen", steps=STEPS[:1])
    assert changed is not None and changed.name == "Keen" and changed.steps == STEPS[:1]
    assert changed.description == "saw pricing" and changed.tags == ["a"]
    assert changed.updated_at == utc_naive(T0 + timedelta(minutes=5))
    assert changed.created_at == first.created_at
    assert actions.update(other, first.id, name="x") is None
    deleted = actions.update(mine, first.id, deleted=True)
    assert deleted is not None and deleted.deleted
    assert [a.id for a in actions.list(mine)] == [second.id]
    assert actions.get(mine, first.id) == deleted  # still there, marked deleted
