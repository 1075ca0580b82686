"""StickinessQuery on both engines, against histograms worked out by hand.

The "sticky" project (UTC), pageviews at noon in March 2026:

    a  1, 2, 2, 3   (3 days, twice on the 2nd)
    b  1, 5         (2 days)
    c  2            (anonymous, 1 day)
    d  2, 4         (anonymous, 2 days)
    e  1, 6         (the 6th is after date_to: 1 day)

a, b and d send their events in company "acme", c in "zeta"; anonymous events
carry no groups, so only a's and b's count for acme.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from magpie.query.stickiness import StickinessQuery, stickiness_actors
from tests.golden.conftest import Engines, engines_over
from tests.golden.insights import actors_on_both, actors_page, at, on_both, send_at
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECTS: dict[str, int] = {}


def fill(ingest: Ingest) -> None:
    PROJECTS["sticky"] = ingest.project_id
    days = {"a": [1, 2, 2, 3], "b": [1, 5], "c": [2], "d": [2, 4], "e": [1, 6]}
    companies = {"a": "acme", "b": "acme", "c": "zeta", "d": "acme"}
    for who, active in days.items():
        anonymous = who in ("c", "d")
        for n, day in enumerate(active):
            groups = {"$groups": {"company": companies[who]}} if who in companies else {}
            send_at(ingest, at(day, 12, n), "$pageview", who, anonymous=anonymous, **groups)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


FIVE_DAYS = {"date_from": "2026-03-01", "date_to": "2026-03-05"}
CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("actors by active days", {}, [2, 2, 1, 0, 0]),
    (
        "cumulative: on at least k days",
        {"stickinessFilter": {"computedAs": "cumulative"}},
        [5, 3, 1, 0, 0],
    ),
    (
        "a day counts only with two events or more",
        {"stickinessFilter": {"stickinessCriteria": {"operator": "gte", "value": 2}}},
        [1, 0, 0, 0, 0],
    ),
    (
        "exactly one event",
        {"stickinessFilter": {"stickinessCriteria": {"operator": "exact", "value": 1}}},
        [2, 3, 0, 0, 0],
    ),
    ("intervals of two days: 1-2, 3-4, 5", {"intervalCount": 2}, [2, 3, 0]),
    (
        "companies: acme on 1, 2, 3, 5; anonymous events carry no group",
        {"series": [{"event": "$pageview", "math": "unique_group", "math_group_type_index": 0}]},
        [0, 0, 0, 1, 0],
    ),
    (
        "weekly: everyone in the week of 1 March",
        {"interval": "week", "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-07"}},
        [5],
    ),
]


@pytest.mark.parametrize(("name", "query", "expected"), CASES, ids=[c[0] for c in CASES])
def test_histograms(
    engines: Engines, name: str, query: dict[str, Any], expected: list[int]
) -> None:
    payload = {
        "kind": "StickinessQuery",
        "series": [{"event": "$pageview"}],
        "dateRange": FIVE_DAYS,
        **query,
    }
    answer = on_both(engines, payload, NOW, PROJECTS["sticky"])
    assert answer["results"][0]["data"] == expected


def test_result_shape_and_compare(engines: Engines) -> None:
    payload = {
        "kind": "StickinessQuery",
        "series": [{"event": "$pageview", "custom_name": "Views"}],
        "dateRange": FIVE_DAYS,
        "compareFilter": {"compare": True},
        "stickinessFilter": {"computedAs": "cumulative"},
    }
    current, previous = on_both(engines, payload, NOW, PROJECTS["sticky"])["results"]
    assert current["labels"][:2] == ["1 day or more", "2 days or more"]
    assert current["days"] == [1, 2, 3, 4, 5]
    assert current["count"] == 5
    assert current["label"] == "Views"
    assert (current["compare_label"], previous["compare_label"]) == ("current", "previous")
    assert previous["data"] == [0, 0, 0, 0, 0]


def test_bad_input_is_a_clear_error(engines: Engines) -> None:
    payload = {"kind": "StickinessQuery", "series": [{"event": "$pageview"}], "intervalCount": 0}
    assert on_both(engines, payload, NOW, PROJECTS["sticky"])["error"][0] == 400
    payload = {
        "kind": "StickinessQuery",
        "series": [{"event": "$pageview"}],
        "stickinessFilter": {"stickinessCriteria": {"operator": "near", "value": 1}},
    }
    assert on_both(engines, payload, NOW, PROJECTS["sticky"])["error"][0] == 400


@pytest.mark.parametrize(
    ("intervals", "settings", "expected"),
    [
        (1, {}, {"c", "e"}),
        (2, {}, {"b", "d"}),
        (2, {"stickinessFilter": {"computedAs": "cumulative"}}, {"a", "b", "d"}),
    ],
)
def test_the_actors_of_a_bar(
    engines: Engines, intervals: int, settings: dict[str, Any], expected: set[str]
) -> None:
    query = StickinessQuery.model_validate(
        {
            "kind": "StickinessQuery",
            "series": [{"event": "$pageview"}],
            "dateRange": FIVE_DAYS,
            **settings,
        }
    )
    found = actors_on_both(
        engines,
        lambda context: stickiness_actors(query, context, intervals),
        NOW,
        PROJECTS["sticky"],
    )
    assert found == expected


def test_actors_query_names_a_bar(engines: Engines) -> None:
    insight = {
        "kind": "StickinessQuery",
        "series": [{"event": "$pageview"}],
        "dateRange": FIVE_DAYS,
    }
    assert actors_page(engines, insight, NOW, PROJECTS["sticky"], day=3) == ["a"]
    assert actors_page(engines, insight, NOW, PROJECTS["sticky"], day="1") == ["c", "e"]
