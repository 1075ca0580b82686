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
