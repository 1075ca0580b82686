"""Magpie as a separate process: started from the CLI, observed through /proc, stopped cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from _http import Connection, get_request

STATUS_PATH = "/api/ingestion/status/"


@dataclass(frozen=True)
class Credentials:
    project_id: int
    project_token: str
    personal_api_key: str


@dataclass(frozen=True)
class IngestionStatus:
    queue_end: int
    committed: int
    batches: int
    events_stored: int
    events_dropped: int
    duplicates_skipped: int
    dead_letters: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IngestionStatus:
        queue, worker = data["queue"], data["worker"]
        # In cluster mode an event is stored once the loader has put it into
        # ClickHouse. With several worker processes this server's worker stores
        # only its share of the partitions, so its own count never reaches what
        # was sent; the loader (one per database, here) sees every event.
        loader = data.get("loader")
        stored = loader["events_loaded"] if loader is not None else worker["events_stored"]
        return cls(
            # A partitioned queue (NATS) reports its partitions instead.
            queue.get("end", 0),
            queue.get("committed", 0),
            worker["batches"],
            stored,
            worker["events_dropped"],
            worker["duplicates_skipped"],
            worker["dead_letters"],
        )

    @property
    def lost(self) -> int:
        """Events that will never be counted as stored: the bench sends no duplicates."""
        return self.events_dropped + self.duplicates_skipped + self.dead_letters


def _magpie_command(*args: str) -> list[str]:
    # The interpreter running the bench, so that Magpie is the installed package.
    return [sys.executable, "-m", "magpie.cli", *args]


def _server_env() -> dict[str, str]:
    # Other MAGPIE_* settings pass through, so a tuned configuration can be measured;
    # the report lists them (settings_overrides).
    return {**os.environ, "MAGPIE_LOG_LEVEL": "warning"}


def settings_overrides() -> dict[str, str]:
    """The MAGPIE_* settings in the environment that change what is measured."""
    ignored = {"MAGPIE_LOG_LEVEL", "MAGPIE_DATA_DIR", "MAGPIE_HOST", "MAGPIE_PORT"}
    return {
        k: v for k, v in sorted(os.environ.items()) if k.startswith("MAGPIE_") and k not in ignored
    }


def init_data_dir(data_dir: Path) -> Credentials:
    """``magpie init``: a data folder with its project, so tokens are known before serving."""
    done = subprocess.run(
        _magpie_command("init", "--data-dir", str(data_dir)),
        env=_server_env(),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return _credentials(done.stdout.splitlines()[0])


def copy_data_dir(template: Path, target: Path) -> Path:
    """A fresh copy of an initialised folder: same project and token, empty event table."""
    shutil.copytree(template, target)
    return target


def _credentials(line: str) -> Credentials:
    data = json.loads(line)
    return Credentials(data["project_id"], data["project_token"], data["personal_api_key"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_busy_seconds() -> float:
    """CPU time all processes on the machine have used since boot (summed over cores)."""
    with open("/proc/stat") as stat:
        ticks = [int(t) for t in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    # guest time is already counted in user time.
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class MagpieServer:
    """``magpie serve`` in its own process (and session, so a Ctrl-C reaches only the bench)."""

    host = "127.0.0.1"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self._stdout = data_dir.parent / f"{data_dir.name}.stdout"
        self._stderr = data_dir.parent / f"{data_dir.name}.stderr"
        self._process: subprocess.Popen[bytes] | None = None
        self.credentials: Credentials | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> MagpieServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._print_log_tail()
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        command = _magpie_command(
            "serve", "--data-dir", str(self.data_dir), "--host", self.host, "--port", str(self.port)
        )
        with open(self._stdout, "wb") as out, open(self._stderr, "wb") as err:
            self._process = subprocess.Popen(
                command,
                stdout=out,
                stderr=err,
                env=_server_env(),
                cwd=self.data_dir.parent,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        self.credentials = _credentials(self._wait_for_first_line(deadline))
        self._wait_for_port(deadline)

    def _wait_for_first_line(self, deadline: float) -> str:
        while time.monotonic() < deadline:
            self._check_alive()
            text = self._stdout.read_text()
            if "\n" in text:
                return text.split("\n", 1)[0]
            time.sleep(0.05)
        raise TimeoutError("magpie serve printed no credentials")

    def _wait_for_port(self, deadline: float) -> None:
        # uvicorn runs the lifespan start-up before it listens: listening means ready.
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"magpie serve is not listening on {self.address}")

    def _check_alive(self) -> None:
        assert self._process is not None
        if self._process.poll() is not None:
            self._print_log_tail()
            raise RuntimeError(f"magpie serve exited with code {self._process.returncode}")

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM lets Magpie drain its queue and checkpoint; SIGKILL if that hangs."""
        if self._process is None or self._process.poll() is not None:
            self._process = None
            return
        tree = self.processes()  # its children (a capture process) too
        process, self._process = self._process, None
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # A child left behind by a server that was killed is not left running.
        for pid in tree[1:]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def _print_log_tail(self, lines: int = 30) -> None:
        try:
            tail = self._stderr.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return
        if tail:
            print("--- magpie serve stderr (tail) ---", *tail, sep="\n", file=sys.stderr)

    # -- observation ------------------------------------------------------

    # Magpie runs capture in a child process: it is the server too, so CPU and
    # memory count it.

    def processes(self) -> list[int]:
        """The server's pid and those of all its descendants."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = _stat_fields(stat.read_text())
            except OSError:  # gone meanwhile
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, pending = [], [self.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending += children.get(pid, [])
        return found

    def peak_rss_bytes(self) -> int:
        """The sum of each server process's VmHWM (the most resident memory it has used).

        An upper bound of the processes' combined peak, which may not coincide in time.
        """
        total = 0
        for pid in self.processes():
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            # A zombie has no VmHWM line.
            total += next(
                (int(line.split()[1]) * 1024 for line in lines if line.startswith("VmHWM:")), 0
            )
        if not total:
            raise RuntimeError("VmHWM missing from /proc status")
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time of all the server's processes and threads."""
        total = 0
        for pid in self.processes():
            try:
                fields = _stat_fields(Path(f"/proc/{pid}/stat").read_text())
            except OSError:
                continue
            # After "pid (comm) ", utime and stime are the 12th and 13th fields.
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    async def status(self, connection: Connection) -> IngestionStatus:
        assert self.credentials is not None
        wire = get_request(
            STATUS_PATH,
            self.address,
            {"Authorization": f"Bearer {self.credentials.personal_api_key}"},
        )
        response = await connection.request(wire)
        if response.status != 200:
            raise RuntimeError(f"{STATUS_PATH} answered {response.status}: {response.body[:200]!r}")
        return IngestionStatus.from_json(json.loads(response.body))


def _stat_fields(stat: str) -> list[str]:
    """The fields of /proc/<pid>/stat after "pid (comm) " (comm may hold spaces)."""
    return stat[stat.rindex(")") + 2 :].split()
