"""Retention, lifecycle, stickiness and paths through POST /api/projects/{id}/query/,
over HTTP, on events captured through /batch/: two people and one anonymous visitor
who each viewed /home then /pricing a minute later, at noon yesterday (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import LiveServer

YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date()
DAY = {"date_from": YESTERDAY.isoformat(), "date_to": YESTERDAY.isoformat()}


def _send(live_server: LiveServer) -> None:
    start = datetime(YESTERDAY.year, YESTERDAY.month, YESTERDAY.day, 12, tzinfo=UTC)
    batch = []
    for who, anonymous in [("ada", False), ("bob", False), ("visitor", True)]:
        for minute, url in [(0, "https://shop.example/home/"), (1, "https://shop.example/pricing")]:
            properties: dict[str, Any] = {"$current_url": url}
            if anonymous:
                properties["$process_person_profile"] = False
            batch.append(
                {
                    "event": "$pageview",
                    "distinct_id": who,
                    "timestamp": (start + timedelta(minutes=minute)).isoformat(),
                    "properties": properties,
                }
            )
    response = httpx.post(
        live_server.url + "/batch/", json={"api_key": live_server.token, "batch": batch}
    )
    response.raise_for_status()
    live_server.settle()


def test_insight_kinds_over_http(live_server: LiveServer) -> None:
    _send(live_server)
    url = f"/api/projects/{live_server.project_id}/query/"
    series = [{"event": "$pageview"}]
    with live_server.api() as api:

        def ask(query: dict[str, Any]) -> Any:
            response = api.post(url, json={"query": query})
            assert response.status_code == 200, response.text
            return response.json()["results"]

        retention = ask(
            {"kind": "RetentionQuery", "dateRange": DAY, "retentionFilter": {"totalIntervals": 3}}
        )
        assert [[v["count"] for v in row["values"]] for row in retention] == [[3, 0, 0]]
        lifecycle = ask({"kind": "LifecycleQuery", "series": series, "dateRange": DAY})
        assert lifecycle[0]["status"] == "new" and lifecycle[0]["data"] == [3]
        stickiness = ask({"kind": "StickinessQuery", "series": series, "dateRange": DAY})
        assert stickiness[0]["data"] == [3]
        paths = ask(
            {
                "kind": "PathsQuery",
                "dateRange": DAY,
                "pathsFilter": {"includeEventTypes": ["$pageview"]},
            }
        )
        assert [(e["source"], e["target"], e["value"]) for e in paths] == [
            ("1_https://shop.example/home", "2_https://shop.example/pricing", 3)
        ]
        assert paths[0]["average_conversion_time"] == 60_000

        bad = api.post(url, json={"query": {"kind": "PathsQuery", "pathsFilter": {"stepLimit": 1}}})
        assert bad.status_code == 400 and bad.json()["attr"] == "pathsFilter.stepLimit"
