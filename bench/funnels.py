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

    python bench/funnels.py [--scales 1000000,10000000] [--runs 3] [--no-write] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chdb  # noqa: E402
import query as query_bench  # noqa: E402
from _dataset import dataset  # noqa: E402
from _report import write_section  # noqa: E402
from query import NOW, elapsed_ms, machine, table, timed  # noqa: E402

from magpie.query.context import QueryContext  # noqa: E402
from magpie.query.kinds import run_query  # noqa: E402
from magpie.query.runner import QueryRunner  # noqa: E402
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner  # noqa: E402

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
    # The same floors with each event's person as stamped at ingestion (no join to the
    # merge overrides: what that join costs each engine).
    stamped: dict[str, str] = field(default_factory=dict)
    # Its target is a ratio to windowFunnel: also timed in alternation with it, so that
    # both see the same moments of a shared machine.
    paired: bool = False


def _duckdb_floor(project_id: int, steps: list[str], breakdown: bool, resolve: bool = True) -> str:
    """The same answer as Magpie's, written by hand, as fast as we could make it: each
    step's events as-of joined to the closest earlier event that reached the step
    before (its start, kept if within the window), the first attempt to get furthest
    per person by one aggregate, the times of that attempt by one join per step; then
    counts and conversion times per step. Persons are told apart by a 64-bit hash of
    their id, as Magpie does (sorting and joining on it is a quarter faster).
    (Running starts by window functions over each person's events, one pass per
    step, give the same answer slower: see "Funnel plans compared".) Without
    ``resolve``, each event's person as stamped at ingestion (no merge overrides)."""
    n = len(steps)
    window_us = WINDOW_S * 1_000_000
    names = ", ".join(f"'{s}'" for s in steps)
    flags = ", ".join(f"e.event = '{s}' AS b{i}" for i, s in enumerate(steps))
    first = " ".join(f"WHEN b{i} THEN {i}" for i in range(n))
    bv = ", e.mat_browser AS bv" if breakdown else ""
    reached = ["r0 AS (SELECT actor, us, o, us AS v FROM e WHERE b0)"]
    for k in range(1, n):
        reached.append(
            f"r{k} AS (SELECT x.actor, x.us, x.o,"
            f" CASE WHEN x.us - p.v <= {window_us} THEN p.v END AS v"
            f" FROM (SELECT actor, us, o FROM e WHERE b{k}) x"
            f" ASOF JOIN (SELECT actor, o, v FROM r{k - 1} WHERE v IS NOT NULL) p"
            f" ON x.actor = p.actor AND x.o > p.o)"
        )
    valid = " UNION ALL ".join(
        f"SELECT actor, {k + 1} AS k, o, v FROM r{k}" + (" WHERE v IS NOT NULL" if k else "")
        for k in range(n)
    )
    times = " ".join(
        f"LEFT JOIN (SELECT r.actor, min(r.us) AS t{k} FROM r{k} r JOIN best b"
        f" ON r.actor = b.actor AND r.v = b.best WHERE b.reached > {k} GROUP BY 1)"
        f" USING (actor)"
        for k in range(1, n)
    )
    touch = (
        " LEFT JOIN (SELECT actor, arg_min(bv, CASE WHEN bv IS NOT NULL THEN o END) AS touch"
        " FROM e GROUP BY 1) USING (actor)"
        if breakdown
        else ""
    )
    value = "coalesce(touch, '')" if breakdown else "''"
    person, overrides = _persons(resolve)
    counts = ", ".join(f"count(*) FILTER (WHERE reached > {i})" for i in range(n))
    timings = ", ".join(
        f"avg((t{i} - t{i - 1}) / 1e6) FILTER (WHERE reached > {i}),"
        f" quantile_disc((t{i} - t{i - 1}) / 1e6, 0.5) FILTER (WHERE reached > {i})"
        for i in range(1, n)
    )
    return f"""
        WITH e AS (
            SELECT actor, us, us * 32 + CASE {first} ELSE {n} END AS o,
                   {", ".join(f"b{i}" for i in range(n))}{", bv" if breakdown else ""}
            FROM (
                SELECT hash({person}) AS actor,
                       epoch_us(e.timestamp) - epoch_us(TIMESTAMP '2026-10-01') AS us,
                       {flags}{bv}
                FROM events e {overrides}
                WHERE e.project_id = {project_id} AND e.timestamp >= TIMESTAMP '2026-10-01'
                  AND e.timestamp < TIMESTAMP '2026-10-31' AND e.event IN ({names})
            )
        ), {", ".join(reached)},
        best AS (
            SELECT actor, max(k) AS reached,
                   arg_min(v, (k::HUGEINT << 64) * -1 + o) AS best
            FROM ({valid}) GROUP BY actor
        ), per_actor AS (
            SELECT reached, best AS t0, {", ".join(f"t{k}" for k in range(1, n))},
                   {value} AS value
            FROM best {times}{touch}
        )
        SELECT value, {counts}, {timings} FROM per_actor GROUP BY 1"""


