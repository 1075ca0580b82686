"""The groups API over HTTP: group types, the groups of a type (search, pages), one
group, their property names and values, and a group's events; on both stores."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.both_modes


def identify(key: str, group_type: str, day: int, **props: object) -> dict:
    return {
        "event": "$groupidentify",
        "distinct_id": "ada",
        "timestamp": f"2026-01-{day:02d}T00:00:00Z",
        "properties": {"$group_type": group_type, "$group_key": key, "$group_set": props},
    }


def pageview(who: str, day: int, *, anonymous: bool = False, **groups: str) -> dict:
    props: dict[str, object] = {"$groups": groups}
    if anonymous:
        props["$process_person_profile"] = False
    return {
        "event": "$pageview",
        "distinct_id": who,
        "timestamp": f"2026-01-{day:02d}T12:00:00Z",
        "properties": props,
    }


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    # company is the first type used (0), project the second (1). acme is created
    # on 1 January, beta on 2 January; acme's name is set later (a new version).
    batch = [
        identify("acme", "company", 1, industry="finance", seats=12),
        identify("beta", "company", 2, industry="tech"),
        identify("p1", "project", 3, name="Proj"),
        identify("acme", "company", 4, name="Acme"),
        pageview("ada", 5, company="acme"),
        pageview("bob", 6, company="beta"),
        # A personless event carries no groups, so acme has one event.
        pageview("visitor", 7, anonymous=True, company="acme"),
    ]
    response = httpx.post(
        live_server.url + "/batch/", json={"api_key": live_server.token, "batch": batch}
    )
    assert response.status_code == 200, response.text
    live_server.settle()
    return live_server


def test_group_types_and_groups(server: LiveServer) -> None:
    base = f"/api/projects/{server.project_id}"
    with server.api() as api:
        assert api.get(f"{base}/groups_types/").json() == [
            {"group_type": "company", "group_type_index": 0, "name_singular": None,
             "name_plural": None},
            {"group_type": "project", "group_type_index": 1, "name_singular": None,
             "name_plural": None},
        ]  # fmt: skip

        listed = api.get(f"{base}/groups/", params={"group_type_index": 0}).json()
        assert listed["next"] is None and listed["previous"] is None
        assert listed["results"] == [
            {"group_type_index": 0, "group_key": "beta", "group_properties": {"industry": "tech"},
             "created_at": "2026-01-02T00:00:00Z"},
            {"group_type_index": 0, "group_key": "acme",
             "group_properties": {"industry": "finance", "seats": 12, "name": "Acme"},
             "created_at": "2026-01-01T00:00:00Z"},
        ]  # fmt: skip

        def keys(**params: object) -> list[str]:
            found = api.get(f"{base}/groups/", params={"group_type_index": 0, **params})
            assert found.status_code == 200, found.text
            return [g["group_key"] for g in found.json()["results"]]

        assert keys(search="FINANCE") == ["acme"]  # a property value, any case
        assert keys(search="et") == ["beta"]  # the key
        assert keys(group_key="cm") == ["acme"]
        assert keys(group_key="finance") == []  # group_key is the key only
        assert [g["group_key"] for g in listed["results"]] == keys()
        assert keys(group_type_index=1) == ["p1"]
        assert keys(group_type_index=2) == []

        first = api.get(f"{base}/groups/", params={"group_type_index": 0, "limit": 1}).json()
        assert [g["group_key"] for g in first["results"]] == ["beta"] and first["next"]
        second = httpx.get(first["next"], headers=api.headers).json()
        assert [g["group_key"] for g in second["results"]] == ["acme"]

        acme = api.get(f"{base}/groups/find/", params={"group_type_index": 0, "group_key": "acme"})
        assert acme.status_code == 200
        assert acme.json() == listed["results"][1]


def test_group_properties(server: LiveServer) -> None:
    base = f"/api/projects/{server.project_id}/groups"
    with server.api() as api:
        assert api.get(f"{base}/property_definitions/").json() == {
            "0": [
                {"name": "industry", "count": 2},
                {"name": "name", "count": 1},
                {"name": "seats", "count": 1},
            ],
            "1": [{"name": "name", "count": 1}],
        }

        def values(**params: object) -> list[dict]:
            found = api.get(f"{base}/property_values/", params={"group_type_index": 0, **params})
            assert found.status_code == 200, found.text
            assert found.json()["refreshing"] is False
            return list(found.json()["results"])

        assert values(key="industry") == [
            {"name": "finance", "count": 1},
            {"name": "tech", "count": 1},
        ]
        assert values(key="industry", value="TE") == [{"name": "tech", "count": 1}]
        assert values(key="seats") == [{"name": 12, "count": 1}]
        assert values(key="missing") == []


def test_a_groups_events(server: LiveServer) -> None:
    base = f"/api/projects/{server.project_id}/events/"
    with server.api() as api:

        def events(**params: object) -> list[tuple[str, str]]:
            found = api.get(base, params=params)
            assert found.status_code == 200, found.text
            return [(e["event"], e["distinct_id"]) for e in found.json()["results"]]

        assert events(group_type_index=0, group_key="acme") == [("$pageview", "ada")]
        assert events(group_type_index=0, group_key="beta") == [("$pageview", "bob")]
        assert events(group_type_index=1, group_key="acme") == []
        # The events' $group_N property says the same.
        assert events(property="$group_0", property_value="acme") == [("$pageview", "ada")]


@pytest.mark.parametrize(
    ("path", "params", "status", "attr"),
    [
        ("groups/", {}, 400, "group_type_index"),
        ("groups/", {"group_type_index": "x"}, 400, "group_type_index"),
        ("groups/", {"group_type_index": 5}, 400, "group_type_index"),
        ("groups/", {"group_type_index": 0, "limit": 0}, 400, "limit"),
        ("groups/find/", {"group_type_index": 0}, 400, "group_key"),
        ("groups/find/", {"group_type_index": 0, "group_key": "nope"}, 404, None),
        ("groups/property_values/", {"group_type_index": 0}, 400, "key"),
        ("events/", {"group_key": "acme"}, 400, "group_type_index"),
        ("groups/", {"group_type_index": 0, "search": "x" * 1001}, 400, "search"),
    ],
)
def test_bad_requests(
    live_server: LiveServer, path: str, params: dict, status: int, attr: str | None
) -> None:
    with live_server.api() as api:
        response = api.get(f"/api/projects/{live_server.project_id}/{path}", params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["attr"] == attr
    assert body["code"] == ("not_found" if status == 404 else "invalid_input")


@pytest.mark.parametrize("path", ["groups_types/", "groups/?group_type_index=0"])
def test_reading_needs_a_personal_api_key(live_server: LiveServer, path: str) -> None:
    url = f"{live_server.url}/api/projects/{live_server.project_id}/{path}"
    for headers in ({}, {"Authorization": f"Bearer {live_server.token}"}):
        assert httpx.get(url, headers=headers).status_code == 401
    assert httpx.get(f"{live_server.url}/api/projects/999/{path}").status_code == 401
