"""A cluster of Magpie processes for the fault tests: ``magpie api`` (which, with
chdb, also runs the loader), ``magpie capture`` and ``magpie worker`` processes,
each with a data folder and a port of its own, all on one PostgreSQL database,
one chdb path and one NATS stream.

Every process it starts is ended when the cluster is closed, whatever the test
did; their stderr is kept in the folder and shown when a process fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats.js.errors

from magpie.queue.nats import NatsQueue
from tests.conftest import ROOT, free_port

WAIT = 60.0  # a guard against hanging, never a measured expectation


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
    return value


@dataclass
class Role:
    """One running ``magpie <role>`` process."""

    role: str
    name: str
    process: subprocess.Popen[str]
    url: str
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Cluster:
    folder: Path
    env: dict[str, str]
    roles: list[Role] = field(default_factory=list)
    credentials: dict[str, Any] = field(default_factory=dict)

    @property
    def queue_url(self) -> str:
        return self.env["MAGPIE_QUEUE_URL"]

    def start(self, *roles: str) -> list[Role]:
        """Start ``magpie <role>`` processes, all at once (their imports and
        connections overlap; migrations are safe when processes start together);
        returns once every one answers ``/_health``."""
        return self.ready(self.spawn(*roles))

    def spawn(self, *roles: str) -> list[Role]:
        """Start processes without waiting for them (``ready`` waits)."""
        started = [
            self._spawn(role, f"{role}-{len(self.roles) + i}") for i, role in enumerate(roles)
        ]
        self.roles += started
        return started

    def ready(self, started: list[Role]) -> list[Role]:
        for role in started:
            if role.role == "api":  # its first line: the credentials to reach the API
                assert role.process.stdout is not None
                line = role.process.stdout.readline()
                assert line, f"magpie api did not start: {role.stderr()}"
                self.credentials = json.loads(line)
        for role in started:
            wait_for(lambda role=role: self._healthy(role), f"magpie {role.role} to answer")
        return started

    def _spawn(self, role: str, name: str) -> Role:
        port = free_port()
        log = self.folder / f"{name}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "magpie.cli", role, "--data-dir", str(self.folder / name)]
            + ["--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "MAGPIE_LOG_LEVEL": "warning", **self.env},
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
        )
        return Role(role, name, process, f"http://127.0.0.1:{port}", log)

    def _healthy(self, role: Role) -> bool:
        if not role.alive():
            raise AssertionError(f"magpie {role.role} exited: {role.stderr()}")
        try:
            return httpx.get(role.url + "/_health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, role: Role) -> None:
        role.process.send_signal(signal.SIGKILL)
        role.process.wait(timeout=10)

    def close(self) -> None:
        """End every process started (SIGTERM, then SIGKILL for one that lingers)."""
        for role in self.roles:
            if role.alive():
                role.process.send_signal(signal.SIGTERM)
        for role in self.roles:
            try:
                role.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                role.process.kill()
                role.process.wait()
            if role.process.stdout is not None:
                role.process.stdout.close()

    # -- reading what the cluster holds ------------------------------------------

    def api(self) -> httpx.Client:
        [api] = [r for r in self.roles if r.role == "api" and r.alive()]
        return httpx.Client(
            base_url=api.url,
            headers={"Authorization": f"Bearer {self.credentials['personal_api_key']}"},
            timeout=30,
        )

    def hogql(self, query: str) -> list[list[Any]]:
        with self.api() as api:
            answer = api.post(
                f"/api/projects/{self.credentials['project_id']}/query/",
                json={"query": {"kind": "HogQLQuery", "query": query}},
            )
        answer.raise_for_status()
        return list(answer.json()["results"])

    def lease_owners(self) -> dict[int, str]:
        """Which worker holds each partition's lease now (by the KV bucket)."""
        queue = NatsQueue(self.queue_url)
        bucket = queue.names.leases

        async def owners(js: Any) -> dict[int, str]:
            kv = await js.key_value(bucket)
            found: dict[int, str] = {}
            for partition in range(queue.partitions):
                with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                    entry = await kv.get(f"partition.p{partition:02d}")
                    if entry.value:
                        found[partition] = json.loads(entry.value)["owner"]
            return found

        try:
            return dict(queue.client.call(owners))
        except nats.js.errors.BucketNotFoundError:
            return {}
        finally:
            queue.close()


@contextlib.contextmanager
def running_cluster(folder: Path, env: dict[str, str]) -> Iterator[Cluster]:
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(folder, env)
    try:
        yield cluster
    finally:
        cluster.close()


def worker_pid(owner: str) -> int:
    """The process id in a lease owner's id (``host-PID-random``)."""
    return int(owner.rsplit("-", 2)[1])
