"""Golden: FunnelsQuery on DuckDB and on ClickHouse, against hand-computed answers.

Each scenario is a project of a few actors; each case names the counts per
step it must give (worked out by hand from the scenario, in the comments) and
both engines must give the same whole answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from magpie.query.funnels import steps_sql
from magpie.query.funnels.models import FunnelsQuery
from tests.golden.compare import plain
from tests.golden.conftest import Engines, engines_over
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PROJECTS: dict[str, int] = {}
WEEK = {"date_from": "2026-03-01", "date_to": "2026-03-07"}
ANON = {"$process_person_profile": False}

# (minutes after T0, event, distinct id, properties)
Row = tuple[float, str, str, dict[str, Any]]

SCENARIOS: dict[str, list[Row]] = {
    # a converts fully; b stops at signup; c only views; d signs up before viewing;
    # e buys before signing up (so never buys after it).
    "ordered": [
        (0, "$pageview", "a", {}),
        (10, "signup", "a", {}),
        (20, "buy", "a", {}),
        (0, "$pageview", "b", ANON),
        (5, "signup", "b", ANON),
        (0, "$pageview", "c", {}),
        (0, "signup", "d", {}),
        (5, "$pageview", "d", {}),
        (0, "$pageview", "e", {}),
        (10, "buy", "e", {}),
        (20, "signup", "e", {}),
    ],
    # Which attempt counts and when it reached each step. a: a second view (30)
    # starts the attempt that buys (30 → 35 → 40). b: the first attempt buys (0 → 10
    # → 20) before a later one does (30 → 31 → 32). c: its first signup (5) counts,
    # not the second (8).
    "attempts": [
        (0, "$pageview", "a", {}),
        (10, "signup", "a", {}),
        (30, "$pageview", "a", {}),
        (35, "signup", "a", {}),
        (40, "buy", "a", {}),
        (0, "$pageview", "b", {}),
        (10, "signup", "b", {}),
        (20, "buy", "b", {}),
        (30, "$pageview", "b", {}),
        (31, "signup", "b", {}),
        (32, "buy", "b", {}),
        (0, "$pageview", "c", {}),
        (5, "signup", "c", {}),
        (8, "signup", "c", {}),
        (20, "buy", "c", {}),
    ],
    # a signs up within 31 days of viewing, b after 32 days.
    "month": [
        (-24 * 60, "$pageview", "a", {}),
        (-24 * 60 + 30 * 24 * 60 + 23 * 60, "signup", "a", {}),
        (-24 * 60, "$pageview", "b", {}),
        (-24 * 60 + 32 * 24 * 60, "signup", "b", {}),
    ],
    # a: another event between the steps; b: nothing between; c: the third step after
    # another event.
    "strict": [
        (0, "$pageview", "a", {}),
        (5, "other", "a", {}),
        (10, "signup", "a", {}),
        (0, "$pageview", "b", {}),
        (5, "signup", "b", {}),
        (0, "$pageview", "c", {}),
        (5, "signup", "c", {}),
        (6, "other", "c", {}),
        (10, "buy", "c", {}),
    ],
    # a and b: a view and a signup at one instant (sent in either order); c: two
    # views at one instant; d: one view.
    "same_time": [
        (0, "$pageview", "a", {}),
        (0, "signup", "a", {}),
        (0, "signup", "b", {}),
        (0, "$pageview", "b", {}),
        (0, "$pageview", "c", {}),
        (0, "$pageview", "c", {}),
        (0, "$pageview", "d", {}),
    ],
    # a cancels between view and signup (excluded, even from step 1); b cancels after
    # signing up; c never cancels; d cancels before viewing; e cancels after viewing
    # and never signs up (excluded).
    "exclusion": [
        (0, "$pageview", "a", {}),
        (5, "cancel", "a", {}),
        (10, "signup", "a", {}),
        (0, "$pageview", "b", {}),
        (5, "signup", "b", {}),
        (10, "cancel", "b", {}),
        (0, "$pageview", "c", {}),
        (5, "signup", "c", {}),
        (0, "cancel", "d", {}),
        (5, "$pageview", "d", {}),
        (10, "signup", "d", {}),
        (0, "$pageview", "e", {}),
        (5, "cancel", "e", {}),
    ],
    # a views on 6 March and signs up on 8 March.
    "late": [
        (4 * 24 * 60, "$pageview", "a", {}),
        (6 * 24 * 60, "signup", "a", {}),
    ],
    # anon-1 views anonymously, identifies as ada, then signs up as ada: one actor.
    # anon-2 never identifies and converts by its distinct id; anon-3 only views.
    "identify": [
        (0, "$pageview", "anon-1", ANON),
        (5, "$identify", "ada", {"$anon_distinct_id": "anon-1"}),
        (10, "signup", "ada", {}),
        (0, "$pageview", "anon-2", ANON),
        (3, "signup", "anon-2", ANON),
        (0, "$pageview", "anon-3", ANON),
    ],
    # Browsers per event; d's view has none.
    "breakdown": [
        (0, "$pageview", "a", {"$browser": "Chrome"}),
        (5, "signup", "a", {"$browser": "Safari"}),
        (0, "$pageview", "b", {"$browser": "Safari"}),
        (5, "signup", "b", {"$browser": "Safari"}),
        (0, "$pageview", "c", {"$browser": "Chrome"}),
        (0, "$pageview", "d", {}),
        (5, "signup", "d", {"$browser": "Firefox"}),
    ],
    # a signs up before viewing, b only views, c only signs up.
    "unordered": [
        (0, "signup", "a", {}),
        (5, "$pageview", "a", {}),
        (0, "$pageview", "b", {}),
        (0, "signup", "c", {}),
    ],
    # Two people of one company (corp), one anonymous visitor (no group).
    "groups": [
        (0, "$pageview", "bob", {"$groups": {"company": "corp"}}),
        (5, "signup", "ada", {"$groups": {"company": "corp"}}),
        (0, "$pageview", "anon", ANON),
        (5, "signup", "anon", ANON),
    ],
}


def fill(ingest: Ingest) -> None:
    for name, rows in SCENARIOS.items():
        PROJECTS[name] = ingest.new_project()
        events = []
        for minutes, event, who, props in rows:
            body = ingest.event(event, who, **props)
            body["timestamp"] = (T0 + timedelta(minutes=minutes)).isoformat()
            events.append(body)
        # Capture corrects timestamps far ahead of its clock: it receives them last.
        ingest.clock = T0 + timedelta(minutes=max(r[0] for r in rows))
        ingest.send(*events)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


def steps(*events: str | None, **extra: Any) -> list[dict[str, Any]]:
    return [{"event": e, **extra} for e in events]


PV_SU = steps("$pageview", "signup")
PV_SU_BUY = steps("$pageview", "signup", "buy")
CANCEL = {"event": "cancel", "funnelFromStep": 0, "funnelToStep": 1}

# name, scenario, query, counts per step (per breakdown value: value → counts)
CASES: list[tuple[str, str, dict[str, Any], Any]] = [
    # a, b, c, d (view at 5), e view; a, b, e sign up after viewing; only a buys after.
    ("ordered", "ordered", {"series": PV_SU_BUY}, [5, 3, 1]),
    ("the best of several attempts", "attempts", {"series": PV_SU_BUY}, [3, 3, 3]),
    # 15 minutes: e's signup (20) and a's purchase (20) fall outside.
    (
        "window in minutes",
        "ordered",
        {
            "series": PV_SU_BUY,
            "funnelsFilter": {"funnelWindowInterval": 15, "funnelWindowIntervalUnit": "minute"},
        },
        [5, 2, 0],
    ),
    (
        "a month is 31 days",
        "month",
        {
            "series": PV_SU,
            "dateRange": {"date_from": "2026-02-01", "date_to": "2026-04-30"},
            "funnelsFilter": {"funnelWindowInterval": 1, "funnelWindowIntervalUnit": "month"},
        },
        [2, 1],
    ),
    (
        "strict broken by any event",
        "strict",
        {"series": PV_SU_BUY, "funnelsFilter": {"funnelOrderType": "strict"}},
        [3, 2, 0],
    ),
    ("ordered ignores events between", "strict", {"series": PV_SU_BUY}, [3, 3, 1]),
    # a and b: the view and signup at one instant count in step order; c and d only view.
    ("same-timestamp steps", "same_time", {"series": PV_SU}, [4, 2]),
    # Two views at one instant are two events; one view is not two.
    ("same event twice", "same_time", {"series": steps("$pageview", "$pageview")}, [4, 1]),
    (
        "exclusion drops the actor from step 1",
        "exclusion",
        {"series": PV_SU, "funnelsFilter": {"exclusions": [CANCEL]}},
        [3, 3],
    ),
    ("without the exclusion", "exclusion", {"series": PV_SU}, [5, 4]),
    ("events after date_to are out", "late", {"series": PV_SU, "dateRange": WEEK}, [1, 0]),
    (
        "date_to reaching the second step",
        "late",
        {"series": PV_SU, "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-08"}},
        [1, 1],
    ),
    ("a visitor who identifies mid-funnel is one actor", "identify", {"series": PV_SU}, [3, 2]),
    (
        "first touch",
        "breakdown",
        {"series": PV_SU, "breakdownFilter": {"breakdown": "$browser"}},
        # a and c by their Chrome view; b Safari; d by its first value, Firefox.
        {"Chrome": [2, 1], "Firefox": [1, 1], "Safari": [1, 1]},
    ),
    (
        "last touch",
        "breakdown",
        {
            "series": PV_SU,
            "breakdownFilter": {"breakdown": "$browser"},
            "funnelsFilter": {"breakdownAttributionType": "last_touch"},
        },
        {"Safari": [2, 2], "Firefox": [1, 1], "Chrome": [1, 0]},
    ),
    (
        "all events",
        "breakdown",
        {
            "series": PV_SU,
            "breakdownFilter": {"breakdown": "$browser"},
            "funnelsFilter": {"breakdownAttributionType": "all_events"},
        },
        # Per value, only that value's events: a's Chrome view, c's; b in Safari; d's
        # view without a browser; nobody views in Firefox.
        {"Safari": [1, 1], "Chrome": [2, 0], "": [1, 0]},
    ),
    (
        "step attribution",
        "breakdown",
        {
            "series": PV_SU,
            "breakdownFilter": {"breakdown": "$browser"},
            "funnelsFilter": {"breakdownAttributionType": "step", "breakdownAttributionValue": 1},
        },
        # The signup's browser: a and b Safari, d Firefox; c never signs up.
        {"Safari": [2, 2], "Firefox": [1, 1]},
    ),
    (
        "breakdown limit and Other",
        "breakdown",
        {"series": PV_SU, "breakdownFilter": {"breakdown": "$browser", "breakdown_limit": 1}},
        # Ties at the last step (one each); Chrome has more at the first.
        {"Chrome": [2, 1], "Other": [2, 2]},
    ),
    (
        "per-step property filter",
        "breakdown",
        {
            "series": [
                {"event": "$pageview", "properties": [{"key": "$browser", "value": "Chrome"}]},
                {"event": "signup"},
            ]
        },
        [2, 1],
    ),
    (
        "global property filter",
        "breakdown",
        {"series": PV_SU, "properties": [{"key": "$browser", "value": "Safari"}]},
        # Only Safari events: a's signup alone, b's view and signup.
        [1, 1],
    ),
    (
        "unordered",
        "unordered",
        {"series": PV_SU, "funnelsFilter": {"funnelOrderType": "unordered"}},
        [3, 1],
    ),
    (
        "optional step",
        "ordered",
        {
            "series": [
                {"event": "$pageview"},
                {"event": "signup", "optionalInFunnel": True},
                {"event": "buy"},
            ]
        },
        # e buys 10 minutes after viewing, skipping the signup; a goes through all.
        [5, 2, 2],
    ),
    ("all events step", "ordered", {"series": steps(None, "buy")}, [5, 2]),
    (
        "group funnel",
        "groups",
        {"series": PV_SU, "aggregation_group_type_index": 0},
        [1, 1],
    ),
    # By person: bob views, ada only signs up, the anonymous visitor does both.
    ("anonymous visitors by distinct id", "groups", {"series": PV_SU}, [2, 1]),
]


def _counts(results: Any) -> Any:
    if results and isinstance(results[0], list):
        return {r[0]["breakdown_value"][0]: [s["count"] for s in r] for r in results}
    return [s["count"] for s in results]


def _payload(query: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "FunnelsQuery", "dateRange": WEEK, **query}


def _both(engines: Engines, scenario: str, query: dict[str, Any]) -> dict[str, Any]:
    payload = _payload(query)
    duck = engines.run("duckdb", payload, NOW, PROJECTS[scenario])
    house = engines.run("clickhouse", payload, NOW, PROJECTS[scenario])
    assert duck.error == house.error
    assert duck.value is not None and house.value is not None, duck.error
    assert plain(duck.value["results"]) == plain(house.value["results"])
    return duck.value


@pytest.mark.parametrize(
    ("name", "scenario", "query", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_funnel_counts(
    engines: Engines, name: str, scenario: str, query: dict[str, Any], expected: Any
) -> None:
    answer = _both(engines, scenario, query)
    assert _counts(answer["results"]) == expected
    if isinstance(expected, dict):
        assert list(_counts(answer["results"])) == list(expected)  # ranked as PostHog ranks


def test_conversion_times_of_the_best_attempt(engines: Engines) -> None:
    """The first attempt to reach the furthest step, and the first event of it at each
    step: view → signup 5 (a), 10 (b), 5 (c) minutes; signup → buy 5, 10, 15."""
    answer = _both(engines, "attempts", {"series": PV_SU_BUY})
    _, second, third = answer["results"]
    assert [s["count"] for s in answer["results"]] == [3, 3, 3]
    assert second["average_conversion_time"] == pytest.approx(400)
    assert second["median_conversion_time"] == 300
    assert (third["average_conversion_time"], third["median_conversion_time"]) == (600, 600)


def test_step_shape_and_conversion_times(engines: Engines) -> None:
    answer = _both(engines, "ordered", {"series": PV_SU_BUY})
    first, second, third = answer["results"]
    assert first == {
        "action_id": "$pageview",
        "name": "$pageview",
        "custom_name": None,
        "order": 0,
        "people": [],
        "count": 5,
        "type": "events",
        "average_conversion_time": None,
        "median_conversion_time": None,
    }
    # Signups 10 (a), 5 (b) and 20 (e) minutes after the view.
    assert second["average_conversion_time"] == pytest.approx(35 / 3 * 60)
    assert second["median_conversion_time"] == 600
    assert (third["average_conversion_time"], third["median_conversion_time"]) == (600, 600)
    assert answer["isUdf"] is False


def test_unordered_step_names(engines: Engines) -> None:
    answer = _both(
        engines, "unordered", {"series": PV_SU, "funnelsFilter": {"funnelOrderType": "unordered"}}
    )
    assert [(s["name"], s["action_id"]) for s in answer["results"]] == [
        ("Completed 1 step", None),
        ("Completed 2 steps", None),
    ]


def test_time_to_convert(engines: Engines) -> None:
    answer = _both(
        engines, "ordered", {"series": PV_SU, "funnelsFilter": {"funnelVizType": "time_to_convert"}}
    )
    # Samples 600, 300, 1200 s: ceil(cbrt(3)) = 2 bins of ceil(900 / 2) = 450 s from 300.
    assert answer["results"] == {
        "bins": [[300, 2], [750, 0], [1200, 1]],
        "average_conversion_time": 700,
    }


def test_conversion_trends(engines: Engines) -> None:
    answer = _both(
        engines,
        "ordered",
        {
            "series": PV_SU,
            "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-03"},
            "funnelsFilter": {"funnelVizType": "trends"},
        },
    )
    # Everyone enters on 2 March; a, b and e of five sign up.
    assert answer["results"] == [
        {
            "count": 3,
            "data": [0, 60.0, 0],
            "days": ["2026-03-01", "2026-03-02", "2026-03-03"],
            "labels": ["1-Mar-2026", "2-Mar-2026", "3-Mar-2026"],
        }
    ]


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (
        "exclusion past the last step",
        {"series": PV_SU, "funnelsFilter": {"exclusions": [{**CANCEL, "funnelToStep": 2}]}},
        "funnelsFilter.exclusions.0",
    ),
    (
        "unordered exclusion not spanning",
        {
            "series": PV_SU_BUY,
            "funnelsFilter": {"funnelOrderType": "unordered", "exclusions": [CANCEL]},
        },
        "funnelsFilter.exclusions.0",
    ),
    (
        "optional first step",
        {"series": [{"event": "$pageview", "optionalInFunnel": True}, {"event": "signup"}]},
        "series.0",
    ),
    (
        "unknown window unit",
        {"series": PV_SU, "funnelsFilter": {"funnelWindowIntervalUnit": "year"}},
        "funnelsFilter.funnelWindowIntervalUnit",
    ),
    ("one step", {"series": steps("$pageview")}, "series"),
]


@pytest.mark.parametrize(("name", "query", "attr"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(engines: Engines, name: str, query: dict[str, Any], attr: str) -> None:
    payload = {"kind": "FunnelsQuery", "dateRange": WEEK, **query}
    for engine in ("duckdb", "clickhouse"):
        answer = engines.run(engine, payload, NOW, PROJECTS["ordered"])
        assert answer.error == (400, "invalid_input")


# -- actors -----------------------------------------------------------------------------


def _actors(engines: Engines, scenario: str, source: dict[str, Any], **page: Any) -> dict[str, Any]:
    funnel = {"kind": "FunnelsQuery", "dateRange": WEEK, **source.pop("funnel")}
    payload = {
        "kind": "ActorsQuery",
        "source": {"kind": "FunnelsActorsQuery", "source": funnel, **source},
        **page,
    }
    duck = engines.run("duckdb", payload, NOW, PROJECTS[scenario])
    house = engines.run("clickhouse", payload, NOW, PROJECTS[scenario])
    assert duck.error == house.error
    assert duck.value is not None and house.value is not None, duck.error
    assert plain(duck.value["results"]) == plain(house.value["results"])
    return duck.value


def _names(answer: dict[str, Any]) -> list[str]:
    return sorted(row[0]["distinct_ids"][0] for row in answer["results"])


TIME_TO_CONVERT = {"series": PV_SU, "funnelsFilter": {"funnelVizType": "time_to_convert"}}
ACTOR_CASES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    (
        "reached step 1",
        "ordered",
        {"funnel": {"series": PV_SU_BUY}, "funnelStep": 1},
        ["a", "b", "c", "d", "e"],
    ),
    (
        "reached step 2",
        "ordered",
        {"funnel": {"series": PV_SU_BUY}, "funnelStep": 2},
        ["a", "b", "e"],
    ),
    ("reached step 3", "ordered", {"funnel": {"series": PV_SU_BUY}, "funnelStep": 3}, ["a"]),
    (
        "dropped off before step 2",
        "ordered",
        {"funnel": {"series": PV_SU_BUY}, "funnelStep": -2},
        ["c", "d"],
    ),
    (
        "dropped off before step 3",
        "ordered",
        {"funnel": {"series": PV_SU_BUY}, "funnelStep": -3},
        ["b", "e"],
    ),
    (
        "excluded actors are nobody's",
        "exclusion",
        {"funnel": {"series": PV_SU, "funnelsFilter": {"exclusions": [CANCEL]}}, "funnelStep": 1},
        ["b", "c", "d"],
    ),
    (
        "one breakdown value",
        "breakdown",
        {
            "funnel": {"series": PV_SU, "breakdownFilter": {"breakdown": "$browser"}},
            "funnelStep": 1,
            "funnelStepBreakdown": ["Chrome"],
        },
        ["a", "c"],
    ),
    (
        "entered on a day and converted",
        "ordered",
        {
            "funnel": {"series": PV_SU, "funnelsFilter": {"funnelVizType": "trends"}},
            "funnelTrendsEntrancePeriodStart": "2026-03-02",
        },
        ["a", "b", "e"],
    ),
    (
        "entered on a day and dropped off",
        "ordered",
        {
            "funnel": {"series": PV_SU, "funnelsFilter": {"funnelVizType": "trends"}},
            "funnelTrendsEntrancePeriodStart": "2026-03-02",
            "funnelTrendsDropOff": True,
        },
        ["c", "d"],
    ),
    # Furthest steps: a 3, b 2, c 1, d 1, e 2 (the one-query plan).
    (
        "custom steps: those whose furthest step is one of them",
        "ordered",
        {"funnel": {"series": PV_SU_BUY}, "funnelCustomSteps": [1, 3], "funnelStep": 2},
        ["a", "c", "d"],
    ),
    # b, c and d sign up; a and e are excluded, so reach no step (matched in Python).
    (
        "custom steps of a funnel with exclusions",
        "exclusion",
        {
            "funnel": {"series": PV_SU, "funnelsFilter": {"exclusions": [CANCEL]}},
            "funnelCustomSteps": [2],
        },
        ["b", "c", "d"],
    ),
    # Conversions a 600 s, b 300 s, e 1200 s: bins from 300, 750 and 1200.
    (
        "a time-to-convert bin",
        "ordered",
        {"funnel": TIME_TO_CONVERT, "funnelTimeToConvertBin": 300},
        ["a", "b"],
    ),
    ("an empty bin", "ordered", {"funnel": TIME_TO_CONVERT, "funnelTimeToConvertBin": 750}, []),
    ("the last bin", "ordered", {"funnel": TIME_TO_CONVERT, "funnelTimeToConvertBin": 1200}, ["e"]),
    (
        "custom steps: step 1 only, nobody with exclusions",
        "exclusion",
        {
            "funnel": {"series": PV_SU, "funnelsFilter": {"exclusions": [CANCEL]}},
            "funnelCustomSteps": [1],
        },
        [],
    ),
]


@pytest.mark.parametrize(
    ("name", "scenario", "source", "expected"), ACTOR_CASES, ids=[c[0] for c in ACTOR_CASES]
)
def test_funnel_actors(
    engines: Engines, name: str, scenario: str, source: dict[str, Any], expected: list[str]
) -> None:
    assert _names(_actors(engines, scenario, dict(source))) == expected


def test_anonymous_actors_are_their_distinct_ids(engines: Engines) -> None:
    answer = _actors(engines, "identify", {"funnel": {"series": PV_SU}, "funnelStep": 2})
    rows = {row[0]["distinct_ids"][0]: row[0] for row in answer["results"]}
    # anon-1 identified as ada mid-funnel: one person, with both ids.
    assert sorted(rows) == ["ada", "anon-2"]
    ada = rows["ada"]
    assert ada["distinct_ids"] == ["ada", "anon-1"]
    assert ada["uuid"] == ada["id"] and ada["is_identified"] is True
    assert rows["anon-2"] == {
        "type": "person",
        "id": "anon-2",
        "uuid": None,
        "distinct_ids": ["anon-2"],
        "properties": {},
        "created_at": None,
        "is_identified": False,
    }


def test_group_actors(engines: Engines) -> None:
    answer = _actors(
        engines,
        "groups",
        {"funnel": {"series": PV_SU, "aggregation_group_type_index": 0}, "funnelStep": 2},
    )
    assert [row[0]["id"] for row in answer["results"]] == ["corp"]
    assert answer["results"][0][0]["type"] == "group"


def test_actor_pages(engines: Engines) -> None:
    source = {"funnel": {"series": PV_SU_BUY}, "funnelStep": 1}
    first = _actors(engines, "ordered", dict(source), limit=2)
    last = _actors(engines, "ordered", dict(source), limit=2, offset=4)
    everyone = _actors(engines, "ordered", dict(source))
    assert (len(first["results"]), first["hasMore"]) == (2, True)
    assert (len(last["results"]), last["hasMore"]) == (1, False)
    assert (
        first["results"]
        + _actors(engines, "ordered", dict(source), limit=2, offset=2)["results"]
        + last["results"]
        == everyone["results"]
    )


@pytest.mark.parametrize(
    "point",
    [
        {"funnelStep": 0},
        {"funnelStep": -1},
        {"funnelStep": 4},
        {"funnelCustomSteps": []},
        {"funnelCustomSteps": [1, 4]},
        {"funnelCustomSteps": [0]},
        {"funnelTimeToConvertBin": 300},  # of a steps funnel
    ],
)
def test_bad_funnel_step(engines: Engines, point: dict[str, Any]) -> None:
    payload = {
        "kind": "ActorsQuery",
        "source": {
            "kind": "FunnelsActorsQuery",
            "source": {"kind": "FunnelsQuery", "series": PV_SU_BUY, "dateRange": WEEK},
            **point,
        },
    }
    for engine in ("duckdb", "clickhouse"):
        assert engines.run(engine, payload, NOW, PROJECTS["ordered"]).error == (
            400,
            "invalid_input",
        )


def test_a_bin_is_named_by_its_start(engines: Engines) -> None:
    payload = {
        "kind": "ActorsQuery",
        "source": {
            "kind": "FunnelsActorsQuery",
            "source": {"kind": "FunnelsQuery", "dateRange": WEEK, **TIME_TO_CONVERT},
            "funnelTimeToConvertBin": 301,
        },
    }
    for engine in ("duckdb", "clickhouse"):
        answer = engines.run(engine, payload, NOW, PROJECTS["ordered"])
        assert answer.error == (400, "invalid_input")


FITTING = [c for c in CASES if steps_sql.fits(FunnelsQuery.model_validate(_payload(c[2])))]


@pytest.mark.parametrize(
    ("name", "scenario", "query", "expected"), FITTING, ids=[c[0] for c in FITTING]
)
def test_one_query_plan_agrees_with_matching(
    engines: Engines,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    scenario: str,
    query: dict[str, Any],
    expected: Any,
) -> None:
    """Ordered step funnels run as one query; the matching rules give the same answer."""
    planned = _both(engines, scenario, query)["results"]
    monkeypatch.setattr(steps_sql, "fits", lambda query: False)
    assert plain(_both(engines, scenario, query)["results"]) == plain(planned)


PLANNED_ACTORS = [
    c for c in ACTOR_CASES if steps_sql.fits(FunnelsQuery.model_validate(_payload(c[2]["funnel"])))
]


@pytest.mark.parametrize(
    ("name", "scenario", "source", "expected"), PLANNED_ACTORS, ids=[c[0] for c in PLANNED_ACTORS]
)
def test_planned_actors_agree_with_matching(
    engines: Engines,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    scenario: str,
    source: dict[str, Any],
    expected: list[str],
) -> None:
    planned = _actors(engines, scenario, dict(source))["results"]
    monkeypatch.setattr(steps_sql, "fits", lambda query: False)
    assert plain(_actors(engines, scenario, dict(source))["results"]) == plain(planned)


@pytest.mark.parametrize("bins", [None, 1, 4])
def test_planned_time_to_convert_agrees_with_matching(
    engines: Engines, monkeypatch: pytest.MonkeyPatch, bins: int | None
) -> None:
    query = {
        "series": PV_SU_BUY,
        "funnelsFilter": {"funnelVizType": "time_to_convert", "binCount": bins, "funnelToStep": 1},
    }
    planned = _both(engines, "ordered", query)["results"]
    monkeypatch.setattr(steps_sql, "fits", lambda query: False)
    assert plain(_both(engines, "ordered", query)["results"]) == plain(planned)
    assert sum(n for _, n in planned["bins"]) == 3
