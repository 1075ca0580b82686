"""Every membership rule, table-driven, with members worked out by hand, on DuckDB
and on ClickHouse (the same rows in both, tests/clickhouse.py).

The month of March 2026, up to NOW (31 March, 12:00 UTC):

- anon-ada views a page anonymously on 5 March, then identifies as ada on 6 March
  (plan pro, email at example.com), so that pageview is hers. She signs up on
  6 March and buys on 29 March (amount 5) and 30 March (50).
- bob (plan free) viewed a page on 10 January, then nothing until he signs up
  on 20 March at 12:00 and buys at 14:00 (amount 8); he views a page on 30 March.
- cat (plan pro, no email) views a page on 9, 16, 23 and 30 March, and signs up
  on 25 March.
- dan (plan free, email at corp.example) views a page on 10, 15 and 20 March.
- eve (plan trial) bought on 1 February and at 11:00 on 31 March (amount 20).
- a visitor who never identifies does everything: views, signs up, buys.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from magpie.clock import FrozenClock
from magpie.cohorts.membership import CohortCycle
from magpie.cohorts.service import CohortService
from magpie.errors import InvalidInput
from magpie.query.runner import QueryRunner
from tests.golden.conftest import Engines, engines_over
from tests.harness import Ingest

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
PEOPLE = ("ada", "bob", "cat", "dan", "eve")
FIXED: dict[str, int] = {}  # cohorts made before the copy to ClickHouse, by name


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


EVENTS: list[tuple[datetime, str, str, dict[str, Any]]] = [
    (at(1, 10), "$pageview", "bob", {"$set": {"plan": "free"}}),
    (at(2, 1), "purchase", "eve", {"$set": {"plan": "trial"}, "amount": 3}),
    (at(3, 5), "$pageview", "anon-ada", {"$process_person_profile": False}),
    (
        at(3, 6, 10),
        "$identify",
        "ada",
        {"$anon_distinct_id": "anon-ada", "$set": {"plan": "pro", "email": "ada@example.com"}},
    ),
    (at(3, 6, 11), "signup", "ada", {}),
    (at(3, 9), "$pageview", "cat", {"$set": {"plan": "pro"}}),
    (at(3, 10), "$pageview", "dan", {"$set": {"plan": "free", "email": "dan@corp.example"}}),
    (at(3, 15), "$pageview", "dan", {}),
    (at(3, 16), "$pageview", "cat", {}),
    (at(3, 20), "$pageview", "dan", {}),
    (at(3, 20, 12), "signup", "bob", {}),
    (at(3, 20, 14), "purchase", "bob", {"amount": 8}),
    (at(3, 23), "$pageview", "cat", {}),
    (at(3, 25), "signup", "cat", {}),
    (at(3, 29), "purchase", "ada", {"amount": 5}),
    (at(3, 29), "signup", "visitor", {"$process_person_profile": False}),
    (at(3, 30), "purchase", "ada", {"amount": 50}),
    (at(3, 30), "$pageview", "bob", {}),
    (at(3, 30), "$pageview", "cat", {}),
    (at(3, 30), "$pageview", "visitor", {"$process_person_profile": False}),
    (at(3, 30, 13), "purchase", "visitor", {"$process_person_profile": False, "amount": 99}),
    (at(3, 31, 11), "purchase", "eve", {"amount": 20}),
]


def fill(ingest: Ingest) -> None:
    events = []
    for when, name, distinct_id, props in EVENTS:
        ingest.clock = when - timedelta(seconds=1)
        events.append(ingest.event(name, distinct_id, **props))
    ingest.send(*events)
    cohorts = ingest.magpie.stores.cohorts
    FIXED["pro"] = cohorts.create(ingest.project_id, "pro", "", _one(_plan("pro"))).id
    static = cohorts.create(ingest.project_id, "list", "", {}, is_static=True)
    cohorts.add_static_members(ingest.project_id, static.id, ["anon-ada", "dan", "visitor"], NOW)
    FIXED["list"] = static.id


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


def _plan(value: str, operator: str = "exact") -> dict[str, Any]:
    return {"key": "plan", "type": "person", "value": value, "operator": operator}


def _did(event: str, value: str = "performed_event", **fields: Any) -> dict[str, Any]:
    return {"key": event, "type": "behavioral", "value": value, "event_type": "events", **fields}


def _in(name: str, negation: bool = False) -> dict[str, Any]:
    return {"key": "id", "type": "cohort", "value": FIXED[name], "negation": negation}


def _one(*leaves: dict[str, Any]) -> dict[str, Any]:
    """One AND group of leaves, in PostHog's two-level shape."""
    return {"properties": {"type": "OR", "values": [{"type": "AND", "values": list(leaves)}]}}


