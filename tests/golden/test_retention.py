"""RetentionQuery on both engines, against cohort tables worked out by hand.

The "days" project (UTC), pageviews at noon on these days of March 2026:

    ada     1 (Safari), 2, 4, 6 (after date_to)
    bob     2, 3, 3
    anon-1  1, 3            (anonymous throughout)
    anon-2  3, identifies as cy on 4, cy 5: one actor
    old     27 February, 2  (first seen before the range)

Browsers are Chrome except ada's first pageview.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from magpie.query.retention import RetentionQuery, retention_actors
from tests.golden.conftest import Engines, engines_over
from tests.golden.insights import actors_on_both, actors_page, at, on_both, send_at
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECTS: dict[str, int] = {}


def fill(ingest: Ingest) -> None:
    PROJECTS["days"] = ingest.project_id
    pageviews = [
        (at(27, month=2), "old", False),
        (at(1), "ada", False),
        (at(1, 13), "anon-1", True),
        (at(2), "ada", False),
        (at(2, 13), "bob", False),
        (at(2, 14), "old", False),
        (at(3), "bob", False),
        (at(3, 13), "bob", False),
        (at(3, 14), "anon-1", True),
        (at(3, 15), "anon-2", False),
        (at(4), "ada", False),
        (at(5), "cy", False),
        (at(6), "ada", False),
    ]
    for when, who, anonymous in pageviews:
        browser = "Safari" if when == at(1) else "Chrome"
        send_at(ingest, when, "$pageview", who, anonymous=anonymous, **{"$browser": browser})
    send_at(ingest, at(4, 9), "$identify", "cy", **{"$anon_distinct_id": "anon-2"})
    PROJECTS["companies"] = ingest.new_project()
    for day, who, company, anonymous in [
        (1, "u1", "a", False),
        (1, "u4", "c", True),  # personless events carry no groups
        (2, "u1", "a", False),
        (2, "u3", "b", False),
        (3, "u2", "a", False),
    ]:
        groups = {"$groups": {"company": company}}
        send_at(ingest, at(day), "$pageview", who, anonymous=anonymous, **groups)
    PROJECTS["windows"] = ingest.new_project()
    # a: 1st 20:00, 2nd 10:00, 3rd 08:00, 4th 21:00; b: 1st 23:30, 3rd 00:10.
    for when, who in [
        (at(1, 20), "a"),
        (at(2, 10), "a"),
        (at(3, 8), "a"),
        (at(4, 21), "a"),
        (at(1, 23, 30), "b"),
        (at(3, 0, 10), "b"),
    ]:
        send_at(ingest, when, "$pageview", who)
    PROJECTS["dst"] = ingest.new_project()
    ingest.magpie.projects.update(ingest.project_id, timezone="America/New_York")
    # US clocks go forward on 8 March 2026 at 02:00 local: local days 7, 8 and 9.
    for when in [at(8, 4, 30), at(9, 3, 30), at(9, 4, 30)]:
        send_at(ingest, when, "$pageview", "x")


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


FIVE_DAYS = {"date_from": "2026-03-01", "date_to": "2026-03-05"}
CHROME = [{"key": "$browser", "value": "Chrome"}]
CASES: list[tuple[str, str, dict[str, Any], Any]] = [
    (
        "recurring: every period an actor was active is a cohort; after date_to is unread",
        "days",
        {"dateRange": FIVE_DAYS, "retentionFilter": {"totalIntervals": 5}},
        [[2, 1, 1, 1, 0], [3, 1, 1, 0, 0], [3, 0, 1, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0]],
    ),
    (
        "first time: the first pageview ever, so old (February) is in no cohort",
        "days",
        {
            "dateRange": FIVE_DAYS,
            "retentionFilter": {"totalIntervals": 5, "retentionType": "retention_first_time"},
        },
        [[2, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1, 0, 1, 0, 0], [0] * 5, [0] * 5],
    ),
    (
        "first time matching the filter: ada's first Chrome pageview is on the 2nd",
        "days",
        {
            "dateRange": FIVE_DAYS,
            "retentionFilter": {
                "totalIntervals": 5,
                "retentionType": "retention_first_time",
                "targetEntity": {"id": "$pageview", "type": "events", "properties": CHROME},
            },
        },
        [[1, 0, 1, 0, 0], [2, 1, 1, 0, 0], [1, 0, 1, 0, 0], [0] * 5, [0] * 5],
    ),
    (
        "first ever occurrence: ada's first pageview was Safari, so ada is left out",
        "days",
        {
            "dateRange": FIVE_DAYS,
            "retentionFilter": {
                "totalIntervals": 5,
                "retentionType": "retention_first_ever_occurrence",
                "targetEntity": {"id": "$pageview", "type": "events", "properties": CHROME},
            },
        },
        [[1, 0, 1, 0, 0], [1, 1, 0, 0, 0], [1, 0, 1, 0, 0], [0] * 5, [0] * 5],
    ),
    (
        "minimum occurrences: only bob viewed twice in one day",
        "days",
        {"dateRange": FIVE_DAYS, "retentionFilter": {"totalIntervals": 5, "minimumOccurrences": 2}},
        [[2, 0, 0, 0, 0], [3, 1, 0, 0, 0], [3, 0, 0, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0]],
    ),
    (
        "cumulative: retained at day k counts at every day before",
        "days",
        {"dateRange": FIVE_DAYS, "retentionFilter": {"totalIntervals": 5, "cumulative": True}},
        [[2, 2, 2, 1, 0], [3, 2, 1, 0, 0], [3, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0]],
    ),
    (
        "returning entity: coming back with an $identify",
        "days",
        {
            "dateRange": FIVE_DAYS,
            "retentionFilter": {
                "totalIntervals": 3,
                "returningEntity": {"id": "$identify", "type": "events"},
            },
        },
        [[2, 0, 0], [3, 0, 0], [3, 1, 0], [1, 0, 0], [1, 0, 0]],
    ),
    (
        "weekly, weeks from Sunday 1 March",
        "days",
        {
            "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-07"},
            "retentionFilter": {"totalIntervals": 2, "period": "Week"},
        },
        [[5, 0]],
    ),
    (
        "monthly: February's cohort (old) came back in March",
        "days",
        {
            "dateRange": {"date_from": "2026-02-01", "date_to": "2026-03-05"},
            "retentionFilter": {"totalIntervals": 2, "period": "Month"},
        },
        [[1, 1], [5, 0]],
    ),
    (
        "hourly",
        "days",
        {
            "dateRange": {"date_from": "2026-03-02T11:00:00", "date_to": "2026-03-02T13:00:00"},
            "retentionFilter": {"totalIntervals": 2, "period": "Hour"},
        },
        [[0, 0], [1, 0]],
    ),
    (
        "companies: a group counts as one, whoever in it came back",
        "companies",
        {
            "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-03"},
            "retentionFilter": {"totalIntervals": 3},
            "aggregation_group_type_index": 0,
        },
        [[1, 1, 1], [2, 1, 0], [1, 0, 0]],
    ),
    (
        "no events in the range: a table of zeros",
        "days",
        {
            "dateRange": {"date_from": "2026-01-01", "date_to": "2026-01-02"},
            "retentionFilter": {"totalIntervals": 2},
            "breakdownFilter": {"breakdown": "$browser"},
        },
        [[0, 0], [0, 0]],
    ),
    (
        "days on the project's clock across daylight saving",
        "dst",
        {
            "dateRange": {"date_from": "2026-03-07", "date_to": "2026-03-09"},
            "retentionFilter": {"totalIntervals": 3},
        },
        [[1, 1, 1], [1, 1, 0], [1, 0, 0]],
    ),
]


FOUR_DAYS = {"date_from": "2026-03-01", "date_to": "2026-03-04"}
WINDOWS = {"totalIntervals": 4, "timeWindowMode": "24_hour_windows"}
CASES += [
    # By the calendar: a is back on every day after each of its days; b, on the 1st
    # and the 3rd, two days later.
    (
        "windows project by the calendar",
        "windows",
        {"dateRange": FOUR_DAYS, "retentionFilter": {"totalIntervals": 4}},
        [[2, 1, 2, 1], [1, 1, 1, 0], [2, 1, 0, 0], [1, 0, 0, 0]],
    ),
    # In 24-hour windows from each cohort's first event (hours on the clock between
    # them, by 24): from a's 1st 20:00, 14 h (window 0), 36 h (1) and 73 h (3); from
    # its 2nd 10:00, 22 h (0) and 59 h (2); from its 3rd 08:00, 37 h (1). From b's
    # 1st 23:30 to its 3rd 00:10 is 25 clock hours: window 1, not day 2.
    (
        "24-hour windows from each cohort's first event",
        "windows",
        {"dateRange": FOUR_DAYS, "retentionFilter": WINDOWS},
        [[2, 2, 0, 1], [1, 0, 1, 0], [2, 1, 0, 0], [1, 0, 0, 0]],
    ),
    (
        "24-hour windows from the first event ever",
        "windows",
        {
            "dateRange": FOUR_DAYS,
            "retentionFilter": {**WINDOWS, "retentionType": "retention_first_time"},
        },
        [[2, 2, 0, 1], [0] * 4, [0] * 4, [0] * 4],
    ),
    # Brackets [1, 2]: Day 1, then Day 2-3 (a came back on both, b on day 2 of its
    # cohort: each is one actor there).
    (
        "custom brackets",
        "windows",
        {"dateRange": FOUR_DAYS, "retentionFilter": {"retentionCustomBrackets": [1, 2]}},
        [[2, 1, 2], [1, 1, 1], [2, 1, 0], [1, 0, 0]],
    ),
    (
        "custom brackets, cumulative",
        "windows",
        {
            "dateRange": FOUR_DAYS,
            "retentionFilter": {"retentionCustomBrackets": [1, 2], "cumulative": True},
        },
        [[2, 2, 2], [1, 1, 1], [2, 1, 0], [1, 0, 0]],
    ),
    # The windows (1st: a 1 and 3, b 1; 2nd: a 2; 3rd: a 1) in brackets of 1 and 2.
    (
        "custom brackets of 24-hour windows",
        "windows",
        {"dateRange": FOUR_DAYS, "retentionFilter": {**WINDOWS, "retentionCustomBrackets": [1, 2]}},
        [[2, 2, 1], [1, 0, 1], [2, 1, 0], [1, 0, 0]],
    ),
    # Weeks are windows of 7 days: from a's 1st to its 4th is 3 days, window 0.
    (
        "7-day windows",
        "windows",
        {"dateRange": FOUR_DAYS, "retentionFilter": {**WINDOWS, "period": "Week"}},
        [[2, 0, 0, 0]],
    ),
]


@pytest.mark.parametrize(("name", "project", "query", "expected"), CASES, ids=[c[0] for c in CASES])
def test_cohort_tables(
    engines: Engines, name: str, project: str, query: dict[str, Any], expected: Any
) -> None:
    answer = on_both(engines, {"kind": "RetentionQuery", **query}, NOW, PROJECTS[project])
    assert [[v["count"] for v in row["values"]] for row in answer["results"]] == expected


def test_bracket_labels(engines: Engines) -> None:
    query = {
        "kind": "RetentionQuery",
        "dateRange": FOUR_DAYS,
        "retentionFilter": {"period": "Week", "retentionCustomBrackets": [1, 1, 3]},
    }
    rows = on_both(engines, query, NOW, PROJECTS["windows"])["results"]
    assert [v["label"] for v in rows[0]["values"]] == ["Week 0", "Week 1", "Week 2", "Week 3-5"]


def test_result_shape_in_the_project_time_zone(engines: Engines) -> None:
    query = {
        "kind": "RetentionQuery",
        "dateRange": {"date_from": "2026-03-07", "date_to": "2026-03-09"},
        "retentionFilter": {"totalIntervals": 2},
    }
    rows = on_both(engines, query, NOW, PROJECTS["dst"])["results"]
    assert [(r["label"], r["date"]) for r in rows] == [
        ("Day 0", "2026-03-07T00:00:00-05:00"),
        ("Day 1", "2026-03-08T00:00:00-05:00"),
        ("Day 2", "2026-03-09T00:00:00-04:00"),
    ]
    assert rows[0]["values"] == [{"count": 1, "label": "Day 0"}, {"count": 1, "label": "Day 1"}]
    assert rows[0]["breakdown_value"] is None


def test_breakdown_by_the_start_events_value(engines: Engines) -> None:
    query = {
        "kind": "RetentionQuery",
        "dateRange": FIVE_DAYS,
        "retentionFilter": {"totalIntervals": 5},
        "breakdownFilter": {"breakdown": "$browser"},
    }
    rows = on_both(engines, query, NOW, PROJECTS["days"])["results"]
    table = [(r["breakdown_value"], [v["count"] for v in r["values"]]) for r in rows]
    assert table == [
        ("Chrome", [1, 0, 1, 0, 0]),
        ("Chrome", [3, 1, 1, 0, 0]),
        ("Chrome", [3, 0, 1, 0, 0]),
        ("Chrome", [1, 0, 0, 0, 0]),
        ("Chrome", [1, 0, 0, 0, 0]),
        ("Safari", [1, 1, 0, 1, 0]),
        *[("Safari", [0] * 5)] * 4,
    ]
    limited = {**query, "breakdownFilter": {"breakdown": "$browser", "breakdown_limit": 1}}
    rows = on_both(engines, limited, NOW, PROJECTS["days"])["results"]
    assert [r["breakdown_value"] for r in rows][::5] == ["Chrome", "$$_posthog_breakdown_other_$$"]


@pytest.mark.parametrize(
    "query",
    [
        {"retentionFilter": {"period": "Fortnight"}},
        {"retentionFilter": {"totalIntervals": 0}},
        {"retentionFilter": {"timeWindowMode": "24_hour_windows", "cumulative": True}},
        {"retentionFilter": {"retentionCustomBrackets": []}},
        {"retentionFilter": {"retentionCustomBrackets": [2, 0]}},
        {"retentionFilter": {"aggregationType": "median", "aggregationProperty": "price"}},
        {"retentionFilter": {"targetEntity": {"id": 3, "type": "actions"}}},
        {"aggregation_group_type_index": 9},
        {"dateRange": {"date_from": "1200-01-01"}, "retentionFilter": {"period": "Hour"}},
        {"dateRange": {"date_from": "2026-03-05", "date_to": "2026-03-01"}},
        {"dateRange": {"date_from": "next tuesday"}},
    ],
)
def test_bad_input_is_a_clear_error(engines: Engines, query: dict[str, Any]) -> None:
    answer = on_both(engines, {"kind": "RetentionQuery", **query}, NOW, PROJECTS["days"])
    assert answer["error"][0] == 400


@pytest.mark.parametrize(
    ("query", "cell", "expected"),
    [
        ({}, (0, 0), {"ada", "anon-1"}),
        ({}, (0, 2), {"anon-1"}),
        ({}, (2, 2), {"anon-2+cy"}),
        ({"cumulative": True}, (0, 2), {"ada", "anon-1"}),
        ({"retentionType": "retention_first_time"}, (1, 0), {"bob"}),
        ({"returningEntity": {"id": "$identify", "type": "events"}}, (2, 1), {"anon-2+cy"}),
    ],
)
def test_the_actors_of_a_cell(
    engines: Engines, query: dict[str, Any], cell: tuple[int, int], expected: set[str]
) -> None:
    retention = RetentionQuery.model_validate(
        {
            "kind": "RetentionQuery",
            "dateRange": FIVE_DAYS,
            "retentionFilter": {"totalIntervals": 5, **query},
        }
    )
    found = actors_on_both(
        engines,
        lambda context: retention_actors(retention, context, *cell),
        NOW,
        PROJECTS["days"],
    )
    assert found == expected


@pytest.mark.parametrize(
    ("query", "cell", "expected"),
    [
        ({}, (0, 2), {"a", "b"}),
        (WINDOWS, (0, 1), {"a", "b"}),
        (WINDOWS, (0, 2), set()),
        (WINDOWS, (0, 3), {"a"}),
        (WINDOWS, (1, 2), {"a"}),
        ({"retentionCustomBrackets": [1, 2]}, (0, 1), {"a"}),
        ({"retentionCustomBrackets": [1, 2]}, (0, 2), {"a", "b"}),
        ({"retentionCustomBrackets": [1, 2], "cumulative": True}, (0, 1), {"a", "b"}),
        ({"retentionCustomBrackets": [1, 2]}, (2, 2), set()),
    ],
)
def test_the_actors_of_a_24_hour_window(
    engines: Engines, query: dict[str, Any], cell: tuple[int, int], expected: set[str]
) -> None:
    retention = RetentionQuery.model_validate(
        {
            "kind": "RetentionQuery",
            "dateRange": FOUR_DAYS,
            "retentionFilter": {"totalIntervals": 4, **query},
        }
    )
    found = actors_on_both(
        engines,
        lambda context: retention_actors(retention, context, *cell),
        NOW,
        PROJECTS["windows"],
    )
    assert found == expected


def test_the_actors_of_a_breakdown_value(engines: Engines) -> None:
    retention = RetentionQuery.model_validate(
        {
            "kind": "RetentionQuery",
            "dateRange": FIVE_DAYS,
            "retentionFilter": {"totalIntervals": 5},
            "breakdownFilter": {"breakdown": "$browser"},
        }
    )
    found = actors_on_both(
        engines,
        lambda context: retention_actors(retention, context, 0, 0, "Safari"),
        NOW,
        PROJECTS["days"],
    )
    assert found == {"ada"}


def test_actors_query_names_a_cell(engines: Engines) -> None:
    insight = {
        "kind": "RetentionQuery",
        "dateRange": FIVE_DAYS,
        "retentionFilter": {"totalIntervals": 5},
    }
    page = actors_page(engines, insight, NOW, PROJECTS["days"], interval=2)
    assert page == ["anon-1", "anon-2", "bob"]
    assert actors_page(engines, insight, NOW, PROJECTS["days"], interval=2, day=2) == ["anon-2"]
    missing = actors_page(engines, insight, NOW, PROJECTS["days"], day=1)
    assert isinstance(missing, dict) and missing["error"][0] == 400
