"""Capture latency and server memory while heavy queries run.

    python bench/heavy_queries.py [--events N] [--seconds S] [--no-write]

A data folder is filled with N events (bench/query.py's data), then one
`magpie serve` takes a fixed 5,000 events/s of capture for S seconds twice:
once alone (the reference, same run, same server) and once while four clients
send the heaviest queries the API takes (a 1,000-value breakdown by distinct
id, hourly; a self-join; 100-million-character strings; a large group-by)
back to back, each in a process of its own at the lowest CPU priority (they
stand for users on other machines). It reports capture p50/p99/max for both, how each heavy query
ended (answered, or refused with which code) and the server's peak memory
against the query memory budget (DuckDB's limit plus the margin).
Nothing is asserted: this is a report.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _events import EVENTS_PER_REQUEST, generate_requests
from _http import run_async
from _load import LoadResult, fixed_rate, percentile
from _report import machine, table, write_section
from _server import MagpieServer, init_data_dir, machine_busy_seconds
from query import generate

from magpie.app import Magpie
from magpie.settings import Settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
RATE = 5_000  # events/s offered
QUERY_CLIENTS = 4
_CONTEXT = multiprocessing.get_context("fork")
P99_TARGET_MS = 50.0
MiB = 1024 * 1024

DATES = {"date_from": "2026-10-01", "date_to": "2026-10-30"}
HEAVY: dict[str, dict[str, object]] = {
    "1,000-value breakdown by distinct id, hourly over 7 days": {
        "kind": "TrendsQuery",
        "series": [{"event": "$pageview"}],
        "interval": "hour",
        "dateRange": {"date_from": "2026-10-01", "date_to": "2026-10-07"},
        "breakdownFilter": {
            "breakdown": "distinct_id",
            "breakdown_type": "hogql",
            "breakdown_limit": 1_000,
        },
    },
    "daily users by browser and person property, 30 days": {
        "kind": "TrendsQuery",
        "series": [{"event": None, "math": "dau"}, {"event": "$pageview", "math": "dau"}],
        "dateRange": DATES,
        "breakdownFilter": {"breakdown": "plan", "breakdown_type": "person"},
    },
    "self-join of all events by distinct id": {
        "kind": "HogQLQuery",
        "query": "SELECT count() FROM events a JOIN events b ON a.distinct_id = b.distinct_id",
    },
    "10 strings of 100 million characters": {
        "kind": "HogQLQuery",
        "query": "SELECT repeat('x', 100000000) FROM events LIMIT 10",
    },
    "50,000-row group-by over every distinct id": {
        "kind": "HogQLQuery",
        "query": "SELECT distinct_id, count(), uniq(properties.$session_id) FROM events "
        "GROUP BY distinct_id ORDER BY count() DESC LIMIT 50000",
    },
}


@dataclass
class QueryLog:
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def record(self, name: str, outcome: str, seconds: float) -> None:
        self.outcomes.setdefault(name, Counter())[outcome] += 1
        self.seconds.setdefault(name, []).append(seconds)


def _query_client(
    url: str, key: str, offset: int, names: list[str], stop: Any, results: Any
) -> None:
    """One client, in a process of its own: parsing big answers must not hold up the
    load generator's event loop (it would count as capture latency). At the lowest
    CPU priority: the clients stand for users on other machines, and here their
    parsing of megabytes of JSON would otherwise take the server's cores."""
    os.nice(19)
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        turn = offset
        while not stop.is_set():
            name = names[turn % len(names)]
            turn += 1
            started = time.perf_counter()
            response = http.post(url, json={"query": HEAVY[name]})
            body = response.json()
            outcome = "answered" if response.status_code == 200 else body.get("code", "?")
            results.put((name, f"{response.status_code} {outcome}", time.perf_counter() - started))


def heavy_clients(server: MagpieServer, names: list[str], stop: Any, results: Any) -> list[Any]:
    assert server.credentials is not None
    url = f"http://{server.address}/api/projects/{server.credentials.project_id}/query/"
    key = server.credentials.personal_api_key
    return [
        _CONTEXT.Process(
            target=_query_client, args=(url, key, i, names, stop, results), daemon=True
        )
        for i in range(QUERY_CLIENTS)
    ]


def capture_phase(server: MagpieServer, token: str, seconds: float, label: str) -> LoadResult:
    count = round(RATE * seconds / EVENTS_PER_REQUEST)
    requests = generate_requests(count, token, label=label)
    work = [(r.wire(server.address), r.events) for r in requests]
    return run_async(
        fixed_rate(server, work, requests_per_second=RATE / EVENTS_PER_REQUEST, connections=32)
    )


@dataclass
class Run:
    events: int
    seconds: float
    quiet: LoadResult
    heavy: LoadResult
    queries: QueryLog
    peak_rss: int
    budget: int
    machine_cores: float
    load_average: float  # the machine's, over the last minute, when the run ended


