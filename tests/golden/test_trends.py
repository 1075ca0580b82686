"""Golden: every TrendsQuery variant gives the same series on DuckDB and on ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.golden.compare import plain
from tests.golden.conftest import Engines, engines_over
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECTS: dict[str, int] = {}


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def send_at(ingest: Ingest, when: datetime, name: str, distinct_id: str, **props: Any) -> None:
    ingest.clock = when - timedelta(seconds=1)
    ingest.send(ingest.event(name, distinct_id, **props))


def _week(ingest: Ingest) -> None:
    """test_query_trends's week of pageviews, with sessions, plans and companies."""
    rows = [
        (4, "anon-1", True, "Chrome", "s1"),
        (4, "anon-1", True, "Chrome", "s1"),
        (5, "anon-2", True, "Safari", "s2"),
        (6, "anon-1", True, "Chrome", "s3"),
        (8, "ada", False, "Firefox", "s4"),
        (8, "bob", False, "Firefox", "s5"),
        (9, "ada", False, "Firefox", "s6"),
        (10, "anon-3", True, "Chrome", "s7"),
    ]
    for day, who, anonymous, browser, session in rows:
        send_at(
            ingest,
            at(day),
            "$pageview",
            who,
            **({"$process_person_profile": False} if anonymous else {}),
            **{"$browser": browser, "$session_id": session, "plan": "pro" if day > 6 else None},
        )
    send_at(
        ingest,
        at(7),
        "$identify",
        "ada",
        **{"$anon_distinct_id": "anon-1", "$set": {"email": "ada@example.com"}},
    )
    send_at(ingest, at(7, 13), "$set", "bob", **{"$set": {"email": "bob@corp.example"}})
    send_at(
        ingest,
        at(8, 14),
        "$pageview",
        "bob",
        **{"$browser": "Edge", "$groups": {"company": "corp"}, "$session_id": "s5"},
    )
    send_at(
        ingest,
        at(8, 15),
        "$groupidentify",
        "bob",
        **{"$group_type": "company", "$group_key": "corp", "$group_set": {"size": "big"}},
    )
    send_at(
        ingest, at(9, 10), "$pageview", "ada", **{"$browser": "Chrome", "$groups": {"company": "x"}}
    )


def fill(ingest: Ingest) -> None:
    PROJECTS["week"] = ingest.project_id
    _week(ingest)
    ingest.magpie.projects.update(
        ingest.project_id,
        test_account_filters=[
            {
                "key": "email",
                "value": "@corp.example",
                "operator": "not_icontains",
                "type": "person",
            }
        ],
    )
    PROJECTS["monday"] = ingest.new_project()
    _week(ingest)
    ingest.magpie.projects.update(ingest.project_id, week_start_day=1)
    PROJECTS["math"] = ingest.new_project()
    for day, price in [(8, 10), (8, 30), (9, 5), (9, "not a number"), (9, 7.5), (9, 12)]:
        send_at(ingest, at(day), "purchase", "buyer", price=price)
    PROJECTS["typed"] = ingest.new_project()
    # One key of many types over two days, and keys only some events have.
    values: list[object] = [10, "10", 12.5, 30.0, True, None, "cheap", -3, [1, 2], {"a": 1}, 1e20]
    for n, value in enumerate(values):
        extra = {"coupon": f"C{n % 2}"} if n % 3 == 0 else {}
        send_at(ingest, at(8 + n % 2, 10 + n), "purchase", f"b{n % 3}", price=value, **extra)
    PROJECTS["dst"] = ingest.new_project()
    ingest.magpie.projects.update(ingest.project_id, timezone="America/New_York")
    # US clocks go forward on 8 March 2026 at 02:00 local (07:00 UTC).
    for when in [at(8, 3, 30), at(8, 6, 30), at(8, 7, 30), at(9, 3, 30), at(9, 4, 30)]:
        send_at(ingest, when, "$pageview", "a")
    PROJECTS["berlin"] = ingest.new_project()
    ingest.magpie.projects.update(ingest.project_id, timezone="Europe/Berlin")
    # European clocks go forward on 29 March 2026 at 01:00 UTC.
    for day, hour in [(28, 23), (29, 0), (29, 1), (29, 22), (29, 23), (30, 5)]:
        send_at(ingest, at(day, hour, 30), "$pageview", "b" if hour % 2 else "c")


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


