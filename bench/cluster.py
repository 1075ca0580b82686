"""Cluster-mode benchmark: ``magpie serve`` on ClickHouse (chdb) + PostgreSQL beside
the embedded mode, in the same run.

    python bench/cluster.py [--events N] [--rate R] [--no-write]

Setups: embedded; cluster with the local queue; cluster on NATS JetStream with
one worker and with two (``magpie serve``'s own and a ``magpie worker``
process sharing the partitions). Each runs one ``magpie serve`` subprocess
(capture, a worker, and in cluster mode the loader into ClickHouse) on a fresh
data folder (and, in cluster mode, a fresh PostgreSQL database, chdb path and
NATS stream):

- capture latency at a fixed offered rate (p50/p99 of the 200s);
- events/s end to end when sending as fast as the server accepts: from the
  first request until every event is queryable (stored in DuckDB, or loaded
  into ClickHouse), and capture's own acceptance rate.

The load generator is this process, on the same cores. Results are printed as
a table and kept in docs/benchmarks.md (section ``cluster``). Nothing is
asserted: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from _events import EVENTS_PER_REQUEST, generate_requests
from _http import Connection, get_request, run_async
from _load import LoadResult, fixed_rate, percentile, saturate
from _report import machine, table, write_section
from _server import STATUS_PATH, MagpieServer, free_port, init_data_dir
from psycopg import sql

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
QUERYABLE_TIMEOUT = 600.0  # a run that never gets there fails instead of hanging
NATS_URL = os.environ.get("MAGPIE_BENCH_NATS_URL", "nats://127.0.0.1:4222")
ADMIN_URL = os.environ.get(
    "MAGPIE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class ModeResult:
    mode: str
    workers: int
    events: int
    capture_p50_ms: float
    capture_p99_ms: float
    offered_rate: int
    capture_rate: float  # events/s accepted while saturating
    end_to_end_rate: float  # events/s until every event is queryable
    server_cpu_seconds: float
    # CPU seconds of each process while saturated, and the wall seconds it took.
    cpu_by_process: dict[str, float]
    saturated_seconds: float
    # The machine's 1-minute load average when the setup ended (it is shared).
    load_average: float


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"magpie_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass(frozen=True)
class Setup:
    mode: str  # embedded | cluster (local queue) | cluster-nats
    workers: int = 1  # cluster-nats: `magpie serve`'s own, plus `magpie worker` processes

    @property
    def name(self) -> str:
        return f"{self.mode}-{self.workers}"


SETUPS = (Setup("embedded"), Setup("cluster"), Setup("cluster-nats"), Setup("cluster-nats", 2))
DEFAULT_SETUPS = tuple(s.name for s in SETUPS)


@contextmanager
def mode_environment(setup: Setup, folder: Path) -> Iterator[None]:
    """MAGPIE_* variables for the mode; ``magpie init``, ``serve`` and ``worker`` inherit them."""
    if setup.mode == "embedded":
        yield
        return
    with postgres_database() as url:
        values = {
            "MAGPIE_DATABASE_URL": url,
            "MAGPIE_EVENTS_URL": f"chdb://{folder / 'chdb'}?database=bench",
        }
        if setup.mode == "cluster-nats":
            values["MAGPIE_QUEUE_URL"] = f"{NATS_URL}/bench_{secrets.token_hex(4)}"
        os.environ.update(values)
        try:
            yield
        finally:
            for name in values:
                del os.environ[name]
            if "MAGPIE_QUEUE_URL" in values:
                drop_streams(values["MAGPIE_QUEUE_URL"])


def drop_streams(url: str) -> None:
    from magpie.queue.nats import NatsQueue

    queue = NatsQueue(url)
    for stream in (queue.names.events, queue.names.processed, f"KV_{queue.names.leases}"):

        async def drop(js, stream=stream):  # type: ignore[no-untyped-def]
            with contextlib.suppress(Exception):  # never created
                await js.delete_stream(stream)

        queue.client.call(drop)
    queue.close()


@contextmanager
def extra_workers(count: int, folder: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``magpie worker`` processes beside the server (they take their share of the
    partitions). Each is ended when the setup ends, however it ends (SIGTERM, then
    SIGKILL if it lingers), so no worker outlives the bench."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(count):
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "magpie.cli",
                        "worker",
                        "--data-dir",
                        str(folder / f"w{i}"),
                        "--port",
                        str(free_port()),
                    ],
                    env={**os.environ, "MAGPIE_LOG_LEVEL": "warning"},
                    stdout=subprocess.DEVNULL,
                )
            )
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nats_server_pid() -> int | None:
    """The NATS server's process (shared with anything else using it), if it is here."""
    for stat in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if stat.read_text().strip() == "nats-server":
                return int(stat.parent.name)
    return None


def role_processes(
    server: MagpieServer, workers: list[subprocess.Popen[bytes]], mode: str
) -> dict[str, int]:
    """Each process of the setup by what it runs, for CPU per role."""
    assert server.pid is not None
    found = {
        "serve: worker, loader, API" + (", capture" if mode == "cluster-nats" else ""): server.pid
    }
    for pid in server.processes():
        if pid != server.pid:
            found["capture process" if mode != "cluster-nats" else f"serve child {pid}"] = pid
    for n, worker in enumerate(workers, start=2):
        found[f"magpie worker #{n}"] = worker.pid
    if mode == "cluster-nats" and (nats := nats_server_pid()) is not None:
        found["nats-server (shared)"] = nats
    return found