def _persons(resolve: bool) -> tuple[str, str]:
    """DuckDB: an event's person and the join that gives it (none: as stamped)."""
    if not resolve:
        return "e.person_id", ""
    return "coalesce(o.person_uuid, e.person_id)", (
        "LEFT JOIN person_overrides o"
        " ON o.project_id = e.project_id AND o.distinct_id = e.distinct_id"
    )


def _window_funnel(project_id: int, steps: list[str], breakdown: bool, resolve: bool = True) -> str:
    """ClickHouse's own funnel function: the furthest step per person (no times);
    without ``resolve``, each event's person as stamped at ingestion."""
    conditions = ", ".join(f"event = '{s}'" for s in steps)
    level = f"windowFunnel({WINDOW_S})(toDateTime(timestamp), {conditions}) AS level"
    names = ", ".join(f"'{s}'" for s in steps)
    value = ", any(mat_browser) AS value" if breakdown else ""
    group = ", value" if breakdown else ""
    person, overrides = "e.person_id", ""
    if resolve:
        person = "if(o.person_uuid IS NULL, e.person_id, o.person_uuid)"
        overrides = f"""LEFT JOIN (
                    SELECT distinct_id, person_uuid FROM person_overrides FINAL
                    WHERE project_id = {project_id}
                ) AS o ON o.distinct_id = e.distinct_id"""
    return f"""
        SELECT level{group}, count() FROM (
            SELECT actor, {level}{value}
            FROM (
                SELECT {person} AS actor,
                       e.timestamp AS timestamp, e.event AS event, e.mat_browser AS mat_browser
                FROM events AS e {overrides}
                WHERE e.project_id = {project_id} AND e.timestamp >= '2026-10-01'
                  AND e.timestamp < '2026-10-31' AND e.event IN ({names})
            ) GROUP BY actor
        ) GROUP BY level{group}"""


def _funnel_events_file(folder: Path, cursor: object, project_id: int) -> Path:
    """The events of both funnels' steps, their person resolved, as Parquet (made once)."""
    path = folder / "funnel_events.parquet"
    if not path.exists():
        names = ", ".join(f"'{s}'" for s in sorted(set(THREE + FIVE)))
        cursor.execute(  # type: ignore[attr-defined]
            f"""COPY (
                SELECT CAST(coalesce(o.person_uuid, e.person_id) AS VARCHAR) AS actor,
                       e.timestamp AS timestamp, e.event AS event, e.mat_browser AS mat_browser
                FROM events e LEFT JOIN person_overrides o
                  ON o.project_id = e.project_id AND o.distinct_id = e.distinct_id
                WHERE e.project_id = {project_id} AND e.timestamp >= TIMESTAMP '2026-10-01'
                  AND e.timestamp < TIMESTAMP '2026-10-31' AND e.event IN ({names})
            ) TO '{path}' (FORMAT parquet)"""
        )
    return path


