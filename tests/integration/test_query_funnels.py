"""FunnelsQuery and ActorsQuery over real HTTP, on events the official posthog-python
SDK sent: a visitor who identifies mid-funnel is one actor, and visitors who never
identify are actors by their distinct id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from posthog import Posthog

from tests.conftest import LiveServer

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
ANON = {"$process_person_profile": False}


def _send(live_server: LiveServer) -> None:
    client = Posthog(live_server.token, host=live_server.url)
    sent = [
        ("$pageview", "visitor-1", ANON, 0),
        ("$identify", "ada", {"$anon_distinct_id": "visitor-1", "$set": {"email": "a@x"}}, 5),
        ("signed_up", "ada", {}, 10),
        ("$pageview", "visitor-2", ANON, 0),
        ("signed_up", "visitor-2", ANON, 3),
        ("$pageview", "visitor-3", ANON, 0),
    ]
    for event, who, properties, minutes in sent:
        client.capture(
            event, distinct_id=who, properties=properties, timestamp=T0 + timedelta(minutes=minutes)
        )
    client.flush()
    client.shutdown()
    live_server.settle()


def _query(live_server: LiveServer, query: dict[str, Any]) -> dict[str, Any]:
    with live_server.api() as api:
        response = api.post(f"/api/projects/{live_server.project_id}/query/", json={"query": query})
    assert response.status_code == 200, response.text
    return response.json()


FUNNEL = {
    "kind": "FunnelsQuery",
    "series": [{"event": "$pageview"}, {"event": "signed_up"}],
    "dateRange": {"date_from": "-1d"},
}


def test_funnel_and_its_actors_over_http(live_server: LiveServer) -> None:
    _send(live_server)
    steps = _query(live_server, FUNNEL)["results"]
    assert [s["count"] for s in steps] == [3, 2]
    # ada took 10 minutes (her anonymous view counts as hers), visitor-2 three.
    assert steps[1]["average_conversion_time"] == 390
    dropped = _query(
        live_server,
        {
            "kind": "ActorsQuery",
            "source": {"kind": "FunnelsActorsQuery", "source": FUNNEL, "funnelStep": -2},
        },
    )
    assert [row[0]["id"] for row in dropped["results"]] == ["visitor-3"]
    assert dropped["results"][0][0]["is_identified"] is False
    converted = _query(
        live_server,
        {
            "kind": "ActorsQuery",
            "source": {"kind": "FunnelsActorsQuery", "source": FUNNEL, "funnelStep": 2},
            "select": ["actor", "distinct_id", "is_identified"],
        },
    )
    assert converted["columns"] == ["actor", "distinct_id", "is_identified"]
    assert sorted((row[1], row[2]) for row in converted["results"]) == [
        ("ada", True),
        ("visitor-2", False),
    ]


def test_bad_funnel_is_a_clear_error(live_server: LiveServer) -> None:
    with live_server.api() as api:
        response = api.post(
            f"/api/projects/{live_server.project_id}/query/",
            json={"query": {**FUNNEL, "funnelsFilter": {"funnelWindowIntervalUnit": "year"}}},
        )
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["attr"]) == (
        "invalid_input",
        "funnelsFilter.funnelWindowIntervalUnit",
    )