def acknowledged(result: LoadResult) -> int:
    """Events capture answered 200 for (a 503 under saturation is the SDK's to retry:
    only the acknowledged ones are owed to queries)."""
    return sum(s.events for s in result.samples if s.ok)


async def queryable(server: MagpieServer, expected: int, mode: str) -> None:
    """Wait until every acknowledged event is where queries read it."""
    deadline = time.monotonic() + QUERYABLE_TIMEOUT
    assert server.credentials is not None
    wire = get_request(
        STATUS_PATH,
        server.address,
        {"Authorization": f"Bearer {server.credentials.personal_api_key}"},
    )
    connection = await Connection.open(server.host, server.port)
    try:
        while True:
            status = json.loads((await connection.request(wire)).body)
            done = (
                status["worker"]["events_stored"]
                if mode == "embedded"
                else status["loader"]["events_loaded"]
            )
            if done >= expected:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{done} of {expected} events queryable; gave up")
            await asyncio.sleep(0.02)
    finally:
        await connection.close()


def run_mode(setup: Setup, events: int, rate: int, root: Path) -> ModeResult:
    folder = root / setup.name
    folder.mkdir()
    mode = setup.mode
    with mode_environment(setup, folder):
        credentials = init_data_dir(folder / "data")
        requests = max(1, events // EVENTS_PER_REQUEST)
        token = credentials.project_token
        warm = generate_requests(requests // 4 or 1, token, label=f"{mode}-fixed")
        burst = generate_requests(requests, token, label=f"{mode}-burst")
        with (
            MagpieServer(folder / "data") as server,
            extra_workers(setup.workers - 1, folder) as workers,
        ):
            host = server.address
            fixed_work = [(r.wire(host), r.events) for r in warm]
            fixed = run_async(
                fixed_rate(
                    server,
                    fixed_work,
                    requests_per_second=rate / EVENTS_PER_REQUEST,
                    connections=32,
                )
            )
            run_async(queryable(server, acknowledged(fixed), mode))
            cpu_before = server.cpu_seconds()
            roles = role_processes(server, workers, mode)
            role_cpu = {name: process_cpu(pid) for name, pid in roles.items()}
            started = time.perf_counter()
            saturated = run_async(
                saturate(server, [(r.wire(host), r.events) for r in burst], connections=16)
            )
            accepted = time.perf_counter()
            run_async(queryable(server, acknowledged(fixed) + acknowledged(saturated), mode))
            finished = time.perf_counter()
            cpu = server.cpu_seconds() - cpu_before
            role_cpu = {name: process_cpu(pid) - role_cpu[name] for name, pid in roles.items()}
    latencies = fixed.latencies()
    return ModeResult(
        mode,
        setup.workers,
        acknowledged(saturated),
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        rate,
        acknowledged(saturated) / (accepted - started),
        acknowledged(saturated) / (finished - started),
        cpu,
        role_cpu,
        finished - started,
        os.getloadavg()[0],
    )


def render(results: list[ModeResult]) -> str:
    rows = [
        (
            r.mode,
            str(r.workers),
            f"{r.events:,}",
            f"{r.capture_p50_ms:.1f} / {r.capture_p99_ms:.1f}",
            f"{r.capture_rate:,.0f}",
            f"{r.end_to_end_rate:,.0f}",
            f"{r.server_cpu_seconds:.1f}",
        )
        for r in results
    ]
    header = (
        "mode",
        "workers",
        "events",
        f"capture p50 / p99 ms at {results[0].offered_rate:,}/s",
        "capture events/s",
        "end to end events/s",
        "server CPU s",
    )
    lines = ["### Cluster mode beside embedded (bench/cluster.py)", ""]
    lines += table(header, rows)
    lines += ["", "CPU while saturated, per process (seconds, and cores busy on average):", ""]
    for r in results:
        busy = ", ".join(
            f"{name} {seconds:.1f} s ({seconds / r.saturated_seconds:.2f})"
            for name, seconds in r.cpu_by_process.items()
        )
        lines.append(
            f"- {r.mode}, {r.workers} worker(s), {r.saturated_seconds:.1f} s"
            f" (load average {r.load_average:.1f} at its end): {busy}"
        )
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in machine()), ""]
    lines += ["```json", json.dumps([asdict(r) for r in results], indent=1), "```"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--rate", type=int, default=5_000, help="events/s offered for latency")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--setups", default=",".join(DEFAULT_SETUPS), help="which of them, by name")
    args = parser.parse_args()
    # Stopped from outside (a timeout, make): unwind, so every process is ended.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    setups = [s for s in SETUPS if s.name in args.setups.split(",")]
    with tempfile.TemporaryDirectory(prefix="magpie-bench-cluster-") as tmp:
        results = []
        for setup in setups:
            results.append(run_mode(setup, args.events, args.rate, Path(tmp)))
            print(json.dumps(asdict(results[-1])), flush=True)  # kept if a later one fails
    section = render(results)
    print(section)
    if not args.no_write:
        write_section(DOC, section, name="cluster")


if __name__ == "__main__":
    sys.exit(main())
