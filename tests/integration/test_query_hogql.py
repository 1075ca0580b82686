"""HogQL over the virtual tables: resolution, scoping, safety, limits, timeouts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from magpie.query.context import QueryContext
from magpie.query.dialects.duckdb import DUCKDB
from magpie.query.errors import (
    ForbiddenStatement,
    MissingPlaceholder,
    QueryTimeout,
    UnknownColumn,
    UnknownFunction,
    UnknownTable,
)
from magpie.query.hogql.compiler import compile_hogql
from magpie.query.kinds import run_query
from magpie.store.duckdb.query_runner import DuckDBQueryRunner as QueryRunner
from tests.harness import Ingest

pytestmark = pytest.mark.both_modes


def hogql(ingest: Ingest, sql: str, **values: object) -> dict:
    project = ingest.magpie.projects.get(ingest.project_id)
    assert project is not None
    context = QueryContext(project, ingest.magpie.query_runner, datetime(2026, 3, 2, tzinfo=UTC))
    return run_query({"kind": "HogQLQuery", "query": sql, "values": values}, context)


@pytest.fixture
def data(ingest: Ingest) -> Ingest:
    """Two anonymous visitors, one of whom signs up; a server-side user; a group."""
    ingest.send(
        ingest.event(
            "$pageview",
            "anon-1",
            anonymous=True,
            **{"$browser": "Chrome", "$current_url": "https://a.example/x", "plan": "x"},
        ),
        ingest.event("$pageview", "anon-2", anonymous=True, **{"$browser": "Firefox"}),
        ingest.event(
            "$identify",
            "ada",
            **{"$anon_distinct_id": "anon-1", "$set": {"email": "ada@example.com"}},
        ),
        ingest.event(
            "purchase", "ada", price=30, **{"$browser": "Chrome", "$groups": {"company": "acme"}}
        ),
        ingest.event(
            "$groupidentify",
            "ada",
            **{"$group_type": "company", "$group_key": "acme", "$group_set": {"name": "Acme"}},
        ),
        ingest.event("purchase", "bob", price=12.5, **{"$set": {"email": "bob@example.com"}}),
    )
    return ingest


def test_properties_columns_and_person_properties(data: Ingest) -> None:
    result = hogql(
        data,
        "SELECT event, properties.$browser, properties['plan'], "
        "person.properties.email, person_mode FROM events ORDER BY timestamp",
    )
    assert result["columns"] == ["event", "$browser", "plan", "email", "person_mode"]
    assert result["results"] == [
        ["$pageview", "Chrome", "x", "ada@example.com", "propertyless"],
        ["$pageview", "Firefox", None, None, "propertyless"],
        ["$identify", None, None, "ada@example.com", "full"],
        ["purchase", "Chrome", None, "ada@example.com", "full"],
        ["$groupidentify", None, None, "ada@example.com", "full"],
        ["purchase", None, None, "bob@example.com", "full"],
    ]
    assert result["hogql"].startswith("SELECT event, properties.$browser")


def test_person_id_resolves_through_merges(data: Ingest) -> None:
    result = hogql(
        data,
        "SELECT distinct_id, person_id FROM events WHERE distinct_id IN "
        "('anon-1', 'ada') GROUP BY 1, 2 ORDER BY 1",
    )
    assert len({row[1] for row in result["results"]}) == 1
    per_person = hogql(data, "SELECT count(DISTINCT person_id) FROM events")
    assert per_person["results"] == [[3]]  # ada (with anon-1), anon-2, bob


def test_persons_table_holds_only_people_with_profiles(data: Ingest) -> None:
    result = hogql(data, "SELECT properties.email, is_identified FROM persons ORDER BY 1")
    assert result["results"] == [["ada@example.com", True], ["bob@example.com", False]]
    ids = hogql(data, "SELECT distinct_id FROM person_distinct_ids ORDER BY 1")
    assert ids["results"] == [["ada"], ["anon-1"], ["bob"]]
    joined = hogql(
        data,
        "SELECT p.properties.email, count() FROM events e JOIN persons p "
        "ON p.id = e.person_id GROUP BY 1 ORDER BY 1",
    )
    assert joined["results"] == [["ada@example.com", 4], ["bob@example.com", 1]]


def test_groups_table_and_group_properties_on_events(data: Ingest) -> None:
    assert hogql(data, "SELECT group_type, group_key, properties.name FROM groups")["results"] == [
        ["company", "acme", "Acme"]
    ]
    result = hogql(
        data,
        "SELECT group_0.properties.name, count() FROM events WHERE $group_0 = 'acme' GROUP BY 1",
    )
    assert result["results"] == [["Acme", 1]]


def test_functions_aggregates_and_ctes(data: Ingest) -> None:
    result = hogql(
        data,
        """
        WITH buyers AS (SELECT distinct_id, sum(toFloat(properties.price)) AS spent
                        FROM events WHERE event = 'purchase' GROUP BY distinct_id)
        SELECT distinct_id, spent, countIf(spent > 20) OVER () FROM buyers ORDER BY spent DESC""",
    )
    assert result["results"] == [["ada", 30.0, 1], ["bob", 12.5, 1]]
    uniq = hogql(
        data, "SELECT uniq(distinct_id), uniqExact(event), toDate(min(timestamp)) FROM events"
    )
    assert uniq["results"][0][:2] == [4, 4]


def test_placeholders_are_bound_not_interpolated(data: Ingest) -> None:
    result = hogql(data, "SELECT count() FROM events WHERE event = {name}", name="purchase")
    assert result["results"] == [[2]]
    sneaky = hogql(
        data, "SELECT count() FROM events WHERE event = {name}", name="purchase' OR 1=1 --"
    )
    assert sneaky["results"] == [[0]]
    with pytest.raises(MissingPlaceholder):
        hogql(data, "SELECT {nope}")
    with pytest.raises(MissingPlaceholder):
        hogql(data, "SELECT {__project_id}", __project_id=2)


def test_no_query_reads_another_project(data: Ingest) -> None:
    mine = data.project_id
    data.new_project()
    data.send(data.event("other-project-event", "stranger", **{"$set": {"email": "x@y"}}))
    data.project_id = mine
    for sql in [
        "SELECT count() FROM events WHERE event = 'other-project-event'",
        "SELECT count() FROM persons WHERE properties.email = 'x@y'",
        "SELECT count() FROM person_distinct_ids WHERE distinct_id = 'stranger'",
        "SELECT count() FROM (SELECT * FROM events) WHERE event = 'other-project-event'",
    ]:
        assert hogql(data, sql)["results"] == [[0]], sql


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        ("SELECT nope FROM events", UnknownColumn, "unknown column 'nope' at line 1, column 8"),
        ("SELECT person.nope FROM events", UnknownColumn, "unknown column 'nope' in events.person"),
        ("SELECT * FROM users", UnknownTable, "unknown table 'users'"),
        ("SELECT * FROM information_schema.tables", UnknownTable, "unknown table"),
        ("SELECT * FROM 'data/magpie.duckdb'", UnknownTable, "unknown table"),
        ("SELECT * FROM read_csv('/etc/passwd')", UnknownFunction, "READ_CSV"),
        ("SELECT getenv('HOME')", UnknownFunction, "getenv"),
        (
            "SELECT frobnicate(event) FROM events",
            UnknownFunction,
            "unknown function frobnicate() at line 1, column",
        ),
        ("DELETE FROM events", ForbiddenStatement, "only SELECT"),
        ("INSERT INTO events SELECT * FROM events", ForbiddenStatement, "only SELECT"),
        ("SELECT 1; DROP TABLE events", ForbiddenStatement, "exactly one"),
        ("ATTACH 'x.db'", ForbiddenStatement, "only SELECT"),
        ("COPY events TO 'x.csv'", ForbiddenStatement, "only SELECT"),
    ],
)
def test_refused_queries_name_the_problem(
    data: Ingest, sql: str, error: type, message: str
) -> None:
    with pytest.raises(error) as raised:
        hogql(data, sql)
    assert message in raised.value.message


def test_limits(ingest: Ingest) -> None:
    ingest.send(*[ingest.event("bulk", f"u{i}", anonymous=True) for i in range(150)])
    assert len(hogql(ingest, "SELECT uuid FROM events")["results"]) == 100
    assert len(hogql(ingest, "SELECT uuid FROM events LIMIT 120")["results"]) == 120
    assert "LIMIT 50000" in compile_hogql("SELECT 1 LIMIT 9999999", 1, dialect=DUCKDB).sql


@pytest.mark.embedded_only
def test_a_query_that_runs_too_long_is_interrupted(ingest: Ingest) -> None:
    ingest.send(*[ingest.event("bulk", f"u{i}", anonymous=True) for i in range(300)])
    runner = QueryRunner(ingest.magpie.db, timeout_seconds=0.3)
    compiled = compile_hogql(
        "SELECT count() FROM events a, events b, events c, events d WHERE a.uuid != d.uuid",
        ingest.project_id,
        dialect=DUCKDB,
    )
    with pytest.raises(QueryTimeout):
        runner.execute(compiled)
    # The store is still usable afterwards.
    assert hogql(ingest, "SELECT count() FROM events")["results"] == [[300]]