def run(events: int, seconds: float, tmp: Path, names: list[str]) -> Run:
    data_dir = tmp / "data"
    credentials = init_data_dir(data_dir)
    settings = Settings.load(data_dir=data_dir)
    magpie = Magpie(settings)
    progress(f"filling the data folder with {events:,} events")
    generate(magpie.db.cursor(), credentials.project_id, events)
    magpie.close()
    with MagpieServer(data_dir) as server:
        progress(f"quiet: {RATE:,} events/s for {seconds:.0f} s")
        quiet = capture_phase(server, credentials.project_token, seconds, "quiet")
        progress(f"heavy: the same while {QUERY_CLIENTS} clients send heavy queries")
        stop, results, log = _CONTEXT.Event(), _CONTEXT.Queue(), QueryLog()
        clients = heavy_clients(server, names, stop, results)
        busy, wall = machine_busy_seconds(), time.perf_counter()
        for client in clients:
            client.start()
        time.sleep(2)  # every client is inside a query before capture is measured
        heavy = capture_phase(server, credentials.project_token, seconds, "heavy")
        stop.set()
        for client in clients:
            client.join()
        while not results.empty():
            log.record(*results.get())
        used = machine_busy_seconds() - busy
        peak = server.peak_rss_bytes()
    return Run(
        events,
        seconds,
        quiet,
        heavy,
        log,
        peak,
        settings.query_memory_budget,
        max(0.0, used / (time.perf_counter() - wall)),
        os.getloadavg()[0],
    )


def _ms(load: LoadResult, q: float) -> str:
    return f"{percentile(load.latencies(from_due=True), q) * 1000:.1f}"


def report(result: Run) -> str:
    verdict = (
        "met"
        if percentile(result.heavy.latencies(from_due=True), 99) * 1000 < P99_TARGET_MS
        else "missed"
    )
    capture_rows = [
        (
            name,
            _ms(load, 50),
            _ms(load, 99),
            f"{max(load.latencies(from_due=True)) * 1000:.1f}",
            str(load.failures),
        )
        for name, load in (
            ("alone (reference)", result.quiet),
            ("with 4 heavy query clients", result.heavy),
        )
    ]
    query_rows = [
        (
            name,
            ", ".join(f"{n}× {o}" for o, n in sorted(result.queries.outcomes[name].items())),
            f"{statistics.median(result.queries.seconds[name]):.2f}",
        )
        for name in HEAVY
        if name in result.queries.outcomes
    ]
    return "\n".join(
        [
            "## Capture and memory under heavy queries",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d} by `bench/heavy_queries.py`: "
            f"{result.events:,} events stored, {RATE:,} events/s of capture offered for "
            f"{result.seconds:.0f} s alone and again while {QUERY_CLIENTS} clients send heavy "
            "queries back to back (at nice 19: they stand for users on other machines)."
            " Latency is from when each request was due.",
            "",
            *table(("capture", "p50 (ms)", "p99 (ms)", "max (ms)", "failures"), capture_rows),
            "",
            f"Target: capture p99 < {P99_TARGET_MS:.0f} ms while the heavy queries run: {verdict}.",
            "",
            *table(("heavy query", "outcomes", "median s"), query_rows),
            "",
            *table(
                ("memory", "MiB"),
                [
                    ("server peak (all processes, VmHWM)", f"{result.peak_rss / MiB:.0f}"),
                    ("query memory budget (DuckDB limit + margin)", f"{result.budget / MiB:.0f}"),
                ],
            ),
            "",
            f"All processes on the machine used {result.machine_cores:.2f} cores on average "
            f"during the heavy phase; its load average was {result.load_average:.1f} when the "
            f"run ended ({os.cpu_count()} cores)." + _shared_machine_note(result),
            "",
            *table(("Machine", ""), machine()),
        ]
    )


def _shared_machine_note(result: Run) -> str:
    """Other work on the machine moves every figure above; say so when it was there."""
    if result.load_average <= (os.cpu_count() or 1):
        return ""
    return (
        " **Indicative, shared machine:** other work ran beside the benchmark, so both "
        "rows are slower than on a quiet machine; compare them with each other."
    )


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--queries",
        help="comma-separated numbers (from 1) of the heavy queries to send, to find which "
        "one costs capture its latency; the section is written only for the whole mix",
    )
    args = parser.parse_args(argv)
    every = list(HEAVY)
    names = [every[int(n) - 1] for n in args.queries.split(",")] if args.queries else every
    with tempfile.TemporaryDirectory(prefix="magpie-bench-heavy-") as tmp:
        result = run(args.events, args.seconds, Path(tmp), names)
    section = report(result)
    print(section)
    if not args.no_write and names == every:
        write_section(DOC, section, name="heavy-queries")
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
