"""Query benchmark: Magpie's compiled insights against hand-written SQL, on DuckDB
and on ClickHouse (chdb).

Generates realistic data straight into a Magpie data folder (100k users, 30%
identified, 20 event names, 30 days, URLs, browsers and UTM properties) at 1M
and 10M events, then times, on the same data and in the same run:

- a daily trend of one event over 30 days,
- the same broken down by ``$browser``,
- the same broken down by a person property (through the merge overrides),
- daily active users,
- a HogQL count of events per day,

each through Magpie's query layer (compile + run, as the API does) and as the
equivalent hand-written SQL (the floor), on the DuckDB store and on the
ClickHouse store (chdb, the same rows copied through its writers). Results go
to docs/benchmarks.md.

    python bench/query.py [--scales 1000000,10000000] [--runs 5] [--no-write]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import chdb
import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from magpie.app import Magpie  # noqa: E402
from magpie.ingest.persons import person_uuid_for  # noqa: E402
from magpie.query.context import QueryContext  # noqa: E402
from magpie.query.kinds import run_query  # noqa: E402
from magpie.query.runner import QueryRunner  # noqa: E402
from magpie.settings import Settings  # noqa: E402
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner  # noqa: E402
from tests.clickhouse import copy_store, new_database  # noqa: E402

USERS = 100_000
IDENTIFIED_SHARE = 0.3
DAYS = 30
START = datetime(2026, 10, 1)
NOW = datetime(2026, 10, 31, 12, tzinfo=UTC)
EVENTS = (
    ["$pageview"] * 6
    + ["$pageleave"] * 2
    + ["$autocapture"] * 3
    + [
        "signed_up",
        "purchase",
        "added_to_cart",
        "viewed_product",
        "searched",
        "shared",
        "invited_friend",
        "started_trial",
        "cancelled",
        "feedback_given",
        "logged_in",
    ]
)
BROWSERS = ["Chrome", "Safari", "Firefox", "Edge", "Opera", "Samsung Internet"]
PLANS = ["free", "starter", "pro", "enterprise"]
SOURCES = ["google", "newsletter", "twitter", "linkedin", "partner"]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
START_MARK, END_MARK = "<!-- bench:query:start -->", "<!-- bench:query:end -->"


def build_users(project_id: int) -> pa.Table:
    anon_ids = [f"anon-{u}" for u in range(USERS)]
    identified = [(u * 7919) % 10 < IDENTIFIED_SHARE * 10 for u in range(USERS)]
    return pa.table(
        {
            "u": pa.array(range(USERS), pa.int64()),
            "anon_id": anon_ids,
            "user_id": [f"user-{u}@example.com" for u in range(USERS)],
            "person_uuid": [str(person_uuid_for(project_id, a)) for a in anon_ids],
            "identified": identified,
            "plan": [PLANS[(u * 31) % len(PLANS)] for u in range(USERS)],
            "browser": [BROWSERS[min((u * 13) % 10, len(BROWSERS) - 1)] for u in range(USERS)],
        }
    )


def generate(con: duckdb.DuckDBPyConnection, project_id: int, events: int) -> None:
    """Fill a Magpie store directly: persons, distinct ids and events as ingestion writes them."""
    con.register("users", build_users(project_id))
    con.execute(
        """
        INSERT INTO persons SELECT ?, CAST(person_uuid AS UUID),
            json_object('email', user_id, 'plan', plan, '$initial_browser', browser),
            TIMESTAMP '2026-09-01', true, 1, NULL
        FROM users WHERE identified""",
        [project_id],
    )
    con.execute(
        """
        INSERT INTO person_distinct_ids
        SELECT ?, anon_id, CAST(person_uuid AS UUID), 0 FROM users WHERE identified
        UNION ALL SELECT ?, user_id, CAST(person_uuid AS UUID), 0 FROM users WHERE identified""",
        [project_id, project_id],
    )
    names = "[" + ", ".join(f"'{e}'" for e in EVENTS) + "]"
    sources = "[" + ", ".join(f"'{s}'" for s in SOURCES) + "]"
    # Identified users are anonymous for their first third of events (before signing up).
    con.execute(f"""
        INSERT INTO events BY NAME
        WITH raw AS (
            SELECT i, (hash(i) % {USERS})::BIGINT AS u,
                   TIMESTAMP '{START.isoformat(sep=" ")}'
                     + to_microseconds((hash(i * 31) % ({DAYS} * 86400000000))::BIGINT) AS ts,
                   {names}[1 + (hash(i * 7) % {len(EVENTS)})::INT] AS event,
                   (hash(i * 13) % 10)::INT AS r
            FROM range({events}) t(i)
        ), shaped AS (
            SELECT raw.*, users.*,
                   users.identified AND r >= 3 AS as_identified,
                   '/p/' || (hash(i * 17) % 200)::VARCHAR AS path,
                   CASE WHEN r < 2 THEN {sources}[1 + (hash(i * 19) % 5)::INT] END AS utm
            FROM raw JOIN users USING (u)
        )
        SELECT {project_id} AS project_id, uuid() AS uuid, event,
               CASE WHEN as_identified THEN user_id ELSE anon_id END AS distinct_id,
               ts AS timestamp,
               json_object('$browser', browser, '$current_url', 'https://shop.example' || path,
                           '$pathname', path, '$host', 'shop.example', 'utm_source', utm,
                           '$session_id', anon_id || '-' || (epoch(ts) // 1800)::VARCHAR,
                           '$lib', 'web') AS properties,
               '' AS elements_chain, CAST(person_uuid AS UUID) AS person_id,
               CASE WHEN as_identified THEN 'full' ELSE 'propertyless' END AS person_mode,
               '{{}}' AS person_properties,
               'https://shop.example' || path AS mat_current_url, path AS mat_pathname,
               'shop.example' AS mat_host, browser AS mat_browser, utm AS mat_utm_source,
               anon_id || '-' || (epoch(ts) // 1800)::VARCHAR AS mat_session_id,
               'web' AS mat_lib, ts AS created_at
        FROM shaped ORDER BY ts""")
    con.execute("CHECKPOINT")


@dataclass(frozen=True)
class Case:
    name: str
    query: dict[str, object]
    floor_sql: str
    floor_clickhouse: str
    target_ms: float | None


def clickhouse_floors(project_id: int) -> list[str]:
    """The same five queries written by hand for the ClickHouse tables."""
    window = f"project_id = {project_id} AND timestamp >= '2026-10-01' AND timestamp < '2026-10-31'"
    latest = (
        f"(SELECT distinct_id, person_uuid FROM person_overrides FINAL"
        f" WHERE project_id = {project_id})"
    )
    persons = (
        f"(SELECT uuid, properties FROM persons FINAL"
        f" WHERE project_id = {project_id} AND is_deleted = 0)"
    )
    return [
        f"SELECT toStartOfDay(timestamp) d, count() FROM events"
        f" WHERE {window} AND event = '$pageview' GROUP BY d",
        f"SELECT toStartOfDay(timestamp) d, mat_browser, count() FROM events"
        f" WHERE {window} AND event = '$pageview' GROUP BY d, mat_browser",
        f"SELECT toStartOfDay(e.timestamp) d, JSONExtractString(p.properties, 'plan') plan,"
        f" count() FROM events e LEFT JOIN {latest} o ON o.distinct_id = e.distinct_id"
        f" LEFT JOIN {persons} p ON p.uuid = coalesce(o.person_uuid, e.person_id)"
        f" WHERE e.{window.replace(' AND timestamp', ' AND e.timestamp')}"
        f" AND e.event = '$pageview' GROUP BY d, plan",
        f"SELECT toStartOfDay(e.timestamp) d, count(DISTINCT coalesce(o.person_uuid,"
        f" e.person_id)) FROM events e LEFT JOIN {latest} o ON o.distinct_id = e.distinct_id"
        f" WHERE e.{window.replace(' AND timestamp', ' AND e.timestamp')}"
        f" AND e.event = '$pageview' GROUP BY d",
        f"SELECT toStartOfDay(timestamp) d, count() FROM events"
        f" WHERE project_id = {project_id} AND timestamp >= '2026-10-01'"
        f" GROUP BY d ORDER BY d",
    ]


def cases(project_id: int) -> list[Case]:
    floors = iter(clickhouse_floors(project_id))
    date_range = {"date_from": "2026-10-01", "date_to": "2026-10-30"}
    window = (
        f"project_id = {project_id} AND timestamp >= TIMESTAMP '2026-10-01'"
        " AND timestamp < TIMESTAMP '2026-10-31'"
    )
    trend = {"kind": "TrendsQuery", "series": [{"event": "$pageview"}], "dateRange": date_range}
    return [
        Case(
            "daily trend, 30 days",
            trend,
            f"SELECT date_trunc('day', timestamp) d, count(*) FROM events"
            f" WHERE {window} AND event = '$pageview' GROUP BY 1",
            next(floors),
            300,
        ),
        Case(
            "breakdown by $browser",
            {**trend, "breakdownFilter": {"breakdown": "$browser"}},
            f"SELECT date_trunc('day', timestamp) d, mat_browser, count(*) FROM events"
            f" WHERE {window} AND event = '$pageview' GROUP BY 1, 2",
            next(floors),
            500,
        ),
        Case(
            "breakdown by person property (plan)",
            {**trend, "breakdownFilter": {"breakdown": "plan", "breakdown_type": "person"}},
            f"SELECT date_trunc('day', e.timestamp) d,"
            f" json_extract_string(p.properties, '/plan') plan, count(*)"
            f" FROM events e LEFT JOIN person_overrides o ON o.project_id = e.project_id"
            f" AND o.distinct_id = e.distinct_id LEFT JOIN persons p ON p.project_id ="
            f" e.project_id AND p.uuid = coalesce(o.person_uuid, e.person_id)"
            f" WHERE e.{window.replace(' AND timestamp', ' AND e.timestamp')}"
            f" AND e.event = '$pageview' GROUP BY 1, 2",
            next(floors),
            1000,
        ),
        Case(
            "daily active users",
            {**trend, "series": [{"event": "$pageview", "math": "dau"}]},
            f"SELECT date_trunc('day', e.timestamp) d, count(DISTINCT coalesce(o.person_uuid,"
            f" e.person_id)) FROM events e LEFT JOIN person_overrides o ON o.project_id ="
            f" e.project_id AND o.distinct_id = e.distinct_id"
            f" WHERE e.{window.replace(' AND timestamp', ' AND e.timestamp')}"
            f" AND e.event = '$pageview' GROUP BY 1",
            next(floors),
            None,
        ),
        Case(
            "SQL: count per day",
            {
                "kind": "HogQLQuery",
                "query": "SELECT toStartOfDay(timestamp) AS day, count()"
                " FROM events WHERE timestamp >= '2026-10-01' GROUP BY day ORDER BY day",
            },
            f"SELECT date_trunc('day', timestamp) d, count(*) FROM events"
            f" WHERE project_id = {project_id} AND timestamp >= '2026-10-01'"
            f" GROUP BY 1 ORDER BY 1",
            next(floors),
            None,
        ),
    ]


def timed(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


@dataclass(frozen=True)
class Timing:
    case: Case
    duckdb: float  # Magpie on DuckDB, ms
    duckdb_floor: float
    clickhouse: float  # Magpie on ClickHouse (chdb), ms
    clickhouse_floor: float


def measure(scale: int, runs: int) -> list[Timing]:
    folder = Path(tempfile.mkdtemp(prefix="magpie-bench-query-"))
    try:
        # chdb shares this process: the memory guard's budget must leave it room.
        settings = Settings.load(env={}, data_dir=folder, query_memory_margin="8GB")
        magpie = Magpie(settings)
        project = magpie.projects.create("bench")
        started = time.perf_counter()
        generate(magpie.db.cursor(), project.id, scale)
        print(f"  generated {scale:,} events in {time.perf_counter() - started:.1f} s")
        context_project = magpie.projects.get(project.id)
        assert context_project is not None
        floor_cursor = magpie.db.new_cursor()

        def ours(case: Case, runner: QueryRunner) -> object:
            return run_query(case.query, QueryContext(context_project, runner, NOW))

        # DuckDB first, before chdb starts in this process and shares its cores.
        duckdb_times = {
            case.name: (
                timed(lambda case=case: ours(case, magpie.query_runner), runs),
                timed(lambda case=case: floor_cursor.execute(case.floor_sql).fetchall(), runs),
            )
            for case in cases(project.id)
        }
        started = time.perf_counter()
        client, database = new_database(f"chdb://{folder / 'chdb'}", "bench")
        copy_store(magpie.db.new_cursor(), client)
        client.command(f"OPTIMIZE TABLE {database}.events FINAL")
        print(f"  copied them into ClickHouse in {time.perf_counter() - started:.1f} s")
        house = ClickHouseQueryRunner(client, database)
        rows = []
        for case in cases(project.id):

            def house_floor(case: Case = case) -> object:
                settings = {"join_use_nulls": 1}
                return client.query(case.floor_clickhouse, settings=settings).result_rows

            timing = Timing(
                case,
                *duckdb_times[case.name],
                timed(lambda case=case: ours(case, house), runs),
                timed(house_floor, runs),
            )
            rows.append(timing)
            print(
                f"  {case.name:38} duckdb {timing.duckdb:7.1f} / {timing.duckdb_floor:7.1f} ms"
                f"   clickhouse {timing.clickhouse:7.1f} / {timing.clickhouse_floor:7.1f} ms"
            )
        magpie.close()
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import os

    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, chdb {chdb.__version__}, pyarrow {pa.__version__}"
    )


COLUMNS = (
    "events",
    "query",
    "Magpie DuckDB (ms)",
    "floor DuckDB (ms)",
    "ratio",
    "Magpie ClickHouse (ms)",
    "floor ClickHouse (ms)",
    "ratio",
    "target (DuckDB)",
)


def table(headers: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    """One Markdown table: text columns left, figures right."""
    numeric = [all(r[i][:1].isdigit() for r in rows) for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _row(scale: int, t: Timing) -> list[str]:
    target = ""
    if t.case.target_ms is not None and scale >= 10_000_000:
        verdict = "met" if t.duckdb <= t.case.target_ms else "missed"
        target = f"≤ {t.case.target_ms:.0f} ms: {verdict}"
    return [
        f"{scale:,}",
        t.case.name,
        f"{t.duckdb:.1f}",
        f"{t.duckdb_floor:.1f}",
        f"{t.duckdb / t.duckdb_floor:.2f}×",
        f"{t.clickhouse:.1f}",
        f"{t.clickhouse_floor:.1f}",
        f"{t.clickhouse / t.clickhouse_floor:.2f}×",
        target,
    ]


def report(results: dict[int, list[Timing]], runs: int) -> str:
    intro = [
        START_MARK,
        "## Query speed",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `bench/query.py` on {machine()}.",
        f"Median of {runs} runs after one warm-up. *Magpie* is the whole query layer as the API",
        "runs it (HogQL compile with sqlglot, project scoping, execution, result shaping);",
        "*floor* is the equivalent hand-written SQL for the same engine on the same data in",
        "the same run. ClickHouse is chdb (in-process ClickHouse) holding the same rows,",
        "copied through Magpie's ClickHouse writers and merged; DuckDB is timed first, before",
        "chdb starts in the same process.",
        "Data: 100k users (30% identified, anonymous before they sign up), 20 event names,",
        "30 days, URLs, browsers and UTM sources.",
        "",
    ]
    rows = [_row(scale, t) for scale, timings in results.items() for t in timings]
    return "\n".join([*intro, *table(COLUMNS, rows), "", END_MARK])


def write(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if START_MARK in text:
        before = text.split(START_MARK)[0]
        after = text.split(END_MARK, 1)[1] if END_MARK in text else ""
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = {}
    for scale in (int(s) for s in args.scales.split(",")):
        print(f"{scale:,} events")
        results[scale] = measure(scale, args.runs)
    section = report(results, args.runs)
    if not args.no_write:
        write(section)
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
