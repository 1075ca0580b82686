"""Cluster mode on NATS JetStream end to end: capture publishes to the partitioned
stream, the workers hold the partitions' leases, the loader reads processed
events from their stream into ClickHouse (chdb), and capture answers 503, not
200, while the queue cannot be reached."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from posthog import Posthog

from magpie.ingest.persons import person_uuid_for
from tests.conftest import LiveServer, cluster_settings, free_port, running_live_server
from tests.queue_nats.conftest import delete_streams


@pytest.fixture
def queue_url(nats_url: str) -> Iterator[str]:
    url = f"{nats_url}/test_{secrets.token_hex(5)}"
    yield url
    delete_streams(url)


def serve(folder: Path, chdb_dsn: str, database: str, queue: str) -> Iterator[LiveServer]:
    with running_live_server(
        folder, **cluster_settings(chdb_dsn, database), queue_url=queue
    ) as live:
        yield live


@pytest.fixture
def nats_server(
    tmp_path: Path, chdb_dsn: str, new_database: Callable[[], str], queue_url: str
) -> Iterator[LiveServer]:
    yield from serve(tmp_path / "data", chdb_dsn, new_database(), queue_url)


def test_events_and_persons_through_nats(nats_server: LiveServer) -> None:
    client = Posthog(nats_server.token, host=nats_server.url, sync_mode=True)
    client.capture("$pageview", distinct_id="anon", properties={"$process_person_profile": False})
    client.capture("$pageview", distinct_id="ada", properties={"$set": {"plan": "pro"}})
    client.capture("$identify", distinct_id="ada", properties={"$anon_distinct_id": "anon"})
    client.shutdown()
    nats_server.settle(60)
    events = nats_server.events()
    assert sorted(e["event"] for e in events) == ["$identify", "$pageview", "$pageview"]
    with nats_server.api() as api:
        [person] = api.get(f"/api/projects/{nats_server.project_id}/persons/").json()["results"]
    assert person["properties"]["plan"] == "pro"
    assert sorted(person["distinct_ids"]) == ["ada", "anon"]
    # The anonymous event is the merged person's now, as queries see it too.
    assert {e["person_id"] for e in events} == {person["uuid"]}
    with nats_server.api() as api:
        answer = api.post(
            f"/api/projects/{nats_server.project_id}/query/",
            json={"query": {"kind": "HogQLQuery", "query": "SELECT count() FROM events"}},
        ).json()
    assert answer["results"] == [[3]]
    assert person["uuid"] != str(person_uuid_for(nats_server.project_id, "nobody"))


def test_capture_answers_503_while_the_queue_is_unreachable(
    tmp_path: Path, chdb_dsn: str, new_database: Callable[[], str]
) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}/unreachable"
    for live in serve(tmp_path / "data", chdb_dsn, new_database(), nowhere):
        response = httpx.post(
            live.url + "/batch/",
            json={"api_key": live.token, "batch": [{"event": "e", "distinct_id": "d"}]},
            timeout=60,
        )
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