DAYS_7 = {"time_value": 7, "time_interval": "day"}
DAYS_30 = {"time_value": 30, "time_interval": "day"}
WEEKLY = {"time_value": 1, "time_interval": "week", "operator": "gte", "operator_value": 1}
QUIET_WEEK = {**DAYS_30, "seq_time_value": 7, "seq_time_interval": "day"}

RULES: list[tuple[str, Any, set[str]]] = [
    ("person property", lambda: _one(_plan("pro")), {"ada", "cat"}),
    ("person property is_not", lambda: _one(_plan("pro", "is_not")), {"bob", "dan", "eve"}),
    (
        "person property icontains",
        lambda: _one(
            {"key": "email", "type": "person", "value": "example.com", "operator": "icontains"}
        ),
        {"ada"},
    ),
    (
        "negated person property beside a positive one",
        lambda: _one(
            _plan("pro"),
            {"key": "email", "type": "person", "operator": "is_set", "negation": True},
        ),
        {"cat"},
    ),
    # The visitor did it too, but has no person; bob's view of 10 January is too old.
    ("performed event, 7 days", lambda: _one(_did("$pageview", **DAYS_7)), {"bob", "cat"}),
    # ada's only pageview was anonymous, before she identified: it is hers.
    (
        "performed event, 30 days",
        lambda: _one(_did("$pageview", **DAYS_30)),
        {"ada", "bob", "cat", "dan"},
    ),
    (
        "performed event since an explicit date",
        lambda: _one(_did("purchase", explicit_datetime="2026-03-25")),
        {"ada", "eve"},
    ),
    (
        "performed event with an event filter",
        lambda: _one(
            _did(
                "purchase",
                **DAYS_30,
                event_filters=[{"key": "amount", "value": 10, "operator": "gt", "type": "event"}],
            )
        ),
        {"ada", "eve"},
    ),
    (
        "performed at least 3 times",
        lambda: _one(
            _did(
                "$pageview", "performed_event_multiple", **DAYS_30, operator="gte", operator_value=3
            )
        ),
        {"cat", "dan"},
    ),
    (
        "performed exactly twice",
        lambda: _one(
            _did("purchase", "performed_event_multiple", **DAYS_7, operator="eq", operator_value=2)
        ),
        {"ada"},
    ),
    # At most once counts those who never did it at all.
    (
        "performed at most once",
        lambda: _one(
            _did(
                "purchase", "performed_event_multiple", **DAYS_30, operator="lte", operator_value=1
            )
        ),
        {"bob", "cat", "dan", "eve"},
    ),
    (
        "first time, 7 days",
        lambda: _one(_did("signup", "performed_event_first_time", **DAYS_7)),
        {"cat"},
    ),
    (
        "first time, 30 days (an anonymous first time counts)",
        lambda: _one(_did("$pageview", "performed_event_first_time", **DAYS_30)),
        {"ada", "cat", "dan"},
    ),
    (
        "sequence within a day",
        lambda: _one(
            _did(
                "signup",
                "performed_event_sequence",
                **DAYS_30,
                seq_event="purchase",
                seq_time_value=1,
                seq_time_interval="day",
            )
        ),
        {"bob"},
    ),
    # ada's anonymous pageview of 5 March, then her signup of 6 March.
    (
        "sequence within three days",
        lambda: _one(
            _did(
                "$pageview",
                "performed_event_sequence",
                **DAYS_30,
                seq_event="signup",
                seq_time_value=3,
                seq_time_interval="day",
            )
        ),
        {"ada", "cat"},
    ),
    (
        "regularly: every one of 4 weeks",
        lambda: _one(
            _did("$pageview", "performed_event_regularly", **WEEKLY, min_periods=4, total_periods=4)
        ),
        {"cat"},
    ),
    # dan's 10 March view ends the fourth week back (the end of a period is in it).
    (
        "regularly: 3 of 4 weeks",
        lambda: _one(
            _did("$pageview", "performed_event_regularly", **WEEKLY, min_periods=3, total_periods=4)
        ),
        {"cat", "dan"},
    ),
    (
        "stopped performing",
        lambda: _one(_did("$pageview", "stopped_performing_event", **QUIET_WEEK)),
        {"ada", "dan"},
    ),
    (
        "restarted performing",
        lambda: _one(_did("$pageview", "restarted_performing_event", **QUIET_WEEK)),
        {"bob"},
    ),
    (
        "nested cohort",
        lambda: _one(_in("pro"), _did("$pageview", **DAYS_7)),
        {"cat"},
    ),
    (
        "negated nested cohort",
        lambda: _one(_did("$pageview", **DAYS_30), _in("pro", negation=True)),
        {"bob", "dan"},
    ),
    # The list named anon-ada (ada's), dan and the visitor (no person).
    ("static cohort", lambda: _one(_in("list")), {"ada", "dan"}),
    ("static cohort and a property", lambda: _one(_in("list"), _plan("pro")), {"ada"}),
    (
        "OR of groups",
        lambda: {
            "properties": {
                "type": "OR",
                "values": [
                    {"type": "AND", "values": [_plan("trial")]},
                    {"type": "AND", "values": [_did("signup", **DAYS_7)]},
                ],
            }
        },
        {"eve", "cat"},
    ),
    # An empty group (an editor's blank row) lets no one in.
    (
        "an empty group beside a real one",
        lambda: {
            "properties": {
                "type": "OR",
                "values": [
                    {"type": "AND", "values": []},
                    {"type": "AND", "values": [_plan("trial")]},
                ],
            }
        },
        {"eve"},
    ),
    (
        "AND of groups",
        lambda: {
            "properties": {
                "type": "AND",
                "values": [
                    {"type": "OR", "values": [_plan("pro"), _plan("free")]},
                    {"type": "OR", "values": [_did("signup", **DAYS_30)]},
                ],
            }
        },
        {"ada", "bob", "cat"},
    ),
]