SIX_DAYS = {"date_from": "-6d"}
PRICE = "price"
VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    # test_query_trends.py
    ("daily total", "week", {"dateRange": SIX_DAYS}),
    (
        "dau by week",
        "week",
        {
            "series": [{"event": "$pageview", "math": "dau"}],
            "dateRange": {"date_from": "2026-03-04", "date_to": "2026-03-10"},
            "interval": "week",
        },
    ),
    (
        "breakdown by event property",
        "week",
        {"dateRange": SIX_DAYS, "breakdownFilter": {"breakdown": "$browser"}},
    ),
    (
        "breakdown limit 1",
        "week",
        {"dateRange": SIX_DAYS, "breakdownFilter": {"breakdown": "$browser", "breakdown_limit": 1}},
    ),
    (
        "person is_not",
        "week",
        {
            "dateRange": SIX_DAYS,
            "properties": [
                {
                    "key": "email",
                    "value": "nobody@example.com",
                    "operator": "is_not",
                    "type": "person",
                }
            ],
        },
    ),
    (
        "person icontains",
        "week",
        {
            "dateRange": SIX_DAYS,
            "properties": [
                {"key": "email", "value": "ada@", "operator": "icontains", "type": "person"}
            ],
        },
    ),
    (
        "person breakdown",
        "week",
        {
            "dateRange": SIX_DAYS,
            "breakdownFilter": {"breakdown": "email", "breakdown_type": "person"},
        },
    ),
    ("filter test accounts", "week", {"dateRange": SIX_DAYS, "filterTestAccounts": True}),
    (
        "event property OR group",
        "week",
        {
            "dateRange": SIX_DAYS,
            "properties": {
                "type": "OR",
                "values": [
                    {"key": "$browser", "value": "Chrome"},
                    {"key": "$browser", "value": "Safari"},
                ],
            },
        },
    ),
    (
        "series property icontains",
        "week",
        {
            "dateRange": SIX_DAYS,
            "series": [
                {
                    "event": "$pageview",
                    "properties": [{"key": "$browser", "value": "fire", "operator": "icontains"}],
                }
            ],
        },
    ),
    *[
        (
            f"math {math}",
            "math",
            {
                "series": [{"event": "purchase", "math": math, "math_property": PRICE}],
                "dateRange": {"date_from": "2026-03-08", "date_to": "2026-03-09"},
            },
        )
        for math in ("sum", "avg", "min", "max", "median", "p90", "p95", "p99")
    ],
    (
        "hourly",
        "week",
        {
            "interval": "hour",
            "dateRange": {"date_from": "2026-03-08T11:00:00Z", "date_to": "2026-03-08T13:00:00Z"},
        },
    ),
    ("monthly", "week", {"interval": "month", "dateRange": {"date_from": "mStart"}}),
    ("dst daily", "dst", {"dateRange": {"date_from": "2026-03-07", "date_to": "2026-03-09"}}),
    (
        "dst hourly",
        "dst",
        {"interval": "hour", "dateRange": {"date_from": "2026-03-08", "date_to": "2026-03-08"}},
    ),
    (
        "dst weekly dau",
        "dst",
        {
            "interval": "week",
            "series": [{"event": "$pageview", "math": "dau"}],
            "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-20"},
        },
    ),
    (
        "berlin daily",
        "berlin",
        {"dateRange": {"date_from": "2026-03-28", "date_to": "2026-03-30"}},
    ),
    (
        "berlin hourly",
        "berlin",
        {"interval": "hour", "dateRange": {"date_from": "2026-03-29", "date_to": "2026-03-29"}},
    ),
    ("compare", "week", {"dateRange": {"date_from": "-2d"}, "compareFilter": {"compare": True}}),
    (
        "formula",
        "week",
        {
            "series": [{"event": "$pageview"}, {"event": "$pageview", "math": "dau"}],
            "trendsFilter": {"formula": "A / B"},
            "dateRange": {"date_from": "2026-03-04", "date_to": "2026-03-05"},
        },
    ),
    (
        "weekly active",
        "week",
        {
            "series": [{"event": "$pageview", "math": "weekly_active"}],
            "dateRange": {"date_from": "2026-03-09", "date_to": "2026-03-10"},
        },
    ),
    ("all events", "week", {"series": [{"event": None}], "dateRange": {"date_from": "all"}}),
    ("bad interval", "week", {"interval": "fortnight"}),
    ("bad operator", "week", {"properties": [{"key": "x", "operator": "frobs"}]}),
    # more of the same shapes
    (
        "monthly active by browser",
        "week",
        {
            "series": [{"event": "$pageview", "math": "monthly_active"}],
            "dateRange": {"date_from": "2026-03-08", "date_to": "2026-03-10"},
            "breakdownFilter": {"breakdown": "$browser"},
        },
    ),
    (
        "unique sessions",
        "week",
        {"series": [{"event": "$pageview", "math": "unique_session"}], "dateRange": SIX_DAYS},
    ),
    (
        "unique groups",
        "week",
        {
            "series": [{"event": "$pageview", "math": "unique_group", "math_group_type_index": 0}],
            "dateRange": SIX_DAYS,
        },
    ),
    (
        "group breakdown",
        "week",
        {
            "dateRange": SIX_DAYS,
            "breakdownFilter": {
                "breakdown": "size",
                "breakdown_type": "group",
                "breakdown_group_type_index": 0,
            },
        },
    ),
    (
        "group filter",
        "week",
        {
            "dateRange": SIX_DAYS,
            "properties": [{"key": "size", "value": "big", "type": "group", "group_type_index": 0}],
        },
    ),
    (
        "hogql breakdown",
        "week",
        {
            "dateRange": SIX_DAYS,
            "breakdownFilter": {
                "breakdown": "toStartOfDay(timestamp) = toStartOfDay(timestamp)",
                "breakdown_type": "hogql",
            },
        },
    ),
    (
        "hogql breakdown of a property",
        "week",
        {
            "dateRange": SIX_DAYS,
            "breakdownFilter": {
                "breakdown": "lower(properties.$browser)",
                "breakdown_type": "hogql",
            },
        },
    ),
    (
        "hogql filter",
        "week",
        {"dateRange": SIX_DAYS, "properties": [{"type": "hogql", "key": "distinct_id != 'bob'"}]},
    ),
    (
        "dau with breakdown limit (recounted other)",
        "week",
        {
            "series": [{"event": "$pageview", "math": "dau"}],
            "dateRange": SIX_DAYS,
            "breakdownFilter": {"breakdown": "$browser", "breakdown_limit": 2},
        },
    ),
    (
        "missing breakdown values kept",
        "week",
        {
            "series": [{"event": "$pageview", "math": "dau"}],
            "dateRange": SIX_DAYS,
            "breakdownFilter": {"breakdown": "plan", "breakdown_limit": 1},
        },
    ),
    (
        "week from Monday",
        "monday",
        {"interval": "week", "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-10"}},
    ),
    (
        "negative operators and dates",
        "week",
        {
            "dateRange": SIX_DAYS,
            "properties": [
                {"key": "$browser", "value": ["Chrome", "Edge"], "operator": "is_not"},
                {"key": "plan", "operator": "is_not_set"},
                {"key": "$browser", "value": "^F", "operator": "not_regex"},
            ],
        },
    ),
    (
        "numeric and set operators",
        "math",
        {
            "series": [{"event": "purchase"}],
            "dateRange": {"date_from": "2026-03-08", "date_to": "2026-03-09"},
            "properties": [
                {"key": "price", "value": 6, "operator": "gt"},
                {"key": "price", "operator": "is_set"},
                {"key": "price", "value": [5, 20], "operator": "between"},
            ],
        },
    ),
    *[
        (
            f"typed math {math}",
            "typed",
            {
                "series": [{"event": "purchase", "math": math, "math_property": PRICE}],
                "dateRange": {"date_from": "2026-03-08", "date_to": "2026-03-09"},
            },
        )
        for math in ("sum", "avg", "min", "max", "median", "p90")
    ],
    *[
        (
            f"typed filter {operator} {value!r}",
            "typed",
            {
                "series": [{"event": "purchase"}],
                "dateRange": {"date_from": "2026-03-08", "date_to": "2026-03-09"},
                "properties": [{"key": "price", "value": value, "operator": operator}],
            },
        )
        for operator, value in [
            ("exact", "10"),
            ("exact", ["12.5", "true"]),
            ("is_not", "10"),
            ("icontains", "E"),
            ("not_icontains", "e"),
            ("starts_with", "1"),
            ("ends_with", "]"),
            ("regex", "^[0-9.]+$"),
            ("not_regex", "^1"),
            ("gt", 10),
            ("gte", 10),
            ("lt", 11),
            ("lte", 12.5),
            ("between", [0, 100]),
            ("not_between", [0, 100]),
            ("is_set", None),
            ("is_not_set", None),
        ]
    ],
    (
        "typed breakdown by a mixed key",
        "typed",
        {
            "series": [{"event": "purchase"}],
            "dateRange": {"date_from": "2026-03-08", "date_to": "2026-03-09"},
            "breakdownFilter": {"breakdown": "price"},
        },
    ),
    (
        "typed breakdown by a key few events have",
        "typed",
        {
            "series": [{"event": "purchase", "math": "dau"}],
            "dateRange": {"date_from": "2026-03-08", "date_to": "2026-03-09"},
            "breakdownFilter": {"breakdown": "coupon"},
        },
    ),
    (
        "two series, compare, breakdown",
        "week",
        {
            "series": [{"event": "$pageview"}, {"event": "$identify", "math": "dau"}],
            "dateRange": {"date_from": "-3d"},
            "compareFilter": {"compare": True},
            "breakdownFilter": {"breakdown": "$browser"},
        },
    ),
]


@pytest.mark.parametrize(("name", "project", "query"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_same_series_on_both_engines(
    engines: Engines, name: str, project: str, query: dict[str, Any]
) -> None:
    payload = {"kind": "TrendsQuery", "series": [{"event": "$pageview"}], **query}
    duck = engines.run("duckdb", payload, NOW, PROJECTS[project])
    house = engines.run("clickhouse", payload, NOW, PROJECTS[project])
    assert duck.error == house.error
    if duck.value is None or house.value is None:
        return
    assert plain(duck.value["results"]) == plain(house.value["results"])
    assert any(item["count"] for item in duck.value["results"]) or name == "bad interval"
