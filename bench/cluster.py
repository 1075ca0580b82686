"""Cluster-mode benchmark: ``magpie serve`` on ClickHouse (chdb) + PostgreSQL beside
the embedded mode, in the same run.

    python bench/cluster.py [--events N] [--rate R] [--no-write]

For each mode, one ``magpie serve`` subprocess (capture in its own process, one
ingest worker; cluster mode adds the loader into ClickHouse) on a fresh data
folder (and, for cluster mode, a fresh PostgreSQL database and chdb path):

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
import json
import os
import secrets
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
from _load import fixed_rate, percentile, saturate
from _report import machine, table, write_section
from _server import STATUS_PATH, MagpieServer, init_data_dir
from psycopg import sql

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
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


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"magpie_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def mode_environment(mode: str, folder: Path) -> Iterator[None]:
    """MAGPIE_* variables for the mode; ``magpie init`` and ``serve`` inherit them."""
    if mode == "embedded":
        yield
        return
    with postgres_database() as url:
        os.environ["MAGPIE_DATABASE_URL"] = url
        os.environ["MAGPIE_EVENTS_URL"] = f"chdb://{folder / 'chdb'}?database=bench"
        try:
            yield
        finally:
            del os.environ["MAGPIE_DATABASE_URL"], os.environ["MAGPIE_EVENTS_URL"]


async def queryable(server: MagpieServer, expected: int, mode: str) -> None:
    """Wait until every event is where queries read it."""
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
                status["loader"]["events_loaded"]
                if mode == "cluster"
                else status["worker"]["events_stored"]
            )
            if done >= expected:
                return
            await asyncio.sleep(0.02)
    finally:
        await connection.close()


def run_mode(mode: str, events: int, rate: int, root: Path) -> ModeResult:
    folder = root / mode
    folder.mkdir()
    with mode_environment(mode, folder):
        credentials = init_data_dir(folder / "data")
        requests = max(1, events // EVENTS_PER_REQUEST)
        token = credentials.project_token
        warm = generate_requests(requests // 4 or 1, token, label=f"{mode}-fixed")
        burst = generate_requests(requests, token, label=f"{mode}-burst")
        with MagpieServer(folder / "data") as server:
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
            run_async(queryable(server, fixed.events, mode))
            cpu_before = server.cpu_seconds()
            started = time.perf_counter()
            saturated = run_async(
                saturate(server, [(r.wire(host), r.events) for r in burst], connections=16)
            )
            accepted = time.perf_counter()
            run_async(queryable(server, fixed.events + saturated.events, mode))
            finished = time.perf_counter()
            cpu = server.cpu_seconds() - cpu_before
    latencies = fixed.latencies()
    return ModeResult(
        mode,
        1,
        saturated.events,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        rate,
        saturated.events / (accepted - started),
        saturated.events / (finished - started),
        cpu,
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
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in machine()), ""]
    lines += ["```json", json.dumps([asdict(r) for r in results], indent=1), "```"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--rate", type=int, default=5_000, help="events/s offered for latency")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="magpie-bench-cluster-") as tmp:
        results = [
            run_mode(mode, args.events, args.rate, Path(tmp)) for mode in ("embedded", "cluster")
        ]
    section = render(results)
    print(section)
    if not args.no_write:
        write_section(DOC, section, name="cluster")


if __name__ == "__main__":
    sys.exit(main())
