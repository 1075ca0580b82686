"""The read API over HTTP: persons, person detail with merge history, events,
ingestion warnings, and who may read them."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.both_modes


def capture(server: LiveServer, *events: dict) -> None:
    response = httpx.post(
        server.url + "/batch/", json={"api_key": server.token, "batch": list(events)}
    )
    assert response.status_code == 200, response.text
    server.settle()


def test_persons_events_and_history(live_server: LiveServer) -> None:
    capture(
        live_server,
        {
            "event": "$pageview",
            "distinct_id": "anon-1",
            "properties": {"$process_person_profile": False},
        },
        {
            "event": "$identify",
            "distinct_id": "ada@example.com",
            "properties": {"$anon_distinct_id": "anon-1"},
            "$set": {"email": "ada@example.com"},
        },
        *[{"event": "e", "distinct_id": f"user-{i}"} for i in range(5)],
    )
    base = f"/api/projects/{live_server.project_id}"
    with live_server.api() as api:
        found = api.get(f"{base}/persons/", params={"distinct_id": "anon-1"}).json()
        assert found["next"] is None
        [ada] = found["results"]
        assert set(ada) >= {
            "id",
            "uuid",
            "distinct_ids",
            "properties",
            "is_identified",
            "created_at",
        }
        assert sorted(ada["distinct_ids"]) == ["ada@example.com", "anon-1"]
        assert ada["is_identified"] is True
        assert ada["properties"]["email"] == "ada@example.com"

        page = api.get(f"{base}/persons/", params={"limit": 4}).json()
        assert len(page["results"]) == 4 and page["next"]
        rest = httpx.get(page["next"], headers=api.headers).json()
        assert len(rest["results"]) == 2 and rest["next"] is None
        everyone = {p["uuid"] for p in page["results"] + rest["results"]}
        assert len(everyone) == 6

        assert [
            p["uuid"]
            for p in api.get(f"{base}/persons/", params={"search": "ada@"}).json()["results"]
        ] == [ada["uuid"]]

        detail = api.get(f"{base}/persons/{ada['uuid']}/").json()
        [merge] = detail["merge_history"]
        assert merge["kind"] == "create" and merge["event"] == "$identify"
        assert sorted(merge["distinct_ids"]) == ["ada@example.com", "anon-1"]

        events = api.get(f"{base}/events/", params={"person_id": ada["uuid"]}).json()["results"]
        assert sorted(e["person_mode"] for e in events) == ["full", "propertyless"]
        by_event = api.get(f"{base}/events/", params={"event": "e", "limit": 2}).json()
        assert len(by_event["results"]) == 2 and by_event["next"]

        missing = api.get(f"{base}/persons/00000000-0000-0000-0000-000000000000/")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        bad = api.get(f"{base}/events/", params={"limit": "lots"})
        assert bad.status_code == 400 and bad.json()["attr"] == "limit"
        assert api.get("/api/projects/999/persons/").status_code == 404


def test_ingestion_warnings_endpoint(live_server: LiveServer) -> None:
    capture(
        live_server,
        {"event": "$identify", "distinct_id": "u", "properties": {"$anon_distinct_id": "null"}},
    )
    with live_server.api() as api:
        body = api.get(f"/api/projects/{live_server.project_id}/ingestion_warnings/").json()
    [warning] = body["results"]
    assert warning["type"] == "cannot_merge_with_illegal_distinct_id"
    assert warning["details"]["source_distinct_id"] == "null"
    assert warning["event_uuid"]


@pytest.mark.parametrize("path", ["persons/", "events/", "ingestion_warnings/"])
def test_reading_needs_a_personal_api_key(live_server: LiveServer, path: str) -> None:
    url = f"{live_server.url}/api/projects/{live_server.project_id}/{path}"
    for headers in (
        {},
        {"Authorization": f"Bearer {live_server.token}"},
        {"Authorization": "Bearer phx_not-a-real-key"},
        {"Authorization": "Basic x"},
    ):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401, headers
        body = response.json()
        assert body["type"] == "authentication_error" and body["code"] == "not_authenticated"


def test_unknown_paths_and_methods_answer_in_the_error_shape(live_server: LiveServer) -> None:
    missing = httpx.get(f"{live_server.url}/api/projects/not-a-number/events/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong_method = httpx.delete(f"{live_server.url}/api/projects/1/query/")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
