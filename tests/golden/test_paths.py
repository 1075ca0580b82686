"""PathsQuery on both engines, against edge lists worked out by hand.

The "web" project (UTC), pageviews in March 2026 (time: path):

    ada  2nd 12:00 /home/, 12:01 /pricing, 12:02 /pricing, 12:03 /signup,
         12:40 /home, 12:41 /docs          (37 minutes without a step: a new session)
    bob  3rd 12:00 /home, 12:05 /pricing, 12:10 /home, 12:20 /pricing
    v    3rd 12:00 /blog/1, 12:01 /blog/2, 12:02 /pricing, 12:03 a signed_up event
                                           (anonymous)
    app  4th 12:00 screen Settings, 12:01 screen Profile
    cy   7th (after date_to) /home, /docs

The "long" project: dee on the 4th, /a to /f a minute apart; w, anonymous,
/home at 12:00, then identifies as wes, who views /pricing at 12:01.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from magpie.errors import InvalidInput
from magpie.query.context import QueryContext
from magpie.query.paths import PathsQuery, path_actors
from tests.golden.conftest import Engines, engines_over
from tests.golden.insights import actors_on_both, actors_page, at, on_both, send_at
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECTS: dict[str, int] = {}


def _views(ingest: Ingest, who: str, day: int, steps: list[tuple[int, str]], **kw: Any) -> None:
    for minute, url in steps:
        send_at(ingest, at(day, 12, minute), "$pageview", who, **{"$current_url": url}, **kw)


def fill(ingest: Ingest) -> None:
    PROJECTS["web"] = ingest.project_id
    ada = [(0, "/home/"), (1, "/pricing"), (2, "/pricing"), (3, "/signup"), (40, "/home")]
    _views(ingest, "ada", 2, [*ada, (41, "/docs")])
    _views(ingest, "bob", 3, [(0, "/home"), (5, "/pricing"), (10, "/home"), (20, "/pricing")])
    _views(ingest, "v", 3, [(0, "/blog/1"), (1, "/blog/2"), (2, "/pricing")], anonymous=True)
    send_at(ingest, at(3, 12, 3), "signed_up", "v", anonymous=True)
    for minute, screen in [(0, "Settings"), (1, "Profile")]:
        send_at(ingest, at(4, 12, minute), "$screen", "app", **{"$screen_name": screen})
    _views(ingest, "cy", 7, [(0, "/home"), (1, "/docs")])
    PROJECTS["long"] = ingest.new_project()
    _views(ingest, "dee", 4, [(n, f"/{letter}") for n, letter in enumerate("abcdef")])
    _views(ingest, "w", 4, [(0, "/home")], anonymous=True)
    send_at(
        ingest, at(4, 12) + timedelta(seconds=30), "$identify", "wes", **{"$anon_distinct_id": "w"}
    )
    _views(ingest, "wes", 4, [(1, "/pricing")])


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


def paths(engines: Engines, project: str = "web", **settings: Any) -> Any:
    payload = {
        "kind": "PathsQuery",
        "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-05"},
        "pathsFilter": {"includeEventTypes": ["$pageview"], **settings},
    }
    answer = on_both(engines, payload, NOW, PROJECTS[project])
    if "error" in answer:
        return answer
    return [(e["source"], e["target"], e["value"]) for e in answer["results"]]


PAGES = [
    ("1_/home", "2_/pricing", 2),
    ("1_/blog/1", "2_/blog/2", 1),
    ("1_/home", "2_/docs", 1),
    ("2_/blog/2", "3_/pricing", 1),
    ("2_/pricing", "3_/home", 1),
    ("2_/pricing", "3_/signup", 1),
    ("3_/home", "4_/pricing", 1),
]
CASES: list[tuple[str, str, dict[str, Any], Any]] = [
    ("pages: sessions, repeats as one step, a trailing slash dropped", "web", {}, PAGES),
    (
        "step limit",
        "web",
        {"stepLimit": 2},
        [("1_/home", "2_/pricing", 2), ("1_/blog/1", "2_/blog/2", 1), ("1_/home", "2_/docs", 1)],
    ),
    (
        "from the first /pricing of each session",
        "web",
        {"startPoint": "/pricing"},
        [
            ("1_/pricing", "2_/home", 1),
            ("1_/pricing", "2_/signup", 1),
            ("2_/home", "3_/pricing", 1),
        ],
    ),
    (
        "up to the first /pricing",
        "web",
        {"endPoint": "/pricing"},
        [
            ("1_/home", "2_/pricing", 2),
            ("1_/blog/1", "2_/blog/2", 1),
            ("2_/blog/2", "3_/pricing", 1),
        ],
    ),
    (
        "the last steps before the end point",
        "web",
        {"endPoint": "/pricing", "stepLimit": 2},
        [("1_/home", "2_/pricing", 2), ("1_/blog/2", "2_/pricing", 1)],
    ),
    (
        "a long path between two points keeps both ends",
        "long",
        {"startPoint": "/a", "endPoint": "/f", "stepLimit": 4},
        [("1_/a", "2_/b", 1), ("2_/b", "3_...", 1), ("3_...", "4_/f", 1)],
    ),
    (
        "a visitor who identifies is one actor from the start",
        "long",
        {"startPoint": "/home"},
        [("1_/home", "2_/pricing", 1)],
    ),
    (
        "cleaning rules, then groupings",
        "web",
        {
            "localPathCleaningFilters": [{"regex": "/blog/[0-9]+", "alias": "/blog/:id"}],
            "pathGroupings": ["/pri*"],
            "startPoint": "/blog/:id",
        },
        [("1_/blog/:id", "2_/pri*", 1)],
    ),
    (
        "excluded items are left out before sessions are cut",
        "web",
        {"excludeEvents": ["/pricing"]},
        [("1_/blog/1", "2_/blog/2", 1), ("1_/home", "2_/docs", 1), ("1_/home", "2_/signup", 1)],
    ),
    (
        "custom events beside pages",
        "web",
        {"includeEventTypes": ["$pageview", "custom_event"], "startPoint": "/blog/1"},
        [
            ("1_/blog/1", "2_/blog/2", 1),
            ("2_/blog/2", "3_/pricing", 1),
            ("3_/pricing", "4_signed_up", 1),
        ],
    ),
    ("screens", "web", {"includeEventTypes": ["$screen"]}, [("1_Settings", "2_Profile", 1)]),
    ("edge limit", "web", {"edgeLimit": 1}, [("1_/home", "2_/pricing", 2)]),
    (
        "edges cut off from every first step are pruned",
        "web",
        {"maxEdgeWeight": 1},
        [("1_/blog/1", "2_/blog/2", 1), ("1_/home", "2_/docs", 1), ("2_/blog/2", "3_/pricing", 1)],
    ),
    ("minimum edge weight", "web", {"minEdgeWeight": 2}, [("1_/home", "2_/pricing", 2)]),
]


BLOG_IDS = [{"regex": "/blog/[0-9]+", "alias": "/blog/:id"}]
REPLACEMENT_CASES: list[tuple[str, dict[str, Any], Any]] = [
    ("the project's rules", {"pathReplacements": True}, [("1_/blog/:id", "2_/pricing", 1)]),
    ("not without pathReplacements", {}, []),
    (
        "the project's rules, then the query's",
        {
            "pathReplacements": True,
            "localPathCleaningFilters": [{"regex": "^/blog/:id$", "alias": "/articles"}],
        },
        [("1_/articles", "2_/pricing", 1)],
    ),
]


@pytest.mark.parametrize(
    ("name", "settings", "expected"), REPLACEMENT_CASES, ids=[c[0] for c in REPLACEMENT_CASES]
)
def test_path_replacements_apply_the_project_rules(
    engines: Engines, name: str, settings: dict[str, Any], expected: Any
) -> None:
    projects = engines.ingest.magpie.projects
    projects.update(PROJECTS["web"], path_cleaning_filters=BLOG_IDS)
    try:
        start = "/articles" if "localPathCleaningFilters" in settings else "/blog/:id"
        assert paths(engines, startPoint=start, **settings) == expected
    finally:
        projects.update(PROJECTS["web"], path_cleaning_filters=[])


def test_a_bad_project_rule_is_a_clear_error(engines: Engines) -> None:
    projects = engines.ingest.magpie.projects
    projects.update(PROJECTS["web"], path_cleaning_filters=[{"regex": "([", "alias": "x"}])
    try:
        answer = paths(engines, pathReplacements=True)
        assert answer["error"] == (400, "invalid_input"), answer
    finally:
        projects.update(PROJECTS["web"], path_cleaning_filters=[])


@pytest.mark.parametrize(
    ("name", "project", "settings", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_edges(
    engines: Engines, name: str, project: str, settings: dict[str, Any], expected: Any
) -> None:
    assert paths(engines, project, **settings) == expected


def test_average_conversion_time_in_milliseconds(engines: Engines) -> None:
    payload = {
        "kind": "PathsQuery",
        "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-05"},
        "pathsFilter": {"includeEventTypes": ["$pageview"], "edgeLimit": 1},
    }
    (edge,) = on_both(engines, payload, NOW, PROJECTS["web"])["results"]
    # ada took 60 s from /home to /pricing, bob 300 s.
    assert edge == {
        "source": "1_/home",
        "target": "2_/pricing",
        "value": 2,
        "average_conversion_time": 180_000.0,
    }


def test_hogql_items(engines: Engines) -> None:
    """Every event is its expression's value (no trailing slash taken off): the
    signup and the screens have no URL, so they are no step."""
    found = paths(
        engines, includeEventTypes=["hogql"], pathsHogQLExpression="properties.$current_url"
    )
    assert sorted(found) == [
        ("1_/blog/1", "2_/blog/2", 1),
        ("1_/home", "2_/docs", 1),
        ("1_/home", "2_/pricing", 1),
        ("1_/home/", "2_/pricing", 1),
        ("2_/blog/2", "3_/pricing", 1),
        ("2_/pricing", "3_/home", 1),
        ("2_/pricing", "3_/signup", 1),
        ("3_/home", "4_/pricing", 1),
    ]


def test_hogql_items_beside_other_types(engines: Engines) -> None:
    """Screens by their names; every other event by the expression, here the event's
    name with a mark: each session's pageviews are one repeated step, so only v's
    signup after its views and app's two screens make edges."""
    found = paths(
        engines, includeEventTypes=["$screen", "hogql"], pathsHogQLExpression="concat(event, '!')"
    )
    assert sorted(found) == [("1_$pageview!", "2_signed_up!", 1), ("1_Settings", "2_Profile", 1)]