def _window_funnel_on_file(path: Path, case: Case) -> str:
    steps = [s["event"] for s in case.query["series"]]  # type: ignore[index]
    breakdown = "breakdownFilter" in case.query
    conditions = ", ".join(f"event = '{s}'" for s in steps)
    names = ", ".join(f"'{s}'" for s in steps)
    value = ", any(mat_browser) AS value" if breakdown else ""
    group = ", value" if breakdown else ""
    return f"""
        SELECT level{group}, count() FROM (
            SELECT actor,
                   windowFunnel({WINDOW_S})(toDateTime(timestamp), {conditions}) AS level{value}
            FROM file('{path}', Parquet) WHERE event IN ({names}) GROUP BY actor
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
            stamped={
                "duckdb": _duckdb_floor(project_id, THREE, False, resolve=False),
                "clickhouse": _window_funnel(project_id, THREE, False, resolve=False),
            },
            paired=True,
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
    stamped: dict[str, float]  # engine → its floor without the merge-overrides join
    paired: Paired | None = None


@dataclass(frozen=True)
class Paired:
    """Magpie on DuckDB and windowFunnel run one after the other, ``pairs`` times."""

    pairs: int
    duckdb: float  # median, ms
    window_funnel: float  # median, ms
    ratio: float  # median of the pairs' ratios


def alternated(ours: Callable[[], object], floor: Callable[[], object], pairs: int) -> Paired:
    ours(), floor()  # warm
    a: list[float] = []
    b: list[float] = []
    for _ in range(pairs):
        a.append(elapsed_ms(ours))
        b.append(elapsed_ms(floor))
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    return Paired(pairs, statistics.median(a), statistics.median(b), statistics.median(ratios))


def _rounded(rows: object) -> list[tuple[object, ...]]:
    """Rows to compare across plans: floats summed in another order differ at the end."""
    return sorted(
        tuple(round(v, 3) if isinstance(v, float) else v for v in row)
        for row in rows  # type: ignore[attr-defined]
    )


def measure(scale: int, runs: int, engines: set[str], data: Path | None) -> list[Timing]:
    with dataset(scale, query_bench.DAYS, data) as events:
        magpie, stored = events.magpie, events.project
        floor_cursor = magpie.db.new_cursor()
        all_cases = cases(stored.id)

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
        for c in all_cases:  # no merges in the bench data: both ways give one answer
            if "duckdb" in c.stamped:
                resolved = duck_floor(c.floors["duckdb"])()
                assert _rounded(resolved) == _rounded(duck_floor(c.stamped["duckdb"])()), c.name
        stamped: dict[str, dict[str, float]] = {
            c.name: {"duckdb": timed(duck_floor(c.stamped["duckdb"]), runs)}
            for c in all_cases
            if "duckdb" in c.stamped
        }
        house: dict[str, tuple[float, float | None]] = {}
        paired: dict[str, Paired] = {}
        if "clickhouse" in engines:
            client, database = events.clickhouse()
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
                if "clickhouse" in c.stamped:
                    sql = c.stamped["clickhouse"]
                    stamped[c.name]["clickhouse"] = timed(house_floor(sql), runs)
                if c.paired and floor:
                    paired[c.name] = alternated(
                        ours(c, magpie.query_runner), house_floor(floor), 2 * runs
                    )
        else:
            # No ClickHouse copy at this size: windowFunnel still runs in chdb, over the
            # same funnel events exported once to Parquet (persons already resolved).
            parquet = _funnel_events_file(events.folder, floor_cursor, stored.id)
            for c in all_cases:
                if "clickhouse" in c.floors:
                    sql = _window_funnel_on_file(parquet, c)
                    house[c.name] = (None, timed(lambda sql=sql: chdb.query(sql, "CSV"), runs))
        timings = []
        for c in all_cases:
            ours_duck, floor_duck = duck[c.name]
            ours_house, floor_house = house.get(c.name, (None, None))
            timing = Timing(
                c,
                ours_duck,
                floor_duck,
                ours_house,
                floor_house,
                stamped.get(c.name, {}),
                paired.get(c.name),
            )
            timings.append(timing)
            print(f"  {c.name:52} " + "  ".join(_row(scale, timing)[2:]))
            if timing.stamped:
                print(
                    f"  {'  without the overrides join':52} "
                    + "  ".join(_stamped_row(scale, timing)[2:])
                )
            if timing.paired:
                print(
                    f"  {'  alternated with windowFunnel':52} "
                    + "  ".join(_paired_row(scale, timing)[2:])
                )
        return timings


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


STAMPED_COLUMNS = (
    "events",
    "query",
    "floor DuckDB (ms)",
    "floor DuckDB, no overrides join (ms)",
    "floor chdb windowFunnel (ms)",
    "windowFunnel, no overrides join (ms)",
)


def _stamped_row(scale: int, t: Timing) -> list[str]:
    return [
        f"{scale:,}",
        t.case.name,
        _ms(t.duckdb_floor),
        _ms(t.stamped.get("duckdb")),
        _ms(t.clickhouse_floor if "clickhouse" in t.stamped else None),
        _ms(t.stamped.get("clickhouse")),
    ]


PAIRED_COLUMNS = (
    "events",
    "query",
    "pairs",
    "Magpie DuckDB (ms)",
    "floor chdb windowFunnel (ms)",
    "Magpie / windowFunnel (median of pairs)",
)


def _paired_row(scale: int, t: Timing) -> list[str]:
    assert t.paired is not None
    p = t.paired
    return [
        f"{scale:,}",
        t.case.name,
        str(p.pairs),
        _ms(p.duckdb),
        _ms(p.window_funnel),
        f"{p.ratio:.2f}×",
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
        "Where no ClickHouse copy was made (10M events: copying them into chdb takes longer",
        "than the bench), `windowFunnel` runs in chdb over the same funnel events exported",
        "once to Parquet with their persons already resolved (so without the overrides join).",
        f"The machine's load average when the run ended: {os.getloadavg()[0]:.1f} (it is shared:",
        "above 2, every figure here is slower than on an idle machine).",
        "",
        *table(COLUMNS, [_row(s, t) for s, ts in results.items() for t in ts]),
        "",
        "What resolving persons through the merge overrides costs each floor: the same",
        "floors with each event's person as stamped at ingestion (the bench data has no",
        "merges, so the answers agree), same run.",
        "",
        *table(
            STAMPED_COLUMNS,
            [_stamped_row(s, t) for s, ts in results.items() for t in ts if t.stamped],
        ),
        "",
        "The target that is a ratio to `windowFunnel`, timed the fairer way on a shared",
        "machine: Magpie and `windowFunnel` run one after the other, pair by pair, so that",
        "both meet the same moments of the machine (the tables above time each query's",
        "runs together, DuckDB's before chdb's).",
        "",
        *table(
            PAIRED_COLUMNS,
            [_paired_row(s, t) for s, ts in results.items() for t in ts if t.paired],
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--engines", default="duckdb,clickhouse")
    parser.add_argument("--data", type=Path, help="keep and reuse the generated events here")
    parser.add_argument(
        "--clickhouse-scales",
        help="the sizes also run on ClickHouse (default: all; copying 10M events into chdb"
        " takes longer than the rest of the bench)",
    )
    args = parser.parse_args()
    engines = set(args.engines.split(","))
    results = {}
    on_clickhouse = (
        {int(s) for s in args.clickhouse_scales.split(",")} if args.clickhouse_scales else None
    )
    for scale in (int(s) for s in args.scales.split(",")):
        print(f"{scale:,} events")
        here = engines if on_clickhouse is None or scale in on_clickhouse else {"duckdb"}
        results[scale] = measure(scale, args.runs, here, args.data)
    section = report(results, args.runs)
    if not args.no_write:
        write_section(DOCS, section, name="funnels")
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
