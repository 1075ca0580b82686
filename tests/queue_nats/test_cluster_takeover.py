"""A whole cluster of processes with a worker killed mid-stream: ``magpie capture``,
two ``magpie worker`` processes and ``magpie api`` (the loader into chdb), on
PostgreSQL and NATS. One worker gets SIGKILL while events for many distinct ids
(identifies and merges among them) flow through capture; the other takes its
partitions over. At the end every acknowledged event is in ClickHouse once, as
queries see it, and persons are what a cluster that never crashed leaves."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from magpie.store.base import PersonReader
from magpie.store.postgres import PostgresDatabase
from magpie.store.postgres.person_reader import PostgresPersonReader
from tests.conftest import running_live_server
from tests.queue_nats.cluster import Cluster, running_cluster, wait_for, worker_pid
from tests.queue_nats.conftest import delete_streams

USERS = 40
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
Event = dict[str, Any]


def phases() -> tuple[list[Event], list[Event]]:
    """Two phases, each of whose outcome does not hang on the order in which the
    partitions are processed: first anonymous visitors (and, for every third
    user, a person under the user's id too), then each user identifies (merging
    the two persons where both exist) and goes on under the user's id."""
    clock = iter(T0 + timedelta(milliseconds=n) for n in range(10_000))

    def event(name: str, distinct_id: str, **properties: Any) -> Event:
        return {
            "event": name,
            "distinct_id": distinct_id,
            "uuid": str(uuid.uuid4()),
            "timestamp": next(clock).isoformat(),
            "properties": properties,
        }

    first: list[Event] = []
    second: list[Event] = []
    for i in range(USERS):
        first.append(event("$pageview", f"anon-{i}", **{"$set_once": {"landing": f"/l/{i}"}}))
        if i % 3 == 0:
            first.append(event("$pageview", f"user-{i}", **{"$set": {"plan": "free"}}))
    for i in range(USERS):
        second.append(
            event(
                "$identify",
                f"user-{i}",
                **{"$anon_distinct_id": f"anon-{i}", "$set": {"email": f"u{i}@example.com"}},
            )
        )
        second += [event("clicked", f"user-{i}", **{"$set": {"clicks": n}}) for n in range(2)]
    return first, second


def send(url: str, token: str, events: list[Event], per_request: int = 10) -> None:
    """Through capture, a server SDK's batches of many distinct ids; each must be a 200."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for start in range(0, len(events), per_request):
            batch = events[start : start + per_request]
            answer = client.post("/batch/", json={"api_key": token, "batch": batch})
            assert answer.status_code == 200, answer.text


EVENTS_QUERY = (
    "SELECT toString(uuid), event, distinct_id, toString(person_id) FROM events LIMIT 10000"
)


def persons_of(reader: PersonReader) -> list[Any]:
    """Persons with their version: a change applied twice would show as a version
    too many."""
    found = [reader.get_person(1, p.uuid) for p in reader.list_persons(1, limit=1000)]
    return sorted(
        (str(p.uuid), p.properties, p.version, sorted(p.distinct_ids))
        for p in found
        if p is not None
    )


def persons_in(database_url: str) -> list[Any]:
    db = PostgresDatabase(database_url)
    try:
        return persons_of(PostgresPersonReader(db))
    finally:
        db.close()


@pytest.fixture
def queue_urls(nats_url: str) -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        made.append(f"{nats_url}/test_{secrets.token_hex(5)}")
        return made[-1]

    yield make
    for url in made:
        delete_streams(url)


def reference(folder: Path, first: list[Event], second: list[Event]) -> tuple[list[Any], list[Any]]:
    """What a Magpie that never crashed leaves: the embedded mode, whose semantics
    cluster mode keeps (its events as queries see them, and its persons)."""
    with running_live_server(folder) as live:
        for phase in (first, second):
            send(live.url, live.token, phase)
            live.settle(60)
        with live.api() as api:
            answer = api.post(
                f"/api/projects/{live.project_id}/query/",
                json={"query": {"kind": "HogQLQuery", "query": EVENTS_QUERY}},
            )
        answer.raise_for_status()
        return sorted(answer.json()["results"]), persons_of(live.magpie.stores.persons)


def loaded(cluster: Cluster, expected: int) -> bool:
    [[count]] = cluster.hogql("SELECT count() FROM events")
    return bool(count >= expected)


def test_a_worker_killed_mid_stream_is_taken_over_and_nothing_is_lost_or_doubled(
    tmp_path: Path,
    new_database: Callable[[], str],
    queue_urls: Callable[[], str],
) -> None:
    first, second = phases()
    database = new_database()
    env = {
        "MAGPIE_DATABASE_URL": database,
        "MAGPIE_EVENTS_URL": f"chdb://{tmp_path / 'chdb'}?database=cluster",
        "MAGPIE_QUEUE_URL": queue_urls(),
        "MAGPIE_QUEUE_LEASE_SECONDS": "3",
    }
    with running_cluster(tmp_path / "cluster", env) as cluster:
        # The processes start while the reference runs here.
        starting = cluster.spawn("api", "worker", "worker", "capture")
        expected_events, expected_persons = reference(tmp_path / "reference", first, second)
        assert len(expected_events) == len(first) + len(second)
        assert len(expected_persons) == USERS

        _, *workers, capture = cluster.ready(starting)
        token = cluster.credentials["project_token"]
        # Both workers hold their share of the partitions, and every partition is
        # held, before anything is sent: a fair share is reached claim by claim.
        wait_for(
            lambda: (
                len(set(cluster.lease_owners().values())) == 2 and len(cluster.lease_owners()) == 16
            ),
            "every partition held, shared by both workers",
        )

        send(capture.url, token, first)
        wait_for(lambda: loaded(cluster, len(first)), "the first phase in ClickHouse")

        half = len(second) // 2
        send(capture.url, token, second[:half])
        # Mid-stream: the first worker dies while its partitions still have work.
        victim = workers[0]
        cluster.kill(victim)
        send(capture.url, token, second[half:])

        survivor = workers[1].process.pid
        wait_for(
            lambda: (
                {worker_pid(o) for o in cluster.lease_owners().values()} == {survivor}
                and len(cluster.lease_owners()) == 16
            ),
            "the survivor to hold every partition",
        )
        wait_for(lambda: loaded(cluster, len(first) + len(second)), "every event in ClickHouse")
        [[count, distinct]] = cluster.hogql("SELECT count(), uniq(uuid) FROM events")
        assert count == distinct == len(expected_events)
        assert sorted(cluster.hogql(EVENTS_QUERY)) == expected_events
        assert persons_in(database) == expected_persons
        assert all(r.alive() for r in cluster.roles if r is not victim)
