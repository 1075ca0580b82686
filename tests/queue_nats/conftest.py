"""Fixtures for the JetStream queue: the machine's NATS, a stream name per test.

The NATS on 127.0.0.1:4222 (``scripts/ensure-services`` starts it; CI runs
that first) is shared, so every test works under a name of its own and
deletes its streams afterwards. Tests that stop NATS start a private server
of their own instead (``private_nats``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats.js.errors
import pytest

from magpie.queue.nats import NatsQueue, StreamLimits
from tests.conftest import free_port

NATS_URL = os.environ.get("MAGPIE_TEST_NATS_URL", "nats://127.0.0.1:4222")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def _reachable(url: str) -> bool:
    host, _, port = url.removeprefix("nats://").partition(":")
    try:
        with socket.create_connection((host, int(port or 4222)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def nats_url() -> str:
    if not _reachable(NATS_URL):
        pytest.skip(
            f"NATS is not reachable at {NATS_URL}: start it with scripts/ensure-services"
            " (or set MAGPIE_TEST_NATS_URL)"
        )
    return NATS_URL


@pytest.fixture
def make_queue(nats_url: str) -> Iterator[Callable[..., NatsQueue]]:
    """Makes NatsQueues on this test's own stream name; its streams go at the end."""
    name = f"test_{secrets.token_hex(5)}"
    made: list[NatsQueue] = []

    def make(**options: object) -> NatsQueue:
        options.setdefault("limits", StreamLimits(max_bytes=64 << 20))
        queue = NatsQueue(f"{nats_url}/{name}", **options)  # type: ignore[arg-type]
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.close()
    delete_streams(f"{nats_url}/{name}")


def delete_streams(url: str) -> None:
    cleaner = NatsQueue(url)
    names = cleaner.names
    for stream in (names.events, names.processed, f"KV_{names.leases}"):

        async def drop(js, stream=stream):  # type: ignore[no-untyped-def]
            with contextlib.suppress(nats.js.errors.NotFoundError):  # never created
                await js.delete_stream(stream)

        cleaner.client.call(drop)
    cleaner.close()


@dataclass
class PrivateNats:
    """A nats-server of the test's own, which it may stop and start again."""

    port: int
    store: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not _reachable(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the private nats-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateNats]:
    if not os.path.exists(NATS_SERVER):
        pytest.skip(f"no nats-server binary at {NATS_SERVER}")
    server = PrivateNats(free_port(), tmp_path / "jetstream")
    server.start()
    yield server
    if server.process is not None:
        server.kill()


PG_BIN = (
    Path("/usr/lib/postgresql")
    / (
        sorted(os.listdir("/usr/lib/postgresql"))[-1]
        if os.path.isdir("/usr/lib/postgresql")
        else "-"
    )
    / "bin"
)


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, trust
    auth, a free port), which it may stop and start again; run as the machine's
    ``postgres`` user, since PostgreSQL refuses to run as root."""

    port: int
    data: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log(self) -> Path:
        return self.data.parent / "server.log"

    def _run(self, *command: str) -> None:
        user = [] if os.getuid() != 0 else ["runuser", "-u", "postgres", "--"]
        # The server's output goes to its log file: a pipe would be held open by it.
        subprocess.run(
            [*user, *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories="
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: as a crash (no checkpoint; recovery at the next start)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN}")
    folder = Path(tempfile.mkdtemp(prefix="magpie-pg-"))
    if os.getuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = PrivatePostgres(free_port(), folder / "data")
    server.init()
    server.start()
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):
        server.stop()
    shutil.rmtree(folder, ignore_errors=True)
