"""GET /api/projects/{id}/events/?property=&property_value=: the live events page's filter."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer


def test_events_filtered_by_one_property(live_server: LiveServer) -> None:
    batch = [
        {"event": "e", "distinct_id": "a", "properties": {"$browser": "Chrome", "n": 5}},
        {"event": "e", "distinct_id": "b", "properties": {"$browser": "Safari", "a/b~c": "x"}},
        {"event": "e", "distinct_id": "c", "properties": {"a.b": "dotted"}},
    ]
    sent = httpx.post(
        live_server.url + "/batch/", json={"api_key": live_server.token, "batch": batch}
    )
    assert sent.status_code == 200

    def ids(**params: str) -> list[str]:
        return sorted(e["distinct_id"] for e in live_server.events(**params))

    assert ids(property="$browser", property_value="Chrome") == ["a"]
    assert ids(property="$browser") == ["a", "b"]
    assert ids(property="n", property_value="5") == ["a"]  # compared as text
    assert ids(property="a/b~c") == ["b"]  # any name is one key, not a path
    assert ids(property="a.b", property_value="dotted") == ["c"]
    assert ids(property="missing") == []
    with live_server.api() as api:
        long = api.get(
            f"/api/projects/{live_server.project_id}/events/", params={"property": "x" * 1001}
        )
    assert long.status_code == 400 and long.json()["attr"] == "property"
