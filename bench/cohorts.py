"""Cohort benchmark: recomputing behavioural cohorts over N events.

Generates bench/query.py's data (100k users, 30% identified, 30 days) into a
Magpie data folder, then times ``CohortService.recompute`` (the definition
compiled to one query, run, and the membership stored, as the API and the
background refresh do) for each definition below, on DuckDB and, with
``--clickhouse``, on ClickHouse (chdb, the same rows copied through its
writers). Target: 10M events in at most 2 s. Results go to
docs/benchmarks.md.

    python bench/cohorts.py [--events 10000000] [--runs 3] [--clickhouse] [--no-write]
        [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _dataset import dataset  # noqa: E402
from _report import write_section  # noqa: E402
from query import DAYS, DOCS, NOW, machine, timed  # noqa: E402

from magpie.clock import FrozenClock  # noqa: E402
from magpie.cohorts.service import CohortService  # noqa: E402
from magpie.query.runner import QueryRunner  # noqa: E402
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner  # noqa: E402

TARGET_MS = 2000


def _did(event: str, value: str = "performed_event", **fields: Any) -> dict[str, Any]:
    return {"key": event, "type": "behavioral", "value": value, **fields}


def _cohort(*leaves: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"type": "AND", "values": list(leaves)}}


DAYS_30 = {"time_value": 30, "time_interval": "day"}
DEFINITIONS: dict[str, dict[str, Any]] = {
    "bought twice in 30 days and viewed a page in the last 7": _cohort(
        _did("purchase", "performed_event_multiple", **DAYS_30, operator="gte", operator_value=2),
        _did("$pageview", time_value=7, time_interval="day"),
    ),
    "viewed a product in each of the last 4 weeks": _cohort(
        _did(
            "viewed_product",
            "performed_event_regularly",
            time_value=1,
            time_interval="week",
            operator="gte",
            operator_value=1,
            min_periods=4,
            total_periods=4,
        )
    ),
    "stopped logging in (not in the last 7 of 30 days)": _cohort(
        _did(
            "logged_in",
            "stopped_performing_event",
            **DAYS_30,
            seq_time_value=7,
            seq_time_interval="day",
        )
    ),
    "added to cart, then bought within a day": _cohort(
        _did(
            "added_to_cart",
            "performed_event_sequence",
            **DAYS_30,
            seq_event="purchase",
            seq_time_value=1,
            seq_time_interval="day",
        )
    ),
    "a pro plan (person property) who signed up": _cohort(
        {"key": "plan", "type": "person", "value": "pro"}, _did("signed_up", **DAYS_30)
    ),
}


@dataclass(frozen=True)
class Row:
    engine: str
    definition: str
    members: int
    ms: float


def measure(events: int, runs: int, clickhouse: bool, data: Path | None) -> list[Row]:
    with dataset(events, DAYS, data, clock=FrozenClock(NOW), cohort_refresh_seconds=0) as stored:
        magpie, project = stored.magpie, stored.project
        runners: dict[str, QueryRunner] = {"DuckDB": magpie.query_runner}
        if clickhouse:
            client, database = stored.clickhouse()
            runners["ClickHouse"] = ClickHouseQueryRunner(client, database)
        rows = []
        for engine, runner in runners.items():
            service = CohortService(
                magpie.stores.cohorts, magpie.projects, runner, FrozenClock(NOW)
            )
            for name, filters in DEFINITIONS.items():
                made = service.create(project.id, name, "", filters)
                ms = timed(lambda s=service, c=made.id: s.recompute(project.id, c), runs)
                count = service.get(project.id, made.id).count or 0
                rows.append(Row(engine, name, count, ms))
                print(f"  {engine:10} {name:55} {count:8,} members {ms:9.1f} ms")
                # A reused folder keeps its events for the next run, not these cohorts.
                service.update(project.id, made.id, deleted=True)
        return rows


TARGET_EVENTS = 10_000_000


def render(rows: list[Row], events: int, runs: int, load: str) -> str:
    """``load``: the machine's load average, said as measured."""
    lines = [
        "## Cohort recomputation",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `bench/cohorts.py` on {machine()};"
        f" {load} (a shared machine: indicative).",
        f"{events:,} events (bench/query.py's data); each time is the median of {runs}"
        " recomputations (compile, run, store the membership).",
        "",
        "| engine | cohort | members | ms | target |",
        "|---|---|---:|---:|---|",
    ]
    for row in rows:
        met = "met" if row.ms <= TARGET_MS else "missed"
        if events < TARGET_EVENTS:
            met = f"not measured at {TARGET_EVENTS // 1_000_000}M events"
        lines.append(
            f"| {row.engine} | {row.definition} | {row.members:,} | {row.ms:.0f} |"
            f" ≤ {TARGET_MS} ms: {met} |"
        )
    return "\n".join([*lines, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clickhouse", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--data", type=Path, help="keep and reuse the generated events here")
    args = parser.parse_args()
    load = f"load average {os.getloadavg()[0]:.1f} when the run began"
    rows = measure(args.events, args.runs, args.clickhouse, args.data)
    if args.no_write:
        return
    section = render(rows, args.events, args.runs, load)
    write_section(DOCS, section, name="cohorts")
    print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
