"""HogQL stays inside its project: no name, case, quoting or CTE trick reaches another
project's rows, Magpie's internal tables, the engine's catalogs or a file on disk.
Every query runs on DuckDB and on ClickHouse (chdb, holding a copy of the same rows)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magpie.errors import MagpieError
from magpie.query.context import QueryContext
from magpie.query.kinds import run_query
from magpie.query.runner import QueryRunner
from tests.clickhouse import clickhouse_runner, copy_to_clickhouse, new_database
from tests.harness import T0, Ingest

MARKER = "zzother"  # in every value the other project stores
SECRET = "PLANTEDSECRET"
FORGED = "00000000-0000-4000-8000-00000000f0f0"

LOGICAL = ["events", "persons", "person_distinct_ids", "groups", "cohort_people"]
INTERNAL = [
    "cohorts",
    "person_overrides",
    "personless_distinct_ids",
    "person_merges",
    "group_type_mapping",
    "projects",
    "personal_api_keys",
    "usage_counters",
    "usage_dropped",
    "queue_positions",
    "dead_letters",
    "ingestion_warnings",
    "feature_flags",
    "feature_flag_versions",
    "feature_flag_hash_keys",
    "schema_migrations",
    "sqlite_master",
    "pg_settings",
    "duckdb_settings",
    "information_schema.tables",
    "main.events",
    "magpie.events",
    "magpie.main.projects",
    "memory.main.x",
]


def _variants(name: str) -> list[str]:
    return [name, name.upper(), name.title(), f'"{name}"', f'"{name.upper()}"', f"`{name}`"]


# Harnesses whose queries run on ClickHouse (the others run on their DuckDB file).
CLICKHOUSE: dict[int, QueryRunner] = {}


def runner_of(ingest: Ingest) -> QueryRunner:
    return CLICKHOUSE.get(id(ingest), ingest.magpie.query_runner)


@pytest.fixture(scope="module", params=["duckdb", "clickhouse"])
def two_projects(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Ingest, Path]]:
    root = tmp_path_factory.mktemp("isolation")
    ingest = Ingest(root / "data")
    mine = ingest.project_id
    ingest.send(
        ingest.event("mine", "me", anonymous=True, **{"$browser": "Chrome"}),
        ingest.event("$identify", "me-user", **{"$anon_distinct_id": "me", "$set": {"a": 1}}),
    )
    ingest.new_project()
    ingest.send(
        ingest.event(f"{MARKER}-event", f"{MARKER}-anon", anonymous=True, note=MARKER),
        ingest.event(
            "$identify",
            f"{MARKER}-user",
            **{"$anon_distinct_id": f"{MARKER}-anon", "$set": {"email": f"{MARKER}@x"}},
        ),
        ingest.event(
            "$groupidentify",
            f"{MARKER}-user",
            **{"$group_type": "company", "$group_key": f"{MARKER}-co", "$group_set": {"n": 1}},
        ),
    )
    # The other project's cohort (named with the marker) holds its person.
    cohorts = ingest.magpie.stores.cohorts
    theirs = cohorts.create(ingest.project_id, MARKER, MARKER, {}, is_static=True)
    cohorts.add_static_members(ingest.project_id, theirs.id, [f"{MARKER}-user"], T0)
    ingest.project_id = mine
    planted = root / "data" / "planted.csv"
    planted.write_text(f"a,b\n{SECRET},1\n")
    (root / "data" / "planted.json").write_text(orjson.dumps([{"a": SECRET}]).decode())
    if request.param == "clickhouse":
        client, database = new_database(request.getfixturevalue("chdb_dsn"), "isolation")
        copy_to_clickhouse(ingest, client)
        CLICKHOUSE[id(ingest)] = clickhouse_runner(client, database)
    yield ingest, root / "data"
    CLICKHOUSE.pop(id(ingest), None)
    ingest.close()


def hogql(ingest: Ingest, sql: str) -> dict:
    project = ingest.magpie.projects.get(ingest.project_id)
    assert project is not None
    context = QueryContext(project, runner_of(ingest), datetime(2026, 3, 2, tzinfo=UTC))
    return run_query({"kind": "HogQLQuery", "query": sql}, context)


def assert_contained(ingest: Ingest, data_dir: Path, sql: str) -> None:
    """Either a refusal with a clear code, or rows of this project only."""
    forbidden = [MARKER, SECRET, FORGED, "phx_", "phc_"]
    try:
        answer = hogql(ingest, sql)
    except MagpieError as exc:
        assert exc.status < 500 or exc.code == "query_timeout", (sql, exc.code)
        text = exc.message
        for word in forbidden:
            assert word not in text, (sql, text)
        # Engine internals appear only where the caller wrote them itself.
        internals = ["person_overrides", "mat_", "__cte_", "Error:", "project_id", str(data_dir)]
        for word in internals:
            assert word not in text or word in sql, (sql, text)
        return
    # The answer echoes the query as "hogql"; what the engine returned must be clean.
    text = orjson.dumps([answer["columns"], answer["results"]], default=str).decode()
    for word in [*forbidden, str(data_dir)]:
        assert word not in text, (sql, text[:500])
    assert "sql" not in answer


def _files(data_dir: Path) -> list[str]:
    return [str(data_dir / "planted.csv"), str(data_dir / "planted.json"), "planted.csv"]


@pytest.mark.parametrize("name", [*LOGICAL, *INTERNAL, "__cte_0"])
def test_recursive_cte_named_like_a_table(two_projects: tuple[Ingest, Path], name: str) -> None:
    ingest, data_dir = two_projects
    for variant in _variants(name):
        anchor = f"SELECT * FROM {variant} UNION ALL SELECT * FROM {variant} WHERE 1=0"
        assert_contained(ingest, data_dir, f"WITH RECURSIVE X AS ({anchor}) SELECT * FROM X")
        assert_contained(
            ingest, data_dir, f"WITH RECURSIVE {variant} AS ({anchor}) SELECT * FROM {variant}"
        )


def test_recursive_cte_over_a_file(two_projects: tuple[Ingest, Path]) -> None:
    ingest, data_dir = two_projects
    for path in [*_files(data_dir), str(data_dir / "credentials.json")]:
        for quoted in (f'"{path}"', f"`{path}`", f"'{path}'"):
            body = f"SELECT * FROM {quoted} UNION ALL SELECT * FROM {quoted} WHERE 1=0"
            assert_contained(ingest, data_dir, f"WITH RECURSIVE X AS ({body}) SELECT * FROM X")
            assert_contained(ingest, data_dir, f"SELECT * FROM {quoted}")


@pytest.mark.parametrize("name", ["person_overrides", "persons", "events", "groups", "e", "o"])
def test_a_cte_cannot_stand_in_for_a_stored_table(
    two_projects: tuple[Ingest, Path], name: str
) -> None:
    """Magpie's own subqueries read stored tables that a user's CTE must not replace."""
    ingest, data_dir = two_projects
    forged = (
        f"SELECT {ingest.project_id} AS project_id, 'me' AS distinct_id, "
        f"CAST('{FORGED}' AS UUID) AS person_uuid, CAST('{FORGED}' AS UUID) AS uuid, "
        "9 AS version, '{}' AS properties"
    )
    for variant in _variants(name)[:3]:
        for select in (
            "SELECT person_id, person.properties FROM events",
            "SELECT id FROM persons",
            "SELECT person_id FROM person_distinct_ids",
        ):
            assert_contained(ingest, data_dir, f"WITH {variant} AS ({forged}) {select}")


def test_another_project_s_cohorts_are_out_of_reach(two_projects: tuple[Ingest, Path]) -> None:
    ingest, data_dir = two_projects
    assert hogql(ingest, "SELECT count() FROM cohort_people")["results"] == [[0]]
    assert_contained(ingest, data_dir, "SELECT * FROM cohort_people")
    assert_contained(ingest, data_dir, "SELECT name FROM cohorts")


def test_a_cte_may_shadow_a_logical_table(two_projects: tuple[Ingest, Path]) -> None:
    ingest, _ = two_projects
    sql = "WITH events AS (SELECT * FROM events WHERE event = 'mine') SELECT count() FROM events"
    assert hogql(ingest, sql)["results"] == [[1]]
    sql = "WITH EVENTS AS (SELECT event FROM Events) SELECT count() FROM events"
    assert hogql(ingest, sql)["results"] == [[2]]


def test_ctes_resolve_by_scope(two_projects: tuple[Ingest, Path]) -> None:
    ingest, _ = two_projects
    # The inner WITH's a is the one its query sees; the outer query sees its own a.
    sql = """
        WITH a AS (SELECT 1 AS n)
        SELECT (SELECT n FROM (WITH a AS (SELECT 2 AS n) SELECT n FROM a)), n FROM a
    """
    assert hogql(ingest, sql)["results"] == [[2, 1]]
    sql = """
        WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 4)
        SELECT sum(n) FROM t
    """
    assert hogql(ingest, sql)["results"] == [[10]]
    # An unqualified name in a subquery is the subquery's; a qualified one may correlate.
    sql = "SELECT (SELECT max(event) FROM (SELECT event FROM events) AS x) FROM events LIMIT 1"
    assert hogql(ingest, sql)["results"] == [["mine"]]
    sql = """SELECT count() FROM events AS e
             WHERE EXISTS (SELECT 1 FROM persons AS p WHERE p.id = e.person_id)"""
    assert hogql(ingest, sql)["results"] == [[2]]


def test_engine_errors_name_no_internals(two_projects: tuple[Ingest, Path]) -> None:
    ingest, data_dir = two_projects
    for sql in [
        "SELECT event + 1 FROM events",
        "SELECT toInt(event) + [1] FROM events",
        "SELECT CAST(event AS INT) FROM events",
        "WITH RECURSIVE x AS (SELECT * FROM x) SELECT * FROM x",
    ]:
        with pytest.raises(MagpieError) as raised:
            hogql(ingest, sql)
        assert raised.value.status == 400
        assert_contained(ingest, data_dir, sql)


def test_the_engine_cannot_read_files_or_change_settings(
    two_projects: tuple[Ingest, Path],
) -> None:
    """Defence in depth: even SQL that never went through the compiler."""
    ingest, data_dir = two_projects
    if id(ingest) in CLICKHOUSE:
        pytest.skip("DuckDB's own lock-down")
    cursor = ingest.magpie.db.new_cursor()
    for sql in [
        f"SELECT * FROM '{data_dir / 'planted.csv'}'",
        f"SELECT * FROM read_csv('{data_dir / 'credentials.json'}')",
        f"SELECT * FROM read_text('{data_dir / 'planted.json'}')",
        f"COPY (SELECT 1) TO '{data_dir / 'out.csv'}'",
        f"ATTACH '{data_dir / 'other.duckdb'}' AS other",
        "SET memory_limit = '64GB'",
        "SET enable_external_access = true",
    ]:
        with pytest.raises(duckdb.Error):
            cursor.execute(sql).fetchall()
    assert not (data_dir / "out.csv").exists()
    cursor.close()


# -- a grammar of hostile queries ---------------------------------------------------

NAMES = st.sampled_from([*LOGICAL, *INTERNAL, "X", "t", "__cte_0", "planted.csv"])
CASED = NAMES.flatmap(lambda n: st.sampled_from(_variants(n)))


@st.composite
def table_ref(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.integers(0, 3 if depth < 2 else 0))
    if kind == 0:
        return draw(CASED)
    if kind == 1:
        return f"(SELECT * FROM {draw(table_ref(depth + 1))}) AS {draw(CASED)}"
    if kind == 2:
        return f"({draw(query(depth + 1))}) AS sub"
    return f"{draw(CASED)} AS {draw(CASED)}"


@st.composite
def body(draw: st.DrawFn, depth: int) -> str:
    first = draw(table_ref(depth))
    if draw(st.booleans()):
        return f"SELECT * FROM {first} UNION ALL SELECT * FROM {draw(table_ref(depth))} WHERE 1=0"
    return f"SELECT * FROM {first}"


@st.composite
def query(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 2 or draw(st.booleans()):
        return draw(body(depth))
    recursive = "RECURSIVE " if draw(st.booleans()) else ""
    ctes = ", ".join(
        f"{draw(CASED)} AS ({draw(body(depth + 1))})" for _ in range(draw(st.integers(1, 2)))
    )
    return f"WITH {recursive}{ctes} {draw(body(depth + 1))}"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sql=query())
def test_no_generated_query_leaves_its_project(two_projects: tuple[Ingest, Path], sql: str) -> None:
    ingest, data_dir = two_projects
    assert_contained(ingest, data_dir, sql)


HOSTILE_SUBQUERIES = [
    "(WITH RECURSIVE X AS (SELECT * FROM EVENTS UNION ALL SELECT * FROM EVENTS WHERE 1=0) "
    "SELECT max(event) FROM X)",
    "(WITH RECURSIVE X AS (SELECT * FROM projects UNION ALL SELECT * FROM projects WHERE 1=0) "
    "SELECT max(api_token) FROM X)",
    "(SELECT max(event) FROM (WITH events AS (SELECT * FROM EVENTS) SELECT * FROM events))",
    '(SELECT max(a) FROM "planted.csv")',
]


def trends(ingest: Ingest, **query: object) -> dict:
    project = ingest.magpie.projects.get(ingest.project_id)
    assert project is not None
    context = QueryContext(project, runner_of(ingest), datetime(2026, 3, 2, tzinfo=UTC))
    payload = {"kind": "TrendsQuery", "series": [{"event": None}], **query}
    payload["dateRange"] = {"date_from": "2026-02-01", "date_to": "2026-03-02"}
    return run_query(payload, context)


def assert_trends_contained(ingest: Ingest, **query: object) -> None:
    try:
        answer = trends(ingest, **query)
    except MagpieError as exc:
        assert exc.status < 500 and MARKER not in exc.message and SECRET not in exc.message
        return
    text = orjson.dumps(answer["results"], default=str).decode()
    assert MARKER not in text and SECRET not in text and "phc_" not in text, text[:400]


@pytest.mark.parametrize("subquery", HOSTILE_SUBQUERIES)
def test_every_hogql_entry_point_stays_in_its_project(
    two_projects: tuple[Ingest, Path], subquery: str
) -> None:
    ingest, _ = two_projects
    assert_trends_contained(
        ingest, breakdownFilter={"breakdown": subquery, "breakdown_type": "hogql"}
    )
    condition = f"{subquery} IS NOT NULL"
    assert_trends_contained(ingest, properties=[{"type": "hogql", "key": condition}])
    assert_trends_contained(
        ingest, series=[{"event": None, "properties": [{"type": "hogql", "key": condition}]}]
    )
    original = ingest.magpie.projects.get(ingest.project_id)
    assert original is not None
    ingest.magpie.projects.update(
        ingest.project_id, test_account_filters=[{"type": "hogql", "key": f"NOT {condition}"}]
    )
    try:
        assert_trends_contained(ingest, filterTestAccounts=True)
    finally:
        ingest.magpie.projects.update(
            ingest.project_id, test_account_filters=original.test_account_filters
        )


def test_the_data_folder_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    (data_dir / "old.log").write_text("x")
    (data_dir / "old.log").chmod(0o644)
    ingest = Ingest(data_dir)
    try:
        ingest.send(ingest.event("e", "u", anonymous=True))
        ingest.magpie.db.checkpoint()
        assert data_dir.stat().st_mode & 0o777 == 0o700
        files = [p for p in data_dir.rglob("*") if p.is_file()]
        assert any(p.name == "magpie.duckdb" for p in files)
        for path in files:
            assert path.stat().st_mode & 0o077 == 0, path
        # Queries larger than memory spill inside the data folder, up to a cap.
        cursor = ingest.magpie.db.new_cursor()
        spill, cap = cursor.execute(
            "SELECT current_setting('temp_directory'), current_setting('max_temp_directory_size')"
        ).fetchall()[0]
        cursor.close()
        assert Path(spill) == data_dir / "spill"
        assert cap.startswith("9.3 GiB") or cap.startswith("10")
    finally:
        ingest.close()
