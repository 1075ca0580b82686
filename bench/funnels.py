"""Funnel benchmark: Magpie's FunnelsQuery and funnel actors against hand-written SQL,
on DuckDB and on ClickHouse (chdb), on bench/query.py's data.

Times, on the same events and in the same run:

- a 3-step ordered funnel ($pageview → added_to_cart → purchase) with a 14-day
  window over 30 days: Magpie on DuckDB, the same answer (counts, average and
  median conversion times) hand-written for DuckDB, Magpie on ClickHouse, and
  ClickHouse's own ``windowFunnel`` (counts only) as the ClickHouse floor;
- a 5-step funnel broken down by ``$browser``;
- one page (100) of the actors who reached the last step of the 3-step funnel.

Results go to docs/benchmarks.md (section "Funnels").

    python bench/funnels.py [--scales 1000000,10000000] [--runs 3] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import write_section  # noqa: E402
from query import NOW, generate, machine, table, timed  # noqa: E402

from magpie.app import Magpie  # noqa: E402
from magpie.query.context import QueryContext  # noqa: E402
from magpie.query.kinds import run_query  # noqa: E402
from magpie.query.runner import QueryRunner  # noqa: E402
from magpie.settings import Settings  # noqa: E402
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner  # noqa: E402
from tests.clickhouse import copy_store, new_database  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
DATES = {"date_from": "2026-10-01", "date_to": "2026-10-30"}
THREE = ["$pageview", "added_to_cart", "purchase"]
FIVE = ["$pageview", "viewed_product", "added_to_cart", "started_trial", "purchase"]
WINDOW_S = 14 * 86_400


def funnel(steps: list[str], **extra: object) -> dict[str, object]:
    return {
        "kind": "FunnelsQuery",
        "series": [{"event": e} for e in steps],
        "dateRange": DATES,
        **extra,
    }


@dataclass(frozen=True)
class Case:
    name: str
    query: dict[str, object]
    floors: dict[str, str]  # "duckdb" | "clickhouse" → hand-written SQL
    target: str  # what it must meet at 10M events


def _duckdb_floor(project_id: int, steps: list[str], breakdown: bool) -> str:
    """The same answer as Magpie's, written by hand, as fast as we could make it: the
    latest attempt start per step over each person's events (``last_value … IGNORE
    NULLS``, one pass per step), the first attempt to get furthest per person by
    aggregates, the times of that attempt by one join; then counts and conversion
    times per step. (A per-person ``list_reduce`` fold gives the same answer slower.)"""
    n = len(steps)
    window_us = WINDOW_S * 1_000_000
    names = ", ".join(f"'{s}'" for s in steps)
    flags = ", ".join(f"e.event = '{s}' AS b{i}" for i, s in enumerate(steps))
    first = " ".join(f"WHEN b{i} THEN {i}" for i in range(n))
    levels = []
    previous = "l0"
    carried = (
        "actor, us, ord, " + ", ".join(f"b{i}" for i in range(n)) + (", bv" if breakdown else "")
    )
    starts = ["s0"]
    for k in range(1, n):
        levels.append(
            f"l{k} AS (SELECT {carried}, {', '.join(starts)}, CASE WHEN b{k} THEN"
            f" last_value(CASE WHEN us - s{k - 1} <= {window_us} THEN s{k - 1} END IGNORE NULLS)"
            f" OVER (PARTITION BY actor ORDER BY ord ROWS BETWEEN UNBOUNDED PRECEDING AND"
            f" 1 PRECEDING) END AS s{k} FROM {previous})"
        )
        starts.append(f"s{k}")
        previous = f"l{k}"
    valid = [f"CASE WHEN us - s{k} <= {window_us} THEN s{k} END" for k in range(n)]
    reached = (
        "CASE "
        + " ".join(f"WHEN ({valid[k]}) IS NOT NULL THEN {k + 1}" for k in reversed(range(n)))
        + " ELSE 0 END"
    )
    firsts = ", ".join(
        f"arg_min(v{k}, CASE WHEN v{k} IS NOT NULL THEN ord END) AS f{k}" for k in range(n)
    )
    best = "CASE " + " ".join(f"WHEN k = {k + 1} THEN f{k}" for k in range(n)) + " END"
    times = ", ".join(f"min(CASE WHEN v{k} = b.best THEN us END) AS t{k}" for k in range(n))
    touch = ", arg_min(bv, CASE WHEN bv IS NOT NULL THEN ord END) AS touch" if breakdown else ""
    value = "coalesce(max(b.touch), '')" if breakdown else "''"
    counts = ", ".join(f"count(*) FILTER (WHERE reached > {i})" for i in range(n))
    timings = ", ".join(
        f"avg((t{i} - t{i - 1}) / 1e6) FILTER (WHERE reached > {i}),"
        f" quantile_disc((t{i} - t{i - 1}) / 1e6, 0.5) FILTER (WHERE reached > {i})"
        for i in range(1, n)
    )
    bv = ", e.mat_browser AS bv" if breakdown else ""
    kept = "actor, us, ord" + (", bv" if breakdown else "")
    return f"""
        WITH l0 AS (
            SELECT actor, us, us * 32 + CASE {first} ELSE {n} END AS ord,
                   {", ".join(f"b{i}" for i in range(n))}{", bv" if breakdown else ""},
                   CASE WHEN b0 THEN us END AS s0
            FROM (
                SELECT coalesce(o.person_uuid, e.person_id) AS actor,
                       epoch_us(e.timestamp) AS us, {flags}{bv}
                FROM events e LEFT JOIN person_overrides o
                  ON o.project_id = e.project_id AND o.distinct_id = e.distinct_id
                WHERE e.project_id = {project_id} AND e.timestamp >= TIMESTAMP '2026-10-01'
                  AND e.timestamp < TIMESTAMP '2026-10-31' AND e.event IN ({names})
            )
        ), {", ".join(levels)},
        funnel_rows AS (
            SELECT {kept}, {", ".join(f"{valid[k]} AS v{k}" for k in range(n))},
                   {reached} AS r
            FROM {previous}
        ), best AS (
            SELECT actor, k, {best} AS best{", touch" if breakdown else ""}
            FROM (SELECT actor, max(r) AS k, {firsts}{touch} FROM funnel_rows GROUP BY actor)
            WHERE k > 0
        ), per_actor AS (
            SELECT max(b.k) AS reached, {times}, {value} AS value
            FROM funnel_rows JOIN best b USING (actor) GROUP BY actor
        )
        SELECT value, {counts}, {timings} FROM per_actor GROUP BY 1"""


def _window_funnel(project_id: int, steps: list[str], breakdown: bool) -> str:
    """ClickHouse's own funnel function: the furthest step per person (no times)."""
    conditions = ", ".join(f"event = '{s}'" for s in steps)
    level = f"windowFunnel({WINDOW_S})(toDateTime(timestamp), {conditions}) AS level"
    names = ", ".join(f"'{s}'" for s in steps)
    value = ", any(mat_browser) AS value" if breakdown else ""
    group = ", value" if breakdown else ""
    return f"""
        SELECT level{group}, count() FROM (
            SELECT actor, {level}{value}
            FROM (
                SELECT if(o.person_uuid IS NULL, e.person_id, o.person_uuid) AS actor,
                       e.timestamp AS timestamp, e.event AS event, e.mat_browser AS mat_browser
                FROM events AS e LEFT JOIN (
                    SELECT distinct_id, person_uuid FROM person_overrides FINAL
                    WHERE project_id = {project_id}
                ) AS o ON o.distinct_id = e.distinct_id
                WHERE e.project_id = {project_id} AND e.timestamp >= '2026-10-01'
                  AND e.timestamp < '2026-10-31' AND e.event IN ({names})
            ) GROUP BY actor
        ) GROUP BY level{group}"""


