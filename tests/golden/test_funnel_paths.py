"""PathsQuery with a ``funnelPathsFilter`` on both engines, against edge lists worked
out by hand.

The funnel: a pageview of /pricing, then a signed_up event, within a day. March 2026
(UTC), pageviews unless said otherwise:

    ada  2nd 12:00 /home, 12:01 /pricing, 12:02 /features, 12:03 signed_up,
         12:04 /welcome, 12:05 /docs                      (converts)
    bob  3rd 12:00 /blog, 12:01 /pricing, 12:02 /home;
         4th 12:30 /home, 12:31 /docs                     (drops off at step 2)
    cy   3rd 12:00 /home                                  (never enters)
    dan  4th 12:00 /about, 12:01 /pricing, 12:02 signed_up, 12:03 /welcome,
         12:04 /billing                                   (converts)

Bob's 4th-of-March views come more than a day (the conversion window) after his
/pricing: they are after his drop-off, and a session of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from magpie.query.context import QueryContext
from magpie.query.paths import PathsQuery, path_actors
from tests.golden.conftest import Engines, engines_over
from tests.golden.insights import actors_on_both, at, on_both, send_at
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECTS: dict[str, int] = {}


def _visit(ingest: Ingest, who: str, day: int, steps: list[tuple[int, str]]) -> None:
    for minute, what in steps:
        if what.startswith("/"):
            send_at(ingest, at(day, 12, minute), "$pageview", who, **{"$current_url": what})
        else:
            send_at(ingest, at(day, 12, minute), what, who)


def fill(ingest: Ingest) -> None:
    PROJECTS["web"] = ingest.project_id
    ada = [(0, "/home"), (1, "/pricing"), (2, "/features"), (3, "signed_up")]
    _visit(ingest, "ada", 2, [*ada, (4, "/welcome"), (5, "/docs")])
    _visit(ingest, "bob", 3, [(0, "/blog"), (1, "/pricing"), (2, "/home")])
    _visit(ingest, "bob", 4, [(30, "/home"), (31, "/docs")])
    _visit(ingest, "cy", 3, [(0, "/home")])
    dan = [(0, "/about"), (1, "/pricing"), (2, "signed_up"), (3, "/welcome")]
    _visit(ingest, "dan", 4, [*dan, (4, "/billing")])


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


PRICING = {"key": "$current_url", "value": "/pricing", "operator": "exact", "type": "event"}


def funnel(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "FunnelsQuery",
        "series": [
            {"kind": "EventsNode", "event": "$pageview", "properties": [PRICING]},
            {"kind": "EventsNode", "event": "signed_up"},
        ],
        "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-06"},
        "funnelsFilter": {"funnelWindowInterval": 1, "funnelWindowIntervalUnit": "day"},
        **extra,
    }


def payload(kind: str, step: int, source: dict[str, Any] | None = None, **settings: Any) -> Any:
    return {
        "kind": "PathsQuery",
        "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-06"},
        "pathsFilter": {"includeEventTypes": ["$pageview"], **settings},
        "funnelPathsFilter": {
            "funnelPathType": f"funnel_path_{kind}",
            "funnelStep": step,
            "funnelSource": source or funnel(),
        },
    }


def paths(engines: Engines, kind: str, step: int, **settings: Any) -> Any:
    answer = on_both(engines, payload(kind, step, **settings), NOW, PROJECTS["web"])
    if "error" in answer:
        return answer
    return [(e["source"], e["target"], e["value"]) for e in answer["results"]]


CASES = [
    (
        "after the last step: from the signup on",
        "after_step",
        2,
        [("1_/welcome", "2_/billing", 1), ("1_/welcome", "2_/docs", 1)],
    ),
    (
        "after the first step: everyone who entered, from /pricing on (the step's own event"
        " is in); bob's next-day views are a new session",
        "after_step",
        1,
        [
            ("1_/home", "2_/docs", 1),
            ("1_/pricing", "2_/features", 1),
            ("1_/pricing", "2_/home", 1),
            ("1_/pricing", "2_/welcome", 1),
            ("2_/features", "3_/welcome", 1),
            ("2_/welcome", "3_/billing", 1),
            ("3_/welcome", "4_/docs", 1),
        ],
    ),
    (
        "before the last step: up to the signup",
        "before_step",
        2,
        [
            ("1_/about", "2_/pricing", 1),
            ("1_/home", "2_/pricing", 1),
            ("2_/pricing", "3_/features", 1),
        ],
    ),
    ("between the steps", "between_steps", 2, [("1_/pricing", "2_/features", 1)]),
    (
        "dropped off at step 2, after: once the window from /pricing has run out",
        "after_step",
        -2,
        [("1_/home", "2_/docs", 1)],
    ),
    (
        "dropped off at step 2, before: up to /pricing",
        "before_step",
        -2,
        [("1_/blog", "2_/pricing", 1)],
    ),
]


@pytest.mark.parametrize(("name", "kind", "step", "expected"), CASES, ids=[c[0] for c in CASES])
def test_funnel_paths(engines: Engines, name: str, kind: str, step: int, expected: Any) -> None:
    assert paths(engines, kind, step) == expected


def test_nobody_at_the_step_is_no_paths(engines: Engines) -> None:
    source = funnel(dateRange={"date_from": "2026-03-05", "date_to": "2026-03-06"})
    answer = on_both(engines, payload("after_step", 1, source), NOW, PROJECTS["web"])
    assert answer["results"] == []


@pytest.mark.parametrize(
    ("kind", "step", "source"),
    [
        ("after_step", 0, None),
        ("after_step", 3, None),
        ("after_step", -1, None),
        ("between_steps", 1, None),
        ("between_steps", -2, None),
        ("after_step", 1, funnel(aggregation_group_type_index=0)),
    ],
)
def test_bad_input_is_a_clear_error(
    engines: Engines, kind: str, step: int, source: dict[str, Any] | None
) -> None:
    answer = on_both(engines, payload(kind, step, source), NOW, PROJECTS["web"])
    assert answer["error"][0] == 400


@pytest.mark.parametrize(
    ("kind", "step", "keys", "expected"),
    [
        ("after_step", 1, {"pathStartKey": "1_/pricing"}, {"ada", "bob", "dan"}),
        ("after_step", 2, {"pathStartKey": "1_/welcome", "pathEndKey": "2_/docs"}, {"ada"}),
        ("after_step", -2, {"pathDropoffKey": "2_/docs"}, {"bob"}),
    ],
)
def test_the_actors_of_a_funnel_path(
    engines: Engines, kind: str, step: int, keys: dict[str, str], expected: set[str]
) -> None:
    query = PathsQuery.model_validate(payload(kind, step, **keys))

    def find(context: QueryContext) -> list[str]:
        return path_actors(query, context)

    assert actors_on_both(engines, find, NOW, PROJECTS["web"]) == expected
