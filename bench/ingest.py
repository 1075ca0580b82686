"""Ingestion benchmark: Magpie end to end on this machine, against its targets.

    python bench/ingest.py [--events N] [--quick] [--no-write]

Phase A offers a fixed 20,000 anonymous events/s for 20 s and measures capture
latency; phase B sends anonymous events as fast as the server accepts and
measures how soon every event is queryable; the ceiling times DuckDB inserting
the same rows without the rest of Magpie. Phase C is phase B again with the
identified workload (30% of users sign up: `$identify`, `$set`, aliases, groups,
merges), and both workloads are also run through Magpie's ingest code
in-process, stage by stage, for the cost of an event of each. Each phase runs
against its own `magpie serve` subprocess; the load generator is this process.
Results are printed and kept in docs/benchmarks.md. Nothing is asserted: this is
a report, not a test.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

# Run as a script, this folder is on sys.path; the helpers are siblings.
from _ceiling import CeilingResult, measure_ceiling
from _events import (
    EVENTS_PER_REQUEST,
    CaptureRequest,
    generate_identified_requests,
    generate_requests,
)
from _http import run_async
from _identified import count_in_store, count_over_api, stored_identities
from _load import LoadResult, Work, fixed_rate, saturate
from _report import NOISY_CORES, Identified, Phase, Results, Targets, render, write_section
from _server import MagpieServer, copy_data_dir, init_data_dir, machine_busy_seconds

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
_STARTED = time.perf_counter()


@dataclass(frozen=True)
class Plan:
    rate: int = 20_000  # events/s offered in phase A
    fixed_seconds: float = 20.0
    fixed_connections: int = 32  # enough that 200 requests/s never wait for a free one
    saturation_events: int = 500_000
    saturation_connections: int = 16
    quick: bool = False

    @property
    def fixed_requests(self) -> int:
        return round(self.rate * self.fixed_seconds / EVENTS_PER_REQUEST)

    @property
    def saturation_requests(self) -> int:
        return max(1, self.saturation_events // EVENTS_PER_REQUEST)


def parse_args(argv: Sequence[str] | None) -> tuple[Plan, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, help="events sent in phases B and C each (default 500,000)"
    )
    parser.add_argument("--quick", action="store_true", help="a ~20 s smoke run")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    plan = Plan(fixed_seconds=3.0, saturation_events=30_000, quick=True) if args.quick else Plan()
    if args.events is not None:
        if args.events < EVENTS_PER_REQUEST:
            parser.error(f"--events must be at least {EVENTS_PER_REQUEST}")
        plan = replace(plan, saturation_events=args.events)
    return plan, not args.no_write


def main(argv: Sequence[str] | None = None) -> int:
    plan, write = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the servers are stopped and temp dirs removed.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with tempfile.TemporaryDirectory(prefix="magpie-bench-") as tmp:
        results = run(plan, Path(tmp))
    section = render(results)
    print(section)
    if write:
        write_section(DOC, section)
        progress(f"wrote {DOC}")
    return 0


def run(plan: Plan, tmp: Path) -> Results:
    progress("initialising a data folder")
    template = tmp / "template"
    token = init_data_dir(template).project_token

    progress(
        f"generating {plan.fixed_requests + 2 * plan.saturation_requests:,} requests "
        f"of {EVENTS_PER_REQUEST} events"
    )
    fixed_requests = generate_requests(plan.fixed_requests, token, label="fixed")
    saturation_requests = generate_requests(plan.saturation_requests, token, label="saturation")
    workload = generate_identified_requests(plan.saturation_requests, token, label="identified")

    progress(f"phase A: {plan.rate:,} events/s for {plan.fixed_seconds:.0f} s")
    fixed, _ = run_phase(
        copy_data_dir(template, tmp / "fixed"),
        fixed_requests,
        lambda server, work: fixed_rate(
            server,
            work,
            requests_per_second=plan.rate / EVENTS_PER_REQUEST,
            connections=plan.fixed_connections,
        ),
    )
    del fixed_requests  # only B's requests are needed again, by the ceiling

    def flat_out(server: MagpieServer, work: Work) -> Coroutine[Any, Any, LoadResult]:
        return saturate(server, work, connections=plan.saturation_connections)

    progress(f"phase B: {plan.saturation_events:,} anonymous events as fast as accepted")
    saturation, _ = run_phase(
        copy_data_dir(template, tmp / "saturation"), saturation_requests, flat_out
    )

    batch_events = _average_worker_batch(saturation.load)
    progress(f"ceiling: inserting B's rows in batches of ~{batch_events:,} events")
    ceiling, ceiling_other_cores = in_process(
        saturation_requests, template, tmp / "ceiling", batch_events, ceiling=True
    )
    del saturation_requests

    progress(f"phase C: {workload.events:,} events of the identified workload as fast as accepted")
    identified_dir = copy_data_dir(template, tmp / "identified")
    identified, api_counts = run_phase(
        identified_dir, workload.requests, flat_out, inspect=count_over_api
    )
    stored = stored_identities(api_counts, count_in_store(identified_dir))

    batch_events = _average_worker_batch(identified.load)
    progress(f"in-process: C's events stage by stage in batches of ~{batch_events:,} events")
    stages, stages_other_cores = in_process(
        workload.requests, template, tmp / "identified-stages", batch_events, ceiling=False
    )
    progress("done")
    return Results(
        plan.quick,
        plan.rate,
        fixed,
        saturation,
        ceiling,
        ceiling_other_cores,
        Identified(replace(workload, requests=[]), identified, stored, stages, stages_other_cores),
        Targets(),
    )


def in_process(
    requests: Sequence[CaptureRequest],
    template: Path,
    work_dir: Path,
    batch_events: int,
    *,
    ceiling: bool,
) -> tuple[CeilingResult, float]:
    """The in-process stage timings (and ceiling), with the CPU other processes used meanwhile."""
    machine_cpu, own_cpu, wall = machine_busy_seconds(), time.process_time(), time.perf_counter()
    work_dir.mkdir()
    result = measure_ceiling(requests, template, work_dir, batch_events, ceiling=ceiling)
    others = machine_busy_seconds() - machine_cpu - (time.process_time() - own_cpu)
    other_cores = max(0.0, others / (time.perf_counter() - wall))
    if other_cores > NOISY_CORES:
        progress(f"  warning: other processes used {other_cores:.2f} cores meanwhile")
    return result, other_cores


Drive = Callable[[MagpieServer, Work], Coroutine[Any, Any, LoadResult]]
T = TypeVar("T")


def _nothing(server: MagpieServer) -> None:
    return None


def run_phase(
    data_dir: Path,
    requests: Sequence[CaptureRequest],
    drive: Drive,
    inspect: Callable[[MagpieServer], T] = _nothing,  # type: ignore[assignment]
) -> tuple[Phase, T]:
    """Start a server, drive it until every event is stored, measure it, stop it.

    ``inspect`` then looks at the server before it stops, untimed.
    """
    with MagpieServer(data_dir) as server:
        work = [(request.wire(server.address), request.events) for request in requests]
        server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
        machine_cpu, wall = machine_busy_seconds(), time.perf_counter()
        load = run_async(drive(server, work))
        phase = Phase(
            load=load,
            server_cpu_seconds=server.cpu_seconds() - server_cpu,
            client_cpu_seconds=time.process_time() - client_cpu,
            machine_cpu_seconds=machine_busy_seconds() - machine_cpu,
            wall_seconds=time.perf_counter() - wall,
            peak_rss=server.peak_rss_bytes(),  # before the shutdown checkpoint
        )
        inspected = inspect(server)
    progress(
        f"  {load.events:,} events acked in {load.capture_seconds:.1f} s, "
        f"all stored after {load.end_to_end_seconds:.1f} s, {load.failures} failures"
    )
    if phase.other_cores > NOISY_CORES:
        progress(f"  warning: other processes used {phase.other_cores:.2f} cores meanwhile")
    return phase, inspected


def _average_worker_batch(load: LoadResult) -> int:
    """Events per worker transaction in a phase, so the in-process run batches alike."""
    final = load.final
    assert final is not None
    return max(1_000, round(final.events_stored / max(1, final.batches)))


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
