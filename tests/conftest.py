"""Shared fixtures: a Magpie on a temporary data folder, served over real HTTP."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import uvicorn
from psycopg import sql

from magpie.app import Magpie, server_config
from magpie.backends import ROLES
from magpie.credentials import Credentials, ensure_credentials
from magpie.ingest.persons import person_uuid_for
from magpie.settings import Settings
from tests.harness import Ingest

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "MAGPIE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MODES = ("embedded", "cluster")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A Magpie served by uvicorn on 127.0.0.1 inside the test process."""

    magpie: Magpie
    credentials: Credentials
    url: str

    @property
    def token(self) -> str:
        return self.credentials.project_token

    @property
    def project_id(self) -> int:
        return self.credentials.project_id

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.credentials.personal_api_key}"},
            timeout=10,
        )

    def project_request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """``method`` on ``path`` under the project's API (/api/projects/{id}), as its owner."""
        with self.api() as owner:
            return owner.request(method, f"/api/projects/{self.project_id}{path}", json=body)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every acknowledged event has been ingested."""
        assert self.magpie.wait_until_caught_up(timeout), "ingest worker did not catch up"

    def events(self, **params: object) -> list[dict]:
        self.settle()
        with self.api() as client:
            response = client.get(
                f"/api/projects/{self.project_id}/events/", params={"limit": 1000, **params}
            )
        response.raise_for_status()
        return list(reversed(response.json()["results"]))


class ReadsFromServer:
    """Reads through Magpie's API, for test helpers that hold a ``server``."""

    server: LiveServer

    def persons(self, distinct_id: str | None = None) -> list[dict[str, Any]]:
        self.server.settle()
        params = {"distinct_id": distinct_id} if distinct_id else {}
        with self.server.api() as api:
            response = api.get(f"/api/projects/{self.server.project_id}/persons/", params=params)
        response.raise_for_status()
        return list(response.json()["results"])

    def person(self, distinct_id: str) -> dict[str, Any]:
        [found] = self.persons(distinct_id)
        return found

    def ingestion_warnings(self) -> list[dict[str, Any]]:
        self.server.settle()
        with self.server.api() as api:
            response = api.get(f"/api/projects/{self.server.project_id}/ingestion_warnings/")
        response.raise_for_status()
        return list(response.json()["results"])

    def anonymous_person_id(self, distinct_id: str) -> str:
        return str(person_uuid_for(self.server.project_id, distinct_id))


@contextmanager
def running_live_server(
    data_dir: Path, roles: frozenset[str] = ROLES, **overrides: object
) -> Iterator[LiveServer]:
    """A live server for the ``with`` block, stopped when it ends."""
    port = free_port()
    # Capture in the server process keeps test servers quick to start;
    # test_capture_process covers the capture process `magpie serve` runs.
    overrides.setdefault("capture_process", False)
    settings = Settings.load(env={}, data_dir=data_dir, port=port, **overrides)
    magpie = Magpie(settings, roles=roles)
    credentials = ensure_credentials(
        settings.credentials_path, magpie.projects, magpie.api_keys, settings.url
    )
    server = uvicorn.Server(server_config(magpie, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(magpie, credentials, settings.url)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def live_server(tmp_path: Path, backend_settings: dict[str, str]) -> Iterator[LiveServer]:
    with running_live_server(tmp_path / "data", **backend_settings) as live:
        yield live


@dataclass
class ServerProcess:
    """``magpie serve`` as a separate process, for tests that kill it."""

    process: subprocess.Popen[str]
    credentials: dict[str, object]
    url: str

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def spawn_server(data_dir: Path, port: int | None = None) -> ServerProcess:
    port = port or free_port()
    env = {**os.environ, "MAGPIE_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "magpie.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(
            f"magpie serve failed: {process.stderr.read() if process.stderr else ''}"
        )
    credentials = json.loads(line)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url + "/_health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("magpie serve did not come up")
        time.sleep(0.05)
    return ServerProcess(process, credentials, url)


@pytest.fixture
def ingest(tmp_path: Path, backend_settings: dict[str, str]) -> Iterator[Ingest]:
    harness = Ingest(tmp_path / "data", **backend_settings)
    yield harness
    harness.close()


@pytest.fixture(scope="session")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's one chdb data path (chdb allows one per process)."""
    return f"chdb://{tmp_path_factory.mktemp('chdb')}"


# -- both modes ------------------------------------------------------------------
#
# A test module marked ``both_modes`` runs each of its tests that use the
# ``ingest`` or ``live_server`` fixture twice: on the embedded store, and in
# cluster mode (events in ClickHouse, here chdb in this process; persons and
# metadata in a PostgreSQL database of the test's own; the local queue).


def database_url(name: str) -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[psycopg.Connection]:
    try:
        connection = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {ADMIN_URL} (set MAGPIE_TEST_POSTGRES_URL, or start"
            f" it: scripts/ensure-services): {exc}"
        )
    with connection:
        yield connection


@pytest.fixture
def new_database(pg_admin: psycopg.Connection) -> Iterator[Callable[[], str]]:
    """Makes empty databases (their URLs) that are dropped when the test ends."""
    made: list[str] = []

    def make() -> str:
        name = f"magpie_test_{secrets.token_hex(6)}"
        pg_admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return database_url(name)

    yield make
    for name in made:
        pg_admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Cluster mode for the module's tests, but not for every case of a parametrized
    test (they vary the input, which the modes share), unless the test itself is
    marked ``both_modes``: it keeps the suite's time reasonable."""
    function = metafunc.definition
    both = function.get_closest_marker("both_modes")
    only = function.get_closest_marker("embedded_only")
    own = getattr(function.function, "pytestmark", [])
    varied = function.get_closest_marker("parametrize") is not None
    explicit = any(mark.name == "both_modes" for mark in own)
    if both and not only and (explicit or not varied) and "magpie_mode" in metafunc.fixturenames:
        metafunc.parametrize("magpie_mode", MODES, indirect=True)


@pytest.fixture
def magpie_mode(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "embedded"))


@pytest.fixture
def backend_settings(magpie_mode: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings that put a test's Magpie in its mode: none for embedded."""
    if magpie_mode == "embedded":
        return {}
    chdb = request.getfixturevalue("chdb_dsn")
    new_db = request.getfixturevalue("new_database")
    return cluster_settings(chdb, new_db())


def cluster_settings(chdb_dsn: str, postgres_url: str) -> dict[str, str]:
    return {
        "events_url": f"{chdb_dsn}?database=t_{secrets.token_hex(6)}",
        "database_url": postgres_url,
    }
