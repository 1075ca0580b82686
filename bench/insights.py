"""Insight benchmark: retention, lifecycle, stickiness and paths through Magpie's query
layer, on DuckDB and on ClickHouse (chdb), beside hand-written DuckDB SQL where the
target is relative to it.

The data is bench/query.py's (its generator: 100k users, 30% identified and
anonymous before they sign up, 20 event names, URLs over 200 pages), spread
over 8 weeks so that weekly retention has 8 cohorts. Times, in one run:

- weekly retention over 8 weeks (target: within 1.3x of hand-written DuckDB),
- daily lifecycle over 30 days (target: 1 s at 10M events),
- daily stickiness over 30 days (target: 1 s),
- page paths over 30 days (target: 2 s).

Results go to docs/benchmarks.md (Insights).

    python bench/insights.py [--events 10000000] [--runs 3] [--no-write] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import query as query_bench  # noqa: E402
from _dataset import dataset  # noqa: E402
from _report import write_section  # noqa: E402
from query import machine, table, timed  # noqa: E402

from magpie.query.context import QueryContext  # noqa: E402
from magpie.query.kinds import run_query  # noqa: E402
from magpie.query.runner import QueryRunner  # noqa: E402
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner  # noqa: E402

DAYS = 56  # 1 October to 25 November 2026
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
LAST_30_DAYS = {"date_from": "2026-10-27", "date_to": "2026-11-25"}


@dataclass(frozen=True)
class Case:
    name: str
    query: dict[str, object]
    floor: str | None = None  # hand-written DuckDB SQL; {project} is the project id
    target_ms: float | None = None  # Magpie on DuckDB at 10M events
    target_ratio: float | None = None  # … or at most this times the floor


# Eight whole weeks from Sunday: 27 September to 21 November. Each person's weeks
# with a pageview as the bits of one integer (one pass, one row per person), then
# the cells by bit tests: cheaper than joining the (person, week) rows to
# themselves, which gives the same counts in about twice the time.
_RETENTION_FLOOR = """
WITH weeks AS (
    SELECT coalesce(o.person_uuid, e.person_id) AS actor,
           bit_or(1 << (date_diff('day', TIMESTAMP '2026-09-27', e.timestamp) // 7)::INT) AS m
    FROM events e
    LEFT JOIN person_overrides o ON o.project_id = e.project_id AND o.distinct_id = e.distinct_id
    WHERE e.project_id = {project} AND e.event = '$pageview'
      AND e.timestamp >= TIMESTAMP '2026-09-27' AND e.timestamp < TIMESTAMP '2026-11-22'
    GROUP BY 1
)
SELECT c.c AS cohort, k.k AS k, count(*) FROM weeks, range(8) c(c), range(8) k(k)
WHERE c.c + k.k < 8 AND (m >> c.c) & 1 = 1 AND (m >> (c.c + k.k)) & 1 = 1
GROUP BY 1, 2"""

CASES = [
    Case(
        "weekly retention, 8 weeks",
        {
            "kind": "RetentionQuery",
            "dateRange": {"date_from": "2026-09-27", "date_to": "2026-11-21"},
            "retentionFilter": {"period": "Week", "totalIntervals": 8},
        },
        floor=_RETENTION_FLOOR,
        target_ratio=1.3,
    ),
    Case(
        "daily lifecycle, 30 days",
        {"kind": "LifecycleQuery", "series": [{"event": "$pageview"}], "dateRange": LAST_30_DAYS},
        target_ms=1000,
    ),
    Case(
        "daily stickiness, 30 days",
        {"kind": "StickinessQuery", "series": [{"event": "$pageview"}], "dateRange": LAST_30_DAYS},
        target_ms=1000,
    ),
    Case(
        "page paths, 30 days",
        {
            "kind": "PathsQuery",
            "dateRange": LAST_30_DAYS,
            "pathsFilter": {"includeEventTypes": ["$pageview"]},
        },
        target_ms=2000,
    ),
]


def _actor_page_cases() -> list[Case]:
    """A later page of the actors behind a number (target: 300 ms at 10M events): the
    list is kept from the first page (the warm-up), so this times the slice and the
    page's persons with their properties."""
    funnel = {
        "kind": "FunnelsQuery",
        "series": [{"event": "$pageview"}, {"event": "signed_up"}, {"event": "purchase"}],
        "dateRange": LAST_30_DAYS,
        "funnelsFilter": {"funnelWindowInterval": 14, "funnelWindowIntervalUnit": "day"},
    }
    retention = CASES[0].query
    page = {"kind": "ActorsQuery", "limit": 100, "offset": 100}
    return [
        Case(
            "actors page 2: funnel step 2",
            {**page, "source": {"kind": "FunnelsActorsQuery", "source": funnel, "funnelStep": 2}},
            target_ms=300,
        ),
        Case(
            "actors page 2: retention cell",
            {
                **page,
                "source": {"kind": "InsightActorsQuery", "source": retention, "interval": 0},
            },
            target_ms=300,
        ),
    ]


CASES.extend(_actor_page_cases())


@dataclass(frozen=True)
class Timing:
    case: Case
    duckdb: float
    floor: float | None
    clickhouse: float | None

    def verdict(self, events: int) -> str:
        if events < 10_000_000:
            return ""
        if self.case.target_ratio is not None and self.floor is not None:
            met = self.duckdb <= self.floor * self.case.target_ratio
            return f"≤ {self.case.target_ratio}× floor: {'met' if met else 'missed'}"
        if self.case.target_ms is not None:
            met = self.duckdb <= self.case.target_ms
            return f"≤ {self.case.target_ms:,.0f} ms: {'met' if met else 'missed'}"
        return ""


def measure(events: int, runs: int, with_clickhouse: bool, data: Path | None) -> list[Timing]:
    with dataset(events, DAYS, data) as stored:
        magpie, settings_of = stored.magpie, stored.project
        cursor = magpie.db.new_cursor()

        def ours(case: Case, runner: QueryRunner) -> object:
            return run_query(case.query, QueryContext(settings_of, runner, NOW))

        # DuckDB first, before chdb starts in this process and shares its cores.
        duck = {
            case.name: (
                timed(lambda case=case: ours(case, magpie.query_runner), runs),
                timed(
                    lambda case=case: cursor.execute(
                        (case.floor or "").format(project=settings_of.id)
                    ).fetchall(),
                    runs,
                )
                if case.floor
                else None,
            )
            for case in CASES
        }
        house: dict[str, float] = {}
        if with_clickhouse:
            client, database = stored.clickhouse()
            runner = ClickHouseQueryRunner(client, database)
            house = {case.name: timed(lambda case=case: ours(case, runner), runs) for case in CASES}
        timings = [Timing(c, *duck[c.name], house.get(c.name)) for c in CASES]
        for t in timings:
            print(f"  {t.case.name:28} " + "  ".join(_row(events, t)[2:]))
        return timings


COLUMNS = (
    "events",
    "query",
    "Magpie DuckDB (ms)",
    "floor DuckDB (ms)",
    "Magpie ClickHouse (ms)",
    "target (DuckDB, 10M)",
)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def _row(events: int, t: Timing) -> list[str]:
    return [
        f"{events:,}",
        t.case.name,
        _ms(t.duckdb),
        _ms(t.floor),
        _ms(t.clickhouse),
        t.verdict(events),
    ]


def report(results: dict[int, list[Timing]], runs: int) -> str:
    intro = [
        "## Insights: retention, lifecycle, stickiness, paths (`bench/insights.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `bench/insights.py` on {machine()}.",
        f"Median of {runs} runs after one warm-up, on bench/query.py's data spread over",
        f"{DAYS} days. *Magpie* is the query layer as the API runs it; the *floor* is",
        "hand-written DuckDB SQL for the same answer on the same store (weekly retention:",
        "each person's weeks with a pageview as the bits of one integer, then the cells by",
        "bit tests; joining the (person, week) rows to themselves takes about twice as long).",
        f"The machine's load average when the run ended: {os.getloadavg()[0]:.1f} (it is",
        "shared: above 2, every figure here is slower than on an idle machine).",
        "",
    ]
    rows = [_row(events, t) for events, timings in results.items() for t in timings]
    return "\n".join([*intro, *table(COLUMNS, rows), ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="10000000", help="comma-separated sizes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--engines", default="duckdb,clickhouse")
    parser.add_argument("--data", type=Path, help="keep and reuse the generated events here")
    args = parser.parse_args()
    results = {}
    for events in (int(n) for n in args.events.split(",")):
        print(f"{events:,} events")
        results[events] = measure(
            events, args.runs, "clickhouse" in args.engines.split(","), args.data
        )
    section = report(results, args.runs)
    print(section)
    if not args.no_write:
        write_section(query_bench.DOCS, section, name="insights")
        print(f"wrote {query_bench.DOCS}")


if __name__ == "__main__":
    main()
