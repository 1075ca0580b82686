"""UserStore, SessionStore, InsightStore and DashboardStore: the same on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from magpie.clock import utc_naive
from tests.store.conftest import T0, Backend

QUERY = {"kind": "TrendsQuery", "series": [{"event": "$pageview"}]}


def test_users_are_unique_by_email_whatever_its_case(backend: Backend) -> None:
    users = backend.stores.users
    assert users.count() == 0 and users.all() == []
    ada = users.create(" Ada@Example.com ", "$argon2id$hash-1")
    assert ada.email == "Ada@Example.com" and ada.created_at == utc_naive(T0)
    with pytest.raises(ValueError):
        users.create("ada@example.COM", "$argon2id$hash-2")
    assert users.by_email("ADA@example.com") == ada
    assert users.by_email("bob@example.com") is None
    assert users.password_hash(ada.id) == "$argon2id$hash-1"
    users.set_password_hash(ada.id, "$argon2id$rehashed")
    assert users.password_hash(ada.id) == "$argon2id$rehashed"
    bob = users.create("bob@example.com", "h")
    assert users.count() == 2 and users.all() == [ada, bob]
    assert users.password_hash(bob.id + 100) is None


def test_a_session_lasts_until_it_expires_or_ends(backend: Backend) -> None:
    user = backend.stores.users.create("ada@example.com", "h")
    sessions = backend.stores.sessions
    expires = T0 + timedelta(days=14)
    made = sessions.create("digest-1", user.id, expires)
    assert made.user == user and made.expires_at == utc_naive(expires)
    assert sessions.find("digest-1", T0) == made
    assert sessions.find("digest-1", expires + timedelta(seconds=1)) is None
    assert sessions.find("digest-2", T0) is None
    sessions.delete("digest-1")
    assert sessions.find("digest-1", T0) is None


def test_insights_are_the_project_s_own(backend: Backend) -> None:
    projects = backend.stores.projects
    mine, other = projects.create("mine").id, projects.create("other").id
    insights = backend.stores.insights
    first = insights.create(mine, "abc12345", "Pageviews", "", QUERY)
    second = insights.create(mine, "def67890", "Signups", "why", {"kind": "HogQLQuery"})
    with pytest.raises(ValueError):
        insights.create(mine, "abc12345", "again", "", QUERY)
    assert insights.create(other, "abc12345", "theirs", "", QUERY).project_id == other
    assert insights.get(mine, first.id) == first and first.query == QUERY
    assert insights.get(other, first.id) is None
    assert [i.id for i in insights.list(mine)] == [second.id, first.id]  # newest first
    assert insights.list(mine, short_id="def67890") == [second]
    assert [i.id for i in insights.list(mine, limit=1, offset=1)] == [first.id]
    changed = insights.update(mine, first.id, name="Views", query={"kind": "X"})
    assert changed is not None and changed.name == "Views" and changed.query == {"kind": "X"}
    assert changed.description == "" and insights.update(other, first.id, name="x") is None
    assert insights.delete(mine, first.id) and not insights.delete(mine, first.id)
    assert insights.get(mine, first.id) is None


def test_dashboards_hold_tiles_of_the_project_s_insights(backend: Backend) -> None:
    projects = backend.stores.projects
    mine, other = projects.create("mine").id, projects.create("other").id
    insights, dashboards = backend.stores.insights, backend.stores.dashboards
    views = insights.create(mine, "aaaa1111", "Views", "", QUERY)
    users = insights.create(mine, "bbbb2222", "Users", "", QUERY)
    theirs = insights.create(other, "cccc3333", "Theirs", "", QUERY)
    board = dashboards.create(mine, "Web", "traffic")
    assert board.filters == {} and board.tiles == ()
    assert dashboards.add_tile(mine, board.id, views.id)
    assert dashboards.add_tile(mine, board.id, views.id)  # once, and still true
    assert dashboards.add_tile(mine, board.id, users.id)
    assert not dashboards.add_tile(mine, board.id, theirs.id)
    assert not dashboards.add_tile(other, board.id, theirs.id)
    found = dashboards.get(mine, board.id)
    assert found is not None
    assert [t.insight.id for t in found.tiles] == [views.id, users.id]
    assert found.tiles[0].insight.dashboards == (board.id,)
    assert insights.get(mine, views.id).dashboards == (board.id,)  # type: ignore[union-attr]
    assert dashboards.get(other, board.id) is None
    changed = dashboards.update(mine, board.id, filters={"date_from": "-30d"}, name="Site")
    assert changed is not None and changed.filters == {"date_from": "-30d"}
    assert changed.name == "Site" and changed.description == "traffic"
    assert dashboards.remove_tile(mine, board.id, insight_id=views.id)
    assert not dashboards.remove_tile(mine, board.id, insight_id=views.id)
    tile = dashboards.get(mine, board.id).tiles[0]  # type: ignore[union-attr]
    assert dashboards.remove_tile(mine, board.id, tile_id=tile.id)
    dashboards.add_tile(mine, board.id, users.id)
    insights.delete(mine, users.id)  # its tiles go with it
    assert dashboards.get(mine, board.id).tiles == ()  # type: ignore[union-attr]
    second = dashboards.create(mine, "Second")
    assert [d.id for d in dashboards.list(mine)] == [board.id, second.id]
    assert dashboards.list(other) == []
    assert dashboards.delete(mine, board.id) and not dashboards.delete(mine, board.id)
    assert dashboards.claim_default(mine) and not dashboards.claim_default(mine)
    assert dashboards.claim_default(other)
