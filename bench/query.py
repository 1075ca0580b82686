"""Query benchmark: Magpie's compiled insights against hand-written SQL, on DuckDB
and on ClickHouse (chdb).

Generates realistic data straight into a Magpie data folder (100k users, 30%
identified, 20 event names, 30 days, URLs, browsers and UTM properties) at 1M
and 10M events, then times, on the same data and in the same run:

- a daily trend of one event over 30 days,
- the same broken down by ``$browser`` (a materialised property),
- the same broken down by ``category`` (a custom property, not materialised),
- the same broken down by a person property (through the merge overrides),
- daily active users,
- a HogQL count of events per day,
- HogQL ``SELECT properties.category, count() … GROUP BY``,

each through Magpie's query layer (compile + run, as the API does) and as the
equivalent hand-written SQL (the floor), on the DuckDB store and on the
ClickHouse store (chdb, the same rows copied through its writers). Queries on
a property also run by hand on properties kept as JSON text, as Magpie stored
them before they were typed: DuckDB's ``json_extract_string`` over a JSON
column (a copy of the events made for the bench) and ClickHouse's
``JSONExtractString`` over a String column. Results go to docs/benchmarks.md.

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

from _query_cases import Case, Tables, cases  # noqa: E402
from _report import write_section  # noqa: E402

from magpie.app import Magpie  # noqa: E402
from magpie.ingest.persons import person_uuid_for  # noqa: E402
from magpie.query.context import QueryContext  # noqa: E402
from magpie.query.kinds import run_query  # noqa: E402
from magpie.query.runner import QueryRunner  # noqa: E402
from magpie.settings import Settings  # noqa: E402
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner  # noqa: E402
from magpie.store.duckdb.typed_properties import events_table_sql  # noqa: E402
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
# A custom property no column holds: what users break down by beyond the hot ones.
CATEGORIES = ["books", "toys", "garden", "food", "tech", "music", "sport", "home", "travel"]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
TEXT_EVENTS = "bench_events_json"  # DuckDB: the events with properties as JSON text
STRING_EVENTS = "bench_events_string"  # ClickHouse: the same with properties as a String


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
    categories = "[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]"
    # The events as Magpie stored them with properties as JSON text: the JSON-text
    # floor reads this copy, and the store's VARIANT column is filled from it.
    con.execute(events_table_sql(TEXT_EVENTS, "JSON USING COMPRESSION zstd"))
    # Identified users are anonymous for their first third of events (before signing up).
    con.execute(f"""
        INSERT INTO {TEXT_EVENTS} BY NAME
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
                           '$lib', 'web',
                           'category', {categories}[1 + (hash(i * 23) % {len(CATEGORIES)})::INT]
                          ) AS properties,
               '' AS elements_chain, CAST(person_uuid AS UUID) AS person_id,
               CASE WHEN as_identified THEN 'full' ELSE 'propertyless' END AS person_mode,
               '{{}}' AS person_properties,
               'https://shop.example' || path AS mat_current_url, path AS mat_pathname,
               'shop.example' AS mat_host, browser AS mat_browser, utm AS mat_utm_source,
               anon_id || '-' || (epoch(ts) // 1800)::VARCHAR AS mat_session_id,
               'web' AS mat_lib, ts AS created_at
        FROM shaped ORDER BY ts""")
    con.execute("CHECKPOINT")
    started = time.perf_counter()
    con.execute(
        f"INSERT INTO events BY NAME SELECT * REPLACE (CAST(properties AS VARIANT) AS properties)"
        f" FROM {TEXT_EVENTS} ORDER BY timestamp"
    )
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    print(f"  typed their properties (JSON text → VARIANT) in {seconds:.1f} s")


def elapsed_ms(fn: Callable[[], object]) -> float:
    """One run of ``fn``, in milliseconds."""
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def timed(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm
    return statistics.median(elapsed_ms(fn) for _ in range(runs))


@dataclass(frozen=True)
class Timing:
    case: Case
    duckdb: float  # Magpie on DuckDB, ms
    clickhouse: float | None  # Magpie on ClickHouse (chdb), ms
    floors: dict[str, float]  # floor kind → ms


TABLES = Tables(duckdb_json=TEXT_EVENTS, clickhouse_string="events")


def measure(scale: int, runs: int, engines: set[str]) -> tuple[list[Timing], dict[str, float]]:
    """Timings per case, and the disk each store takes per million events (MB)."""
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
        all_cases = cases(project.id, TABLES)

        def ours(case: Case, runner: QueryRunner) -> object:
            return run_query(case.query, QueryContext(context_project, runner, NOW))

        def duck_floor(sql: str) -> Callable[[], object]:
            return lambda: floor_cursor.execute(sql).fetchall()

        # DuckDB first, before chdb starts in this process and shares its cores.
        duckdb_times = {
            case.name: (
                timed(lambda case=case: ours(case, magpie.query_runner), runs),
                {
                    kind: timed(duck_floor(sql), runs)
                    for kind, sql in case.floors.items()
                    if kind.startswith("duckdb")
                },
            )
            for case in all_cases
        }
        sizes = {
            "DuckDB, properties as JSON text (before)": _duckdb_megabytes(
                floor_cursor, scale, TEXT_EVENTS
            ),
            "DuckDB, as VARIANT (now)": _duckdb_megabytes(floor_cursor, scale, "events"),
        }
        house_times: dict[str, tuple[float | None, dict[str, float]]] = {}
        if "clickhouse" in engines:
            house_times, house_sizes = _clickhouse(folder, magpie, all_cases, runs, scale, ours)
            sizes.update(house_sizes)
        rows = []
        for case in all_cases:
            ours_duck, duck_floors = duckdb_times[case.name]
            ours_house, house_floors = house_times.get(case.name, (None, {}))
            timing = Timing(case, ours_duck, ours_house, {**duck_floors, **house_floors})
            rows.append(timing)
            print(f"  {case.name:42} " + "  ".join(_row(scale, timing)[2:]))
        magpie.close()
        return rows, sizes
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _duckdb_megabytes(cursor: duckdb.DuckDBPyConnection, scale: int, table: str) -> float:
    """MB of a table's blocks, per million events."""
    (blocks,) = cursor.execute(
        "SELECT count(DISTINCT block_id) FROM pragma_storage_info($table)"
        " WHERE persistent AND block_id >= 0",
        {"table": table},
    ).fetchall()[0]
    (block_size,) = cursor.execute(
        "SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchall()[0]
    return blocks * block_size / 1e6 / (scale / 1e6)


def _clickhouse(
    folder: Path,
    magpie: Magpie,
    all_cases: list[Case],
    runs: int,
    scale: int,
    ours: Callable[[Case, QueryRunner], object],
) -> tuple[dict[str, tuple[float | None, dict[str, float]]], dict[str, float]]:
    started = time.perf_counter()
    client, database = new_database(f"chdb://{folder / 'chdb'}", "bench")
    copy_store(magpie.db.new_cursor(), client)
    client.command(f"OPTIMIZE TABLE {database}.events FINAL")
    print(f"  copied them into ClickHouse in {time.perf_counter() - started:.1f} s")
    house = ClickHouseQueryRunner(client, database)

    def house_floor(sql: str) -> Callable[[], object]:
        return lambda: client.query(sql, settings={"join_use_nulls": 1}).result_rows

    times: dict[str, tuple[float | None, dict[str, float]]] = {}
    for case in all_cases:
        floors = {
            kind: timed(house_floor(sql), runs)
            for kind, sql in case.floors.items()
            if kind.startswith("clickhouse")
        }
        times[case.name] = (timed(lambda case=case: ours(case, house), runs), floors)
    (compressed,) = client.query(
        f"SELECT sum(data_compressed_bytes) FROM system.parts"
        f" WHERE database = '{database}' AND table = 'events' AND active"
    ).result_rows[0]
    (typed,) = client.query(
        f"SELECT sum(data_compressed_bytes) FROM system.columns"
        f" WHERE database = '{database}' AND table = 'events' AND name = 'properties_json'"
    ).result_rows[0]
    per_million = scale / 1e6
    return times, {
        "ClickHouse, String alone (before)": (compressed - typed) / 1e6 / per_million,
        "ClickHouse, String and JSON (now)": compressed / 1e6 / per_million,
    }


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
    "floor DuckDB, VARIANT (ms)",
    "floor DuckDB, JSON text (ms)",
    "Magpie ClickHouse (ms)",
    "floor ClickHouse, JSON (ms)",
    "floor ClickHouse, String + JSONExtract (ms)",
    "target (DuckDB, 10M)",
)


def _is_figure(cell: str) -> bool:
    """Whether a cell is a figure ("1,234.5", "1.06×", "12 ms") or text ("3-step funnel")."""
    head = cell.split(" ", 1)[0]
    return any(c.isdigit() for c in head) and all(c.isdigit() or c in ",.×%" for c in head)


def table(headers: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    """One Markdown table: text columns left, figures right."""
    numeric = [all(_is_figure(r[i]) or not r[i] for r in rows) for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def _target(scale: int, t: Timing) -> str:
    if scale < 10_000_000:
        return ""
    verdicts = []
    if t.case.target_ms is not None:
        verdict = "met" if t.duckdb <= t.case.target_ms else "missed"
        verdicts.append(f"≤ {t.case.target_ms:.0f} ms: {verdict}")
    if t.case.at_most_clickhouse and t.clickhouse is not None:
        verdict = "met" if t.duckdb <= t.clickhouse else "missed"
        verdicts.append(f"≤ Magpie ClickHouse: {verdict}")
    return "; ".join(verdicts)


def _row(scale: int, t: Timing) -> list[str]:
    return [
        f"{scale:,}",
        t.case.name,
        _ms(t.duckdb),
        _ms(t.floors.get("duckdb")),
        _ms(t.floors.get("duckdb_json")),
        _ms(t.clickhouse),
        _ms(t.floors.get("clickhouse")),
        _ms(t.floors.get("clickhouse_string")),
        _target(scale, t),
    ]


def report(results: dict[int, tuple[list[Timing], dict[str, float]]], runs: int) -> str:
    intro = [
        "## Query speed",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `bench/query.py` on {machine()}.",
        f"Median of {runs} runs after one warm-up. *Magpie* is the whole query layer as the API",
        "runs it (HogQL compile with sqlglot, project scoping, execution, result shaping);",
        "*floor* is the equivalent hand-written SQL for the same engine on the same data in",
        "the same run: on the stores as Magpie has them (properties as VARIANT in DuckDB, as",
        "ClickHouse's JSON type in ClickHouse) and, for queries that read a property, on",
        "properties kept as text as Magpie stored them before (DuckDB `json_extract_string`",
        "over a JSON column, ClickHouse `JSONExtractString` over a String). ClickHouse is chdb",
        "(in-process ClickHouse) holding the same rows, copied through Magpie's ClickHouse",
        "writers and merged; DuckDB is timed first, before chdb starts in the same process.",
        "Data: 100k users (30% identified, anonymous before they sign up), 20 event names,",
        "30 days, URLs, browsers, UTM sources and a custom `category` on every event.",
        "",
    ]
    rows = [_row(scale, t) for scale, (timings, _) in results.items() for t in timings]
    sizes = [
        f"- {scale:,} events: "
        + ", ".join(f"{store} {mb:,.1f} MB" for store, mb in per_store.items())
        + " per million events (the events table, compressed)"
        for scale, (_, per_store) in results.items()
    ]
    return "\n".join([*intro, *table(COLUMNS, rows), "", "Disk:", "", *sizes, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=5)
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
        write_section(DOCS, section, name="query")
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
