"""/flags throughput and latency with 50 flags over many persons, beside the same
server's HTTP ceiling.

    python bench/flags.py [--persons 100000] [--requests 20000] [--connections 16]
                          [--ingest-rate 0] [--no-write]

A fresh ``magpie serve`` gets 50 active flags (half with person-property
conditions, three of those through cohorts, some multivariate with payloads,
some on groups, one continuity flag) and ``--persons`` persons made by ingestion (``$identify`` with
``$set``). Then, closed loop on ``--connections`` keep-alive connections:

- **flags**: ``POST /flags/?v=2`` as posthog-js sends it (gzip, text/plain),
  half for stored persons and half for anonymous ids, some with groups;
- **ceiling**: the same requests with ``disable_flags: true``, which the same
  endpoint decodes, checks the token of and answers without evaluating: the
  HTTP and body-parsing cost alone.

``--ingest-rate N`` also sends N events/s of /batch/ while the flags phase runs
(the target is measured with 10,000). Results are printed and kept in
docs/benchmarks.md. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _http import Connection, post_request, run_async  # noqa: E402
from _load import percentile  # noqa: E402
from _report import machine, table, write_section  # noqa: E402
from _server import MagpieServer, init_data_dir  # noqa: E402

DOC = BENCH.parent / "docs" / "benchmarks.md"
TARGET_RPS = 3_000
TARGET_P99_MS = 25.0
PLANS = ("free", "pro", "team", "enterprise")
VARIANTS = {
    "variants": [
        {"key": "control", "rollout_percentage": 50},
        {"key": "test", "rollout_percentage": 25},
        {"key": "bold", "rollout_percentage": 25},
    ]
}


def flag_definitions(cohorts: list[int] | None = None) -> list[dict[str, Any]]:
    """50 flags: 25 by person property (3 of them through cohorts when ``cohorts``
    are given), 10 multivariate, 5 on groups, 10 rollouts."""
    flags: list[dict[str, Any]] = []
    for n, cohort_id in enumerate(cohorts or []):
        condition = {"key": "id", "type": "cohort", "value": cohort_id, "operator": "in"}
        flags.append(
            {
                "key": f"cohort-{n}",
                "filters": {"groups": [{"properties": [condition], "rollout_percentage": 100}]},
            }
        )
    for n in range(25 - len(flags)):
        prop = [
            {"key": "plan", "value": PLANS[n % 4], "type": "person"},
            {"key": "email", "operator": "icontains", "value": "@acme", "type": "person"},
            {"key": "age", "operator": "gte", "value": 18 + n, "type": "person"},
        ][n % 3]
        flags.append(
            {
                "key": f"person-{n}",
                "filters": {"groups": [{"properties": [prop], "rollout_percentage": 50 + n}]},
            }
        )
    for n in range(10):
        flags.append(
            {
                "key": f"experiment-{n}",
                "ensure_experience_continuity": n == 0,
                "filters": {
                    "groups": [{"properties": [], "rollout_percentage": 100}],
                    "multivariate": VARIANTS,
                    "payloads": {"test": json.dumps({"n": n}), "bold": json.dumps({"b": n})},
                },
            }
        )
    for n in range(5):
        flags.append(
            {
                "key": f"company-{n}",
                "filters": {
                    "aggregation_group_type_index": 0,
                    "groups": [
                        {
                            "properties": [
                                {
                                    "key": "seats",
                                    "operator": "gt",
                                    "value": 10 * n,
                                    "type": "group",
                                    "group_type_index": 0,
                                }
                            ],
                            "rollout_percentage": 80,
                        }
                    ],
                },
            }
        )
    for n in range(10):
        flags.append(
            {
                "key": f"rollout-{n}",
                "filters": {"groups": [{"properties": [], "rollout_percentage": 10 * n}]},
            }
        )
    return flags


def _cohort(name: str, *leaves: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "filters": {
            "properties": {"type": "OR", "values": [{"type": "AND", "values": list(leaves)}]}
        },
    }


COHORTS = (
    _cohort("Pro", {"key": "plan", "type": "person", "value": "pro"}),
    _cohort("Adults", {"key": "age", "type": "person", "operator": "gte", "value": 18}),
    {"name": "Beta", "is_static": True, "distinct_ids": [f"person-{n}" for n in range(0, 1000, 7)]},
)


def setup(server: MagpieServer, persons: int) -> None:
    """Persons and groups first (a static cohort maps its ids to persons when made),
    then the cohorts, then the flags."""
    assert server.credentials is not None
    credentials = server.credentials
    headers = {"Authorization": f"Bearer {credentials.personal_api_key}"}
    with httpx.Client(base_url=f"http://{server.address}", headers=headers, timeout=60) as api:
        ingest_persons(api, credentials.project_token, persons)
        project = f"/api/projects/{credentials.project_id}"
        cohorts = []
        for body in COHORTS:
            made = api.post(f"{project}/cohorts/", json=body)
            made.raise_for_status()
            cohorts.append(int(made.json()["id"]))
        for flag in flag_definitions(cohorts):
            api.post(f"{project}/feature_flags/", json=flag).raise_for_status()


def ingest_persons(api: httpx.Client, token: str, persons: int) -> None:
    rng = random.Random(1)
    sent = 0
    batch: list[dict[str, Any]] = [
        {
            "event": "$groupidentify",
            "distinct_id": "setup",
            "properties": {
                "$group_type": "company",
                "$group_key": f"co-{c}",
                "$group_set": {"seats": c},
            },
        }
        for c in range(100)
    ]
    for n in range(persons):
        props = {
            "plan": rng.choice(PLANS),
            "email": f"p{n}@{rng.choice(['acme.com', 'other.io'])}",
            "age": rng.randint(12, 70),
        }
        batch.append(
            {"event": "$identify", "distinct_id": f"person-{n}", "properties": {"$set": props}}
        )
        if len(batch) >= 500 or n == persons - 1:
            api.post("/batch/", json={"api_key": token, "batch": batch}).raise_for_status()
            sent += len(batch)
            batch = []
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        status = api.get("/api/ingestion/status/").json()
        if status["worker"].get("events_stored", 0) >= sent:
            return
        time.sleep(0.5)
    raise TimeoutError("persons were not ingested in time")


def flag_requests(
    token: str, persons: int, count: int, *, disabled: bool, host: str
) -> list[bytes]:
    rng = random.Random(2)
    wires = []
    for n in range(count):
        known = rng.random() < 0.5
        body: dict[str, Any] = {
            "token": token,
            "distinct_id": f"person-{rng.randrange(persons)}" if known else f"anon-{n}",
            "person_properties": {"$lib": "web", "$lib_version": "1.449.2"},
            "groups": {"company": f"co-{rng.randrange(100)}"} if rng.random() < 0.3 else {},
        }
        if disabled:
            body["disable_flags"] = True
        payload = gzip.compress(json.dumps(body).encode())
        wires.append(
            post_request(
                "/flags/?v=2",
                host,
                payload,
                {"Content-Type": "text/plain", "Content-Encoding": "gzip"},
            )
        )
    return wires


@dataclass
class Phase:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    failures: int
    cpu_seconds: float  # of every server process, over the phase

    @property
    def cpu_us(self) -> float:
        """Server CPU per request: robust on a shared machine, unlike requests/s."""
        return self.cpu_seconds / self.requests * 1e6

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def closed_loop(
    server: MagpieServer, name: str, wires: list[bytes], connections: int
) -> Phase:
    pool = [await Connection.open(server.host, server.port) for _ in range(connections)]
    pending = iter(wires)
    latencies: list[float] = []
    failures = 0

    async def drive(connection: Connection) -> None:
        nonlocal failures
        for wire in pending:
            sent = time.perf_counter()
            response = await connection.request(wire)
            latencies.append(time.perf_counter() - sent)
            failures += response.status != 200

    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(drive(c) for c in pool))
    seconds = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu_before
    for connection in pool:
        await connection.close()
    return Phase(name, len(wires), seconds, sorted(latencies), failures, cpu)


async def ingest_at(server: MagpieServer, rate: int, stop: asyncio.Event) -> int:
    """/batch/ of 100 events at ``rate`` events/s until stopped; returns events sent."""
    assert server.credentials is not None
    connection = await Connection.open(server.host, server.port)
    sent, n = 0, 0
    started = time.perf_counter()
    while not stop.is_set():
        batch = [
            {
                "event": "$pageview",
                "distinct_id": f"person-{(n + i) % 1000}",
                "properties": {"$current_url": "/x"},
            }
            for i in range(100)
        ]
        n += 100
        body = json.dumps({"api_key": server.credentials.project_token, "batch": batch}).encode()
        await connection.request(
            post_request("/batch/", server.address, body, {"Content-Type": "application/json"})
        )
        sent += 100
        due = started + sent / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
    await connection.close()
    return sent


async def measure(server: MagpieServer, args: argparse.Namespace) -> tuple[Phase, Phase, int]:
    assert server.credentials is not None
    token = server.credentials.project_token
    ceiling = flag_requests(token, args.persons, args.requests, disabled=True, host=server.address)
    flags = flag_requests(token, args.persons, args.requests, disabled=False, host=server.address)
    await closed_loop(server, "warm-up", flags[: min(2000, len(flags))], args.connections)
    ceiling_phase = await closed_loop(server, "ceiling (parse only)", ceiling, args.connections)
    stop = asyncio.Event()
    ingesting = (
        asyncio.create_task(ingest_at(server, args.ingest_rate, stop)) if args.ingest_rate else None
    )
    flags_phase = await closed_loop(server, "/flags, 50 flags", flags, args.connections)
    stop.set()
    ingested = await ingesting if ingesting else 0
    return flags_phase, ceiling_phase, ingested


def report(args: argparse.Namespace, phases: tuple[Phase, Phase, int]) -> str:
    flags_phase, ceiling_phase, ingested = phases
    p99_ms = percentile(flags_phase.latencies, 99) * 1000
    met = flags_phase.rps >= TARGET_RPS and p99_ms <= TARGET_P99_MS
    rows = [
        (
            p.name,
            f"{p.requests:,}",
            f"{p.rps:,.0f}",
            f"{percentile(p.latencies, 50) * 1000:.1f}",
            f"{percentile(p.latencies, 99) * 1000:.1f}",
            f"{p.cpu_us:,.0f}",
            str(p.failures),
        )
        for p in (flags_phase, ceiling_phase)
    ]
    lines = [
        "## Feature flags: /flags",
        "",
        f"`python bench/flags.py --persons {args.persons} --requests {args.requests}"
        f" --connections {args.connections} --ingest-rate {args.ingest_rate}`: 50 active flags"
        " (25 by person property, 3 of them through cohorts, two by properties and one"
        f" static; 10 multivariate, 5 on groups, 10 rollouts), {args.persons:,}"
        " persons; half the requests for stored persons, half anonymous, 30% with a group.",
        f" Ingestion alongside: {args.ingest_rate:,} events/s requested, {ingested:,} events sent.",
        f" Target: {TARGET_RPS:,} requests/s with p99 ≤ {TARGET_P99_MS:g} ms.",
        "",
        *table(
            (
                "phase",
                "requests",
                "requests/s",
                "p50 ms",
                "p99 ms",
                "server CPU µs/request",
                "failures",
            ),
            rows,
        ),
        "",
        f"/flags runs at {flags_phase.rps / ceiling_phase.rps:.0%} of the ceiling's throughput;"
        f" target met: {'yes' if met else 'no'}. Load average when the run began (other"
        f" work on the machine): {args.load_average:.1f}. Server CPU per request is the"
        " CPU time of all the server's processes over the phase divided by its requests,"
        " which holds on a shared machine where requests/s do not; with ingestion"
        " alongside, the /flags phase's includes ingesting.",
        "",
        *table(("machine", ""), machine()),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--ingest-rate", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.load_average = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="magpie-bench-flags-") as folder:
        data_dir = Path(folder) / "data"
        init_data_dir(data_dir)
        with MagpieServer(data_dir) as server:
            setup(server, args.persons)
            phases = run_async(measure(server, args))
    text = report(args, phases)
    print(text)
    if not args.no_write:
        write_section(DOC, text, name="flags")


if __name__ == "__main__":
    main()
