"""The official posthog-python SDK, pointed at Magpie, stores its events."""

from __future__ import annotations

import pytest
from posthog import Posthog

from tests.conftest import LiveServer

pytestmark = pytest.mark.both_modes


@pytest.mark.parametrize("gzip", [False, True])
def test_batch_capture(live_server: LiveServer, gzip: bool) -> None:
    client = Posthog(live_server.token, host=live_server.url, gzip=gzip, sync_mode=False)
    for i in range(25):
        client.capture("sdk_event", distinct_id=f"user-{i % 3}", properties={"i": i, "gzip": gzip})
    client.flush()
    client.shutdown()
    stored = live_server.events(event="sdk_event")
    assert sorted(e["properties"]["i"] for e in stored) == list(range(25))
    assert {e["properties"]["$lib"] for e in stored} == {"posthog-python"}
    assert {e["distinct_id"] for e in stored} == {"user-0", "user-1", "user-2"}


def test_capture_mode_v1(live_server: LiveServer) -> None:
    errors: list[Exception] = []
    client = Posthog(
        live_server.token,
        host=live_server.url,
        capture_mode="v1",
        on_error=lambda exc, batch: errors.append(exc),
    )
    client.capture(
        "v1_event",
        distinct_id="v1-user",
        properties={"$process_person_profile": False, "$session_id": "s-1", "k": "v"},
    )
    client.flush()
    client.shutdown()
    assert errors == []
    [stored] = live_server.events(event="v1_event")
    assert stored["distinct_id"] == "v1-user"
    assert stored["properties"]["k"] == "v"
    assert stored["properties"]["$session_id"] == "s-1"
    assert stored["properties"]["$lib"] == "posthog-python"
    assert stored["person_mode"] == "propertyless"


def test_v1_reports_per_event_results(live_server: LiveServer) -> None:
    import httpx

    body = {
        "created_at": "2026-01-01T00:00:00Z",
        "batch": [
            {
                "event": "ok",
                "uuid": "0190f000-0000-7000-8000-000000000001",
                "distinct_id": "a",
                "timestamp": "2026-01-01T00:00:00Z",
                "options": {},
                "properties": {},
            },
            {
                "event": "",
                "uuid": "0190f000-0000-7000-8000-000000000002",
                "distinct_id": "a",
                "timestamp": "2026-01-01T00:00:00Z",
                "options": {},
                "properties": {},
            },
            {
                "event": "no-id",
                "uuid": "0190f000-0000-7000-8000-000000000003",
                "distinct_id": " ",
                "timestamp": "2026-01-01T00:00:00Z",
                "options": {},
                "properties": {},
            },
        ],
    }
    url = live_server.url + "/i/v1/analytics/events"
    response = httpx.post(url, json=body, headers={"Authorization": f"Bearer {live_server.token}"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert results["0190f000-0000-7000-8000-000000000001"] == {"result": "ok"}
    assert results["0190f000-0000-7000-8000-000000000002"]["result"] == "drop"
    assert results["0190f000-0000-7000-8000-000000000003"]["result"] == "drop"
    assert [e["event"] for e in live_server.events()] == ["ok"]
    unauthenticated = httpx.post(url, json=body)
    assert (unauthenticated.status_code, unauthenticated.json()["code"]) == (
        401,
        "ingest_key_required",
    )
    brotli = httpx.post(
        url,
        content=b"x",
        headers={"Authorization": f"Bearer {live_server.token}", "Content-Encoding": "br"},
    )
    assert (brotli.status_code, brotli.json()["code"]) == (415, "unsupported_encoding")
