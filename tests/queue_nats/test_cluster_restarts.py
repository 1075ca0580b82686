"""NATS and PostgreSQL restarted under a cluster of processes while capture is
under load: capture answers 503 while it cannot store an event, never 200;
afterwards every acknowledged event is in ClickHouse once, and the workers and
the loader have recovered by themselves (no process is restarted).

The servers restarted are the test's own (``private_nats``,
``private_postgres``), never the machine's shared ones.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx
import psycopg
import pytest

from tests.queue_nats.cluster import Cluster, running_cluster, wait_for
from tests.queue_nats.conftest import PrivateNats, PrivatePostgres, delete_streams

LEASE_SECONDS = "3"


class Load:
    """An SDK sending batches of five events (five distinct ids) to capture, one
    request after another, until stopped; it keeps what was acknowledged."""

    def __init__(self, url: str, token: str) -> None:
        self._url, self._token = url, token
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sent: set[str] = set()
        self.acked: list[str] = []
        self.answers: Counter[int] = Counter()
        self.bodies: list[str] = []  # of answers other than 200

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stopping.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=60) as client:
            n = 0
            while not self._stopping.is_set():
                batch = [
                    {"event": "e", "distinct_id": f"d{(n + i) % 37}", "uuid": str(uuid.uuid4())}
                    for i in range(5)
                ]
                n += 5
                uuids = [e["uuid"] for e in batch]
                self.sent.update(uuids)
                answer = client.post("/batch/", json={"api_key": self._token, "batch": batch})
                self.answers[answer.status_code] += 1
                if answer.status_code == 200:
                    self.acked += uuids
                else:
                    self.bodies.append(answer.text)

    def more_acked(self, count: int) -> None:
        target = len(self.acked) + count
        wait_for(lambda: len(self.acked) >= target, f"{count} more events acknowledged")


def stored(cluster: Cluster) -> list[str]:
    return [row[0] for row in cluster.hogql("SELECT toString(uuid) FROM events LIMIT 1000000")]


def check_everything_acknowledged_is_stored_once(cluster: Cluster, load: Load) -> None:
    assert set(load.answers) <= {200, 503}, load.bodies[:3]
    acked = set(load.acked)
    assert len(acked) == len(load.acked)
    try:
        found = wait_for(
            lambda: (s := stored(cluster)) and acked <= set(s) and s, "every acknowledged event"
        )
    except AssertionError:
        have = set(stored(cluster))
        missing = [n for n, u in enumerate(load.acked) if u not in have]
        logs = "\n".join(f"--- {r.name}:\n{r.stderr()[-1500:]}" for r in cluster.roles)
        raise AssertionError(
            f"{len(missing)} of {len(acked)} acknowledged events are not stored (by order of"
            f" acknowledgement: {missing[:3]} … {missing[-3:]}); {load.answers}\n{logs}"
        ) from None
    assert len(found) == len(set(found))  # none twice
    # Beyond the acknowledged ones, only events whose 503 came after all (a publish
    # whose acknowledgement was lost): never one that was not sent.
    assert set(found) <= load.sent
    assert all(role.alive() for role in cluster.roles)


def env_for(tmp_path: Path, database: str, queue: str) -> dict[str, str]:
    return {
        "MAGPIE_DATABASE_URL": database,
        "MAGPIE_EVENTS_URL": f"chdb://{tmp_path / 'chdb'}?database=cluster",
        "MAGPIE_QUEUE_URL": queue,
        "MAGPIE_QUEUE_LEASE_SECONDS": LEASE_SECONDS,
    }


def test_capture_through_a_nats_restart(
    tmp_path: Path, private_nats: PrivateNats, new_database: object
) -> None:
    assert callable(new_database)
    env = env_for(tmp_path, new_database(), f"{private_nats.url}/restart")
    with running_cluster(tmp_path / "cluster", env) as cluster:
        *_, capture = cluster.start("api", "worker", "capture")
        with Load(capture.url, cluster.credentials["project_token"]) as load:
            load.more_acked(50)
            private_nats.kill()  # SIGKILL: what it acknowledged is in its store files
            wait_for(lambda: load.answers[503] >= 3, "capture answering 503")
            assert not cluster.hogql("SELECT 1 WHERE 0")  # the API still answers
            private_nats.start()
            load.more_acked(50)  # capture publishes again by itself
        check_everything_acknowledged_is_stored_once(cluster, load)


@pytest.fixture
def shared_queue(nats_url: str) -> Iterator[str]:
    url = f"{nats_url}/test_{secrets.token_hex(5)}"
    yield url
    delete_streams(url)


def test_capture_through_a_postgresql_restart(
    tmp_path: Path, private_postgres: PrivatePostgres, shared_queue: str
) -> None:
    with psycopg.connect(private_postgres.url, autocommit=True) as admin:
        admin.execute("CREATE DATABASE magpie")
    database = private_postgres.url.rsplit("/", 1)[0] + "/magpie"
    env = env_for(tmp_path, database, shared_queue)
    with running_cluster(tmp_path / "cluster", env) as cluster:
        *_, capture = cluster.start("api", "worker", "capture")
        with Load(capture.url, cluster.credentials["project_token"]) as load:
            load.more_acked(50)
            private_postgres.stop("immediate")  # as a crash: recovery at the next start
            # Capture goes on while the queue takes events (tokens are known):
            # those events wait in NATS for the workers.
            requests = sum(load.answers.values())
            wait_for(lambda: sum(load.answers.values()) >= requests + 20, "requests meanwhile")
            private_postgres.start()
            load.more_acked(50)
        check_everything_acknowledged_is_stored_once(cluster, load)