def cases(project_id: int) -> list[Case]:
    three = funnel(THREE)
    return [
        Case(
            "3-step ordered funnel, 14-day window",
            three,
            {
                "duckdb": _duckdb_floor(project_id, THREE, False),
                "clickhouse": _window_funnel(project_id, THREE, False),
            },
            "≤ chdb windowFunnel; ≤ 1.3× the DuckDB floor",
        ),
        Case(
            "5-step funnel by $browser",
            funnel(FIVE, breakdownFilter={"breakdown": "$browser"}),
            {
                "duckdb": _duckdb_floor(project_id, FIVE, True),
                "clickhouse": _window_funnel(project_id, FIVE, True),
            },
            "≤ 1,500 ms",
        ),
        Case(
            "actors of the 3-step funnel's last step, one page",
            {
                "kind": "ActorsQuery",
                "source": {"kind": "FunnelsActorsQuery", "source": three, "funnelStep": 3},
                "limit": 100,
            },
            {},
            "≤ 300 ms",
        ),
    ]


@dataclass(frozen=True)
class Timing:
    case: Case
    duckdb: float
    duckdb_floor: float | None
    clickhouse: float | None
    clickhouse_floor: float | None


def measure(scale: int, runs: int, engines: set[str]) -> list[Timing]:
    folder = Path(tempfile.mkdtemp(prefix="magpie-bench-funnels-"))
    try:
        settings = Settings.load(env={}, data_dir=folder, query_memory_margin="8GB")
        magpie = Magpie(settings)
        project = magpie.projects.create("bench")
        started = time.perf_counter()
        generate(magpie.db.cursor(), project.id, scale)
        print(f"  generated {scale:,} events in {time.perf_counter() - started:.1f} s")
        stored = magpie.projects.get(project.id)
        assert stored is not None
        floor_cursor = magpie.db.new_cursor()
        all_cases = cases(project.id)

        def ours(case: Case, runner: QueryRunner) -> Callable[[], object]:
            return lambda: run_query(case.query, QueryContext(stored, runner, NOW))

        def duck_floor(sql: str) -> Callable[[], object]:
            return lambda: floor_cursor.execute(sql).fetchall()

        # DuckDB first, before chdb starts in this process and shares its cores.
        duck = {
            c.name: (
                timed(ours(c, magpie.query_runner), runs),
                timed(duck_floor(c.floors["duckdb"]), runs) if "duckdb" in c.floors else None,
            )
            for c in all_cases
        }
        house: dict[str, tuple[float, float | None]] = {}
        if "clickhouse" in engines:
            started = time.perf_counter()
            client, database = new_database(f"chdb://{folder / 'chdb'}", "bench")
            copy_store(magpie.db.new_cursor(), client)
            client.command(f"OPTIMIZE TABLE {database}.events FINAL")
            print(f"  copied them into ClickHouse in {time.perf_counter() - started:.1f} s")
            runner = ClickHouseQueryRunner(client, database)

            def house_floor(sql: str) -> Callable[[], object]:
                return lambda: (
                    client.query(
                        sql.replace("FROM events", f"FROM {database}.events").replace(
                            "FROM person_overrides", f"FROM {database}.person_overrides"
                        ),
                        settings={"join_use_nulls": 1},
                    ).result_rows
                )

            for c in all_cases:
                floor = c.floors.get("clickhouse")
                house[c.name] = (
                    timed(ours(c, runner), runs),
                    timed(house_floor(floor), runs) if floor else None,
                )
        timings = []
        for c in all_cases:
            ours_duck, floor_duck = duck[c.name]
            ours_house, floor_house = house.get(c.name, (None, None))
            timing = Timing(c, ours_duck, floor_duck, ours_house, floor_house)
            timings.append(timing)
            print(f"  {c.name:52} " + "  ".join(_row(scale, timing)[2:]))
        magpie.close()
        return timings
    finally:
        shutil.rmtree(folder, ignore_errors=True)