@pytest.mark.parametrize(
    "settings",
    [
        {"includeEventTypes": ["hogql"], "pathsHogQLExpression": "properties.("},
        {"localPathCleaningFilters": [{"regex": "([", "alias": "x"}]},
        {"stepLimit": 1},
        {"startPoint": "/a", "endPoint": "/b", "stepLimit": 2},
        {"includeEventTypes": ["$autocapture"]},
    ],
)
def test_bad_input_is_a_clear_error(engines: Engines, settings: dict[str, Any]) -> None:
    assert paths(engines, **settings)["error"][0] == 400


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"pathStartKey": "1_/home", "pathEndKey": "2_/pricing"}, {"ada", "bob"}),
        ({"pathStartKey": "2_/pricing"}, {"ada", "bob"}),
        ({"pathEndKey": "3_/pricing"}, {"v"}),
        ({"pathStartKey": "1_/home", "pathEndKey": "3_/home"}, set()),
        ({"pathStartKey": "1_/home", "pathEndKey": "2_/docs", "startPoint": "/home"}, {"ada"}),
    ],
)
def test_the_actors_of_a_node_or_an_edge(
    engines: Engines, keys: dict[str, str], expected: set[str]
) -> None:
    query = PathsQuery.model_validate(
        {
            "kind": "PathsQuery",
            "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-05"},
            "pathsFilter": {"includeEventTypes": ["$pageview"], **keys},
        }
    )
    found = actors_on_both(
        engines, lambda context: path_actors(query, context), NOW, PROJECTS["web"]
    )
    assert found == expected


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        # Paths: ada /home /pricing /signup, then /home /docs; bob /home /pricing /home
        # /pricing; v /blog/1 /blog/2 /pricing.
        ({"pathDropoffKey": "3_/signup"}, {"ada"}),
        ({"pathDropoffKey": "2_/docs"}, {"ada"}),
        ({"pathDropoffKey": "4_/pricing"}, {"bob"}),
        ({"pathDropoffKey": "3_/pricing"}, {"v"}),
        ({"pathDropoffKey": "2_/pricing"}, set()),  # everyone went on
        ({"pathDropoffKey": "3_/home"}, set()),
        # Cut at three steps, bob's path ends at his second /home.
        ({"pathDropoffKey": "3_/home", "stepLimit": 3}, {"bob"}),
        ({"pathDropoffKey": "4_/pricing", "stepLimit": 3}, set()),
        # From /pricing: ada to /signup, bob to /home and /pricing, v nowhere.
        ({"pathDropoffKey": "2_/signup", "startPoint": "/pricing"}, {"ada"}),
        # Up to /pricing: v's /blog/1 /blog/2 /pricing, bob's and ada's /home /pricing.
        ({"pathDropoffKey": "2_/pricing", "endPoint": "/pricing"}, {"ada", "bob"}),
        (
            {"pathDropoffKey": "3_/signup", "startPoint": "/home", "endPoint": "/signup"},
            {"ada"},
        ),
    ],
)
def test_the_actors_who_left_at_a_node(
    engines: Engines, keys: dict[str, Any], expected: set[str]
) -> None:
    query = PathsQuery.model_validate(
        {
            "kind": "PathsQuery",
            "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-05"},
            "pathsFilter": {"includeEventTypes": ["$pageview"], **keys},
        }
    )
    found = actors_on_both(
        engines, lambda context: path_actors(query, context), NOW, PROJECTS["web"]
    )
    assert found == expected


@pytest.mark.parametrize(
    "keys",
    [
        {},
        {"pathStartKey": "home"},
        {"pathDropoffKey": "1_/home"},
        {"pathDropoffKey": "pricing"},
        {"pathDropoffKey": "2_/pricing", "pathStartKey": "1_/home"},
    ],
)
def test_actors_of_an_unknown_node_are_a_clear_error(
    engines: Engines, keys: dict[str, str]
) -> None:
    query = PathsQuery.model_validate({"kind": "PathsQuery", "pathsFilter": keys})
    project = engines.ingest.magpie.projects.get(PROJECTS["web"])
    assert project is not None
    with pytest.raises(InvalidInput):
        path_actors(query, QueryContext(project, engines.runners["duckdb"], NOW))


def test_actors_query_names_an_edge(engines: Engines) -> None:
    insight = {
        "kind": "PathsQuery",
        "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-05"},
        "pathsFilter": {
            "includeEventTypes": ["$pageview"],
            "pathStartKey": "2_/blog/2",
            "pathEndKey": "3_/pricing",
        },
    }
    assert actors_page(engines, insight, NOW, PROJECTS["web"]) == ["v"]
