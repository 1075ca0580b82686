"""Golden: the actors behind a trend's points, on DuckDB and on ClickHouse, against
hand-listed answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.golden.compare import plain
from tests.golden.conftest import Engines, engines_over
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECT: dict[str, int] = {}
ANON = {"$process_person_profile": False}
DAYS = {"date_from": "2026-03-04", "date_to": "2026-03-06"}

ROWS: list[tuple[int, int, str, dict[str, Any]]] = [
    (4, 9, "a", {"$browser": "Chrome"}),
    (4, 10, "anon-1", {**ANON, "$browser": "Safari"}),
    (4, 11, "a", {"$browser": "Chrome"}),
    (5, 9, "b", {"$browser": "Chrome", "$groups": {"company": "corp"}}),
    (5, 10, "anon-1", {**ANON, "$browser": "Safari"}),
    (6, 9, "anon-2", ANON),
]


def fill(ingest: Ingest) -> None:
    PROJECT["id"] = ingest.project_id
    events = []
    for day, hour, who, props in ROWS:
        body = ingest.event("$pageview", who, **props)
        body["timestamp"] = datetime(2026, 3, day, hour, tzinfo=UTC).isoformat()
        events.append(body)
    ingest.clock = datetime(2026, 3, 6, 12, tzinfo=UTC) - timedelta(seconds=1)
    ingest.send(*events)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


def _payload(trend: dict[str, Any], **point: Any) -> dict[str, Any]:
    source = {"kind": "TrendsQuery", "series": [{"event": "$pageview"}], "dateRange": DAYS, **trend}
    return {
        "kind": "ActorsQuery",
        "source": {"kind": "InsightActorsQuery", "source": source, **point},
    }


def _both(payload: dict[str, Any], engines: Engines) -> Any:
    duck = engines.run("duckdb", payload, NOW, PROJECT["id"])
    house = engines.run("clickhouse", payload, NOW, PROJECT["id"])
    assert duck.error == house.error
    if duck.value is None or house.value is None:
        return duck.error
    assert plain(duck.value["results"]) == plain(house.value["results"])
    return sorted(row[0]["id"] for row in duck.value["results"])


BROWSER = {"breakdownFilter": {"breakdown": "$browser", "breakdown_limit": 1}}
CASES: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = [
    ("a day", {}, {"day": "2026-03-04"}, ["a", "anon-1"]),
    ("the whole range", {}, {}, ["a", "anon-1", "anon-2", "b"]),
    ("a breakdown value", BROWSER, {"day": "2026-03-05", "breakdown": "Chrome"}, ["b"]),
    (
        "no value",
        {"breakdownFilter": {"breakdown": "$browser"}},
        {"breakdown": "$$_posthog_breakdown_null_$$"},
        ["anon-2"],
    ),
    # Chrome (three events) is kept; Safari and the event without a browser are other.
    ("other", BROWSER, {"breakdown": "$$_posthog_breakdown_other_$$"}, ["anon-1", "anon-2"]),
    (
        "weekly active: the seven days up to the bucket",
        {"series": [{"event": "$pageview", "math": "weekly_active"}]},
        {"day": "2026-03-05"},
        ["a", "anon-1", "b"],
    ),
    (
        "second series",
        {"series": [{"event": "$pageview"}, {"event": "$pageview", "math": "dau"}]},
        {"day": "2026-03-06", "series": 1},
        ["anon-2"],
    ),
    (
        "unique groups are groups",
        {"series": [{"event": "$pageview", "math": "unique_group", "math_group_type_index": 0}]},
        {},
        ["corp"],
    ),
    ("not a bucket", {}, {"day": "2026-03-09"}, (400, "invalid_input")),
    ("no such series", {}, {"series": 3}, (400, "invalid_input")),
]


@pytest.mark.parametrize(("name", "trend", "point", "expected"), CASES, ids=[c[0] for c in CASES])
def test_trend_actors(
    engines: Engines, name: str, trend: dict[str, Any], point: dict[str, Any], expected: Any
) -> None:
    found = _both(_payload(trend, **point), engines)
    # Persons are shown by their uuid; match them to their distinct ids.
    if isinstance(found, list):
        persons = {
            str(engines.ingest.person(who)["id"]): who  # type: ignore[index]
            for who in ("a", "b")
        }
        found = sorted(persons.get(actor, actor) for actor in found)
    assert found == expected


def test_unknown_insight_kind(engines: Engines) -> None:
    payload = {
        "kind": "ActorsQuery",
        "source": {"kind": "InsightActorsQuery", "source": {"kind": "NoSuchQuery"}},
    }
    assert engines.run("duckdb", payload, NOW, PROJECT["id"]).error == (400, "invalid_input")


# -- anonymous visitors behind path edges and funnel steps ------------------------------

# Two visitors with a profile (p, q) and two without (anon-1, anon-2), on 2026-03-05:
# (hour, minute, who, event, page, browser).
VISITS: list[tuple[int, int, str, str, str | None, str]] = [
    (9, 0, "p", "$pageview", "https://shop.example/home", "Firefox"),
    (9, 5, "p", "signed_up", None, "Firefox"),
    (10, 0, "anon-1", "$pageview", "https://shop.example/home", "Firefox"),
    (10, 5, "anon-1", "signed_up", None, "Firefox"),
    (11, 0, "anon-2", "$pageview", "https://shop.example/home", "Chrome"),
    (12, 0, "q", "$pageview", "https://shop.example/pricing", "Chrome"),
    (12, 5, "q", "signed_up", None, "Chrome"),
]
VISITS_PROJECT: dict[str, int] = {}


def fill_visits(ingest: Ingest) -> None:
    VISITS_PROJECT["id"] = ingest.project_id
    events = []
    for hour, minute, who, event, page, browser in VISITS:
        props: dict[str, Any] = {"$browser": browser}
        if who.startswith("anon-"):
            props.update(ANON)
        if page is not None:
            props["$current_url"] = page
        body = ingest.event(event, who, **props)
        body["timestamp"] = datetime(2026, 3, 5, hour, minute, tzinfo=UTC).isoformat()
        events.append(body)
    ingest.clock = datetime(2026, 3, 6, 12, tzinfo=UTC)
    ingest.send(*events)


@pytest.fixture(scope="module")
def visits(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill_visits)


def _shown(source: dict[str, Any], engines: Engines) -> list[tuple[str, bool]]:
    """Each actor as its first distinct id and whether it is identified, on both engines."""
    payload = {"kind": "ActorsQuery", "source": source}
    found = []
    for engine in ("duckdb", "clickhouse"):
        answer = engines.run(engine, payload, NOW, VISITS_PROJECT["id"])
        assert answer.error is None, (engine, answer.error)
        assert answer.value is not None
        rows = [row[0] for row in answer.value["results"]]
        found.append(sorted((r["distinct_ids"][0], bool(r["is_identified"])) for r in rows))
    assert found[0] == found[1]
    return found[0]


def _path_edge(start: str, end: str) -> dict[str, Any]:
    paths = {
        "kind": "PathsQuery",
        "dateRange": DAYS,
        "pathsFilter": {
            "includeEventTypes": ["$pageview", "custom_event"],
            "pathStartKey": start,
            "pathEndKey": end,
        },
    }
    return {"kind": "InsightActorsQuery", "source": paths}


PATH_CASES: list[tuple[str, str, str, list[str]]] = [
    # p and anon-1 went home → signed_up; anon-2 stopped at home; q came by pricing.
    ("home to sign-up", "1_https://shop.example/home", "2_signed_up", ["anon-1", "p"]),
    ("pricing to sign-up", "1_https://shop.example/pricing", "2_signed_up", ["q"]),
]


@pytest.mark.parametrize(
    ("name", "start", "end", "expected"), PATH_CASES, ids=[c[0] for c in PATH_CASES]
)
def test_path_edge_actors_include_anonymous_visitors(
    visits: Engines, name: str, start: str, end: str, expected: list[str]
) -> None:
    found = _shown(_path_edge(start, end), visits)
    assert [who for who, _ in found] == expected
    # A visitor without a profile is shown by its distinct id, not identified.
    assert all(identified is False for who, identified in found if who.startswith("anon-"))


FUNNEL_BY_BROWSER = {
    "kind": "FunnelsQuery",
    "series": [
        {"kind": "EventsNode", "event": "$pageview"},
        {"kind": "EventsNode", "event": "signed_up"},
    ],
    "dateRange": DAYS,
    "breakdownFilter": {"breakdown": "$browser", "breakdown_type": "event"},
}
FUNNEL_CASES: list[tuple[str, dict[str, Any], int, Any, list[str]]] = [
    ("Firefox, first step", {}, 1, ["Firefox"], ["anon-1", "p"]),
    ("Chrome, first step", {}, 1, ["Chrome"], ["anon-2", "q"]),
    ("Chrome, second step", {}, 2, ["Chrome"], ["q"]),
    ("Chrome, dropped before the second step", {}, -2, ["Chrome"], ["anon-2"]),
    ("a value as text", {}, 1, "Firefox", ["anon-1", "p"]),
    # Not the one-query plan: matched event by event.
    ("unordered", {"funnelOrderType": "unordered"}, 1, ["Chrome"], ["anon-2", "q"]),
    ("every value", {}, 2, None, ["anon-1", "p", "q"]),
]


@pytest.mark.parametrize(
    ("name", "settings", "step", "value", "expected"),
    FUNNEL_CASES,
    ids=[c[0] for c in FUNNEL_CASES],
)
def test_funnel_step_actors_of_a_value_include_anonymous_visitors(
    visits: Engines,
    name: str,
    settings: dict[str, Any],
    step: int,
    value: Any,
    expected: list[str],
) -> None:
    funnel = {**FUNNEL_BY_BROWSER, "funnelsFilter": settings}
    source = {
        "kind": "FunnelsActorsQuery",
        "source": funnel,
        "funnelStep": step,
        "funnelStepBreakdown": value,
    }
    found = _shown(source, visits)
    assert [who for who, _ in found] == expected
    assert all(identified is False for who, identified in found if who.startswith("anon-"))