def _service(engines: Engines, engine: str) -> CohortService:
    magpie = engines.ingest.magpie
    runner: QueryRunner = engines.runners[engine]
    return CohortService(magpie.stores.cohorts, magpie.projects, runner, FrozenClock(NOW))


NAMES: dict[str, str] = {}  # person uuid → name, read once


def _names(engines: Engines, members: list[uuid.UUID]) -> set[str]:
    if not NAMES:
        ingest = engines.ingest
        NAMES.update({ingest.person(name)["uuid"]: name for name in PEOPLE})  # type: ignore[index]
    return {NAMES.get(str(m), str(m)) for m in members}


@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
@pytest.mark.parametrize(("rule", "filters", "expected"), RULES, ids=[r[0] for r in RULES])
def test_membership(
    engines: Engines, engine: str, rule: str, filters: Any, expected: set[str]
) -> None:
    service = _service(engines, engine)
    project = engines.ingest.project_id
    cohort = service.create(project, rule, "", filters())
    members = service.store.members(project, cohort.id, limit=1000)
    assert _names(engines, members) == expected
    assert cohort.count == len(expected)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (_one({"key": "plan", "type": "person", "value": "pro", "negation": True}), "negated"),
        (_one(_did("$pageview", "performed_event_sometimes", **DAYS_7)), "unknown behavioural"),
        (_one(_did("$pageview")), "needs time_value"),
        (
            _one(
                _did(
                    "$pageview",
                    "stopped_performing_event",
                    **DAYS_7,
                    seq_time_value=30,
                    seq_time_interval="day",
                )
            ),
            "more recent",
        ),
        (_one({"key": "id", "type": "cohort", "value": 10**6}), "no cohort"),
        ({"properties": {"type": "OR", "values": []}}, "at least one filter"),
        ({"groups": [{"properties": []}]}, "legacy"),
    ],
)
def test_a_definition_that_cannot_be_computed_is_refused(
    engines: Engines, filters: dict[str, Any], message: str
) -> None:
    service = _service(engines, "duckdb")
    with pytest.raises(InvalidInput, match=message):
        service.create(engines.ingest.project_id, "bad", "", filters)


def test_a_cohort_may_not_include_itself(engines: Engines) -> None:
    service = _service(engines, "duckdb")
    project = engines.ingest.project_id
    first = service.create(project, "a", "", _one(_plan("pro")))
    second = service.create(
        project, "b", "", _one({"key": "id", "type": "cohort", "value": first.id})
    )
    with pytest.raises(CohortCycle):
        service.update(
            project, first.id, filters=_one({"key": "id", "type": "cohort", "value": second.id})
        )
