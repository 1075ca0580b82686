"""Golden: cohorts as property filters and breakdowns give the same series on DuckDB
and on ClickHouse, and the series worked out by hand.

4-10 March 2026: anon-1 views pages anonymously on the 4th and 6th, identifies
as ada (plan pro) on the 7th and views pages on the 8th and 9th; bob (plan
free) views two pages on the 8th and signs up on the 9th; cat (plan pro) views
a page on the 9th; anon-3 views one on the 10th and never identifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from magpie.clock import FrozenClock
from magpie.cohorts.service import CohortService
from tests.golden.compare import plain
from tests.golden.conftest import Engines, engines_over
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
COHORTS: dict[str, int] = {}
WEEK = {"date_from": "2026-03-04", "date_to": "2026-03-10"}


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def fill(ingest: Ingest) -> None:
    anonymous = {"$process_person_profile": False}
    rows: list[tuple[datetime, str, str, dict[str, Any]]] = [
        (at(4), "$pageview", "anon-1", anonymous),
        (at(6), "$pageview", "anon-1", anonymous),
        (at(7), "$identify", "ada", {"$anon_distinct_id": "anon-1", "$set": {"plan": "pro"}}),
        (at(8), "$pageview", "ada", {}),
        (at(8, 13), "$pageview", "bob", {"$set": {"plan": "free"}}),
        (at(8, 14), "$pageview", "bob", {}),
        (at(9), "$pageview", "ada", {}),
        (at(9, 13), "signup", "bob", {}),
        (at(9, 14), "$pageview", "cat", {"$set": {"plan": "pro"}}),
        (at(10), "$pageview", "anon-3", anonymous),
    ]
    events = []
    for when, name, distinct_id, props in rows:
        ingest.clock = when - timedelta(seconds=1)
        events.append(ingest.event(name, distinct_id, **props))
    ingest.send(*events)
    magpie = ingest.magpie
    service = CohortService(
        magpie.stores.cohorts, magpie.projects, magpie.query_runner, FrozenClock(NOW)
    )
    project = ingest.project_id
    plan = {"key": "plan", "type": "person", "value": "pro"}
    signup = {
        "key": "signup",
        "type": "behavioral",
        "value": "performed_event",
        "time_value": 30,
        "time_interval": "day",
    }
    for name, leaf in (("pro", plan), ("signed up", signup)):
        filters = {"properties": {"type": "AND", "values": [leaf]}}
        COHORTS[name] = service.create(project, name, "", filters).id
    listed = service.create(project, "list", "", {}, is_static=True)
    COHORTS["list"] = service.add_static_members(project, listed.id, ["anon-1", "anon-3"]).id
    internal = {"type": "cohort", "key": "id", "value": COHORTS["list"], "operator": "not_in"}
    magpie.projects.update(project, test_account_filters=[internal])


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


def _in(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "cohort", "key": "id", "value": COHORTS[name], **extra}


# name, query (built once the cohorts exist), expected {breakdown value: daily data}
CASES: list[tuple[str, Any, dict[Any, list[int]]]] = [
    # ada's anonymous views before she identified count for her.
    (
        "in a cohort",
        lambda: {"properties": [_in("pro")]},
        {None: [1, 0, 1, 0, 1, 2, 0]},
    ),
    # Not in it: bob; the anonymous anon-3 has no person, so is in no cohort's complement.
    (
        "not in a cohort (negation)",
        lambda: {"properties": [_in("pro", negation=True)]},
        {None: [0, 0, 0, 0, 2, 0, 0]},
    ),
    (
        "not in a cohort (not_in)",
        lambda: {"properties": [_in("pro", operator="not_in")]},
        {None: [0, 0, 0, 0, 2, 0, 0]},
    ),
    (
        "a behavioural cohort on the series",
        lambda: {"series": [{"event": "$pageview", "properties": [_in("signed up")]}]},
        {None: [0, 0, 0, 0, 2, 0, 0]},
    ),
    ("a static cohort", lambda: {"properties": [_in("list")]}, {None: [1, 0, 1, 0, 1, 1, 0]}),
    (
        "a cohort in an OR group",
        lambda: {
            "properties": {
                "type": "OR",
                "values": [
                    {"type": "AND", "values": [_in("signed up")]},
                    {"type": "AND", "values": [_in("list")]},
                ],
            }
        },
        {None: [1, 0, 1, 0, 3, 1, 0]},
    ),
    # The project's test accounts are its "list" cohort (ada): anonymous traffic stays.
    (
        "test accounts as a cohort",
        lambda: {"filterTestAccounts": True},
        {None: [0, 0, 0, 0, 2, 1, 1]},
    ),
    (
        "unique users in a cohort",
        lambda: {"series": [{"event": "$pageview", "math": "dau"}], "properties": [_in("pro")]},
        {None: [1, 0, 1, 0, 1, 2, 0]},
    ),
    (
        "breakdown by cohorts",
        lambda: {
            "breakdownFilter": {
                "breakdown_type": "cohort",
                "breakdown": [COHORTS["pro"], COHORTS["signed up"], "all"],
            }
        },
        {
            "pro": [1, 0, 1, 0, 1, 2, 0],
            "signed up": [0, 0, 0, 0, 2, 0, 0],
            "all": [1, 0, 1, 0, 3, 2, 1],
        },
    ),
]


def _series(result: dict[str, Any]) -> dict[Any, list[int]]:
    names = {v: k for k, v in COHORTS.items()} | {"all": "all"}
    return {
        names.get(item.get("breakdown_value"), item.get("breakdown_value")): item["data"]
        for item in result["results"]
    }


@pytest.mark.parametrize(("name", "query", "expected"), CASES, ids=[c[0] for c in CASES])
def test_cohorts_in_trends(
    engines: Engines, name: str, query: Any, expected: dict[Any, list[int]]
) -> None:
    payload = {
        "kind": "TrendsQuery",
        "series": [{"event": "$pageview"}],
        "dateRange": WEEK,
        **query(),
    }
    project = engines.ingest.project_id
    duck = engines.run("duckdb", payload, NOW, project)
    house = engines.run("clickhouse", payload, NOW, project)
    assert duck.error is None and house.error is None, (duck.error, house.error)
    assert duck.value is not None and house.value is not None
    assert plain(duck.value["results"]) == plain(house.value["results"])
    assert _series(duck.value) == expected


def test_cohort_people_in_hogql(engines: Engines) -> None:
    query = (
        "SELECT count() FROM events WHERE event = '$pageview' AND person_id IN"
        " (SELECT person_id FROM cohort_people WHERE cohort_id = {cohort})"
    )
    payload = {"kind": "HogQLQuery", "query": query, "values": {"cohort": COHORTS["pro"]}}
    project = engines.ingest.project_id
    answers = [engines.run(e, payload, NOW, project) for e in ("duckdb", "clickhouse")]
    assert [a.value["results"] for a in answers if a.value] == [[[5]], [[5]]]


@pytest.mark.parametrize(
    "properties",
    [
        [{"type": "cohort", "key": "id", "value": "pro"}],
        [{"type": "cohort", "key": "id", "value": None}],
        [{"type": "cohort", "key": "id", "value": -1}],
    ],
)
def test_a_bad_cohort_filter_is_refused(engines: Engines, properties: list[Any]) -> None:
    payload = {"kind": "TrendsQuery", "series": [{"event": "$pageview"}], "properties": properties}
    answer = engines.run("duckdb", payload, NOW, engines.ingest.project_id)
    assert answer.error == (400, "invalid_input")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (lambda: {"properties": [_in("pro")]}, 5),
        (lambda: {"properties": [_in("pro")], "dateRange": {"date_from": "2026-03-08"}}, 3),
        (lambda: {"filterTestAccounts": True}, 4),
        (lambda: None, 8),
    ],
)
def test_hogql_filters_placeholder(engines: Engines, filters: Any, expected: int) -> None:
    query = "SELECT count() FROM events WHERE event = '$pageview' AND {filters}"
    payload = {"kind": "HogQLQuery", "query": query, "filters": filters()}
    project = engines.ingest.project_id
    answers = [engines.run(e, payload, NOW, project) for e in ("duckdb", "clickhouse")]
    assert [a.value["results"] for a in answers if a.value] == [[[expected]], [[expected]]]