COLUMNS = (
    "events",
    "query",
    "Magpie DuckDB (ms)",
    "floor DuckDB, same answer (ms)",
    "Magpie ClickHouse (ms)",
    "floor chdb windowFunnel (ms)",
    "target at 10M",
)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def _row(scale: int, t: Timing) -> list[str]:
    return [
        f"{scale:,}",
        t.case.name,
        _ms(t.duckdb),
        _ms(t.duckdb_floor),
        _ms(t.clickhouse),
        _ms(t.clickhouse_floor),
        t.case.target if scale >= 10_000_000 else "",
    ]


def report(results: dict[int, list[Timing]], runs: int) -> str:
    lines = [
        "## Funnels (`bench/funnels.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `bench/funnels.py` on {machine()}, on",
        f"bench/query.py's data. Median of {runs} runs after one warm-up. *Magpie* is the whole",
        "query layer as the API runs it; the DuckDB floor is the same answer written by hand;",
        "the ClickHouse floor is `windowFunnel`, which gives the furthest step only (no",
        "conversion times). Both resolve persons through the merge overrides, as Magpie does.",
        f"The machine's load average when the run ended: {os.getloadavg()[0]:.1f} (it is shared:",
        "above 2, every figure here is slower than on an idle machine).",
        "",
        *table(COLUMNS, [_row(s, t) for s, ts in results.items() for t in ts]),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--engines", default="duckdb,clickhouse")
    args = parser.parse_args()
    engines = set(args.engines.split(","))
    results = {}
    for scale in (int(s) for s in args.scales.split(",")):
        print(f"{scale:,} events")
        results[scale] = measure(scale, args.runs, engines)
    section = report(results, args.runs)
    if not args.no_write:
        write_section(DOCS, section, name="funnels")
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
