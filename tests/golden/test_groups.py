"""Group analytics in every insight kind that has it, on both engines, against
answers worked out by hand: aggregation by group, group property filters and
breakdowns, and a personless event carrying no group.

One project (UTC), March 2026, companies of group type 0:

    acme   identified on the 2nd at 11:00 {industry: finance, plan: pro}
    beta   identified on the 1st            {industry: tech}
    gamma  never identified (no properties, no creation time)
    ghost  named only by an anonymous visitor's events, so it is no group at all

    day 2  12:00 $pageview ada   acme
           12:01 $pageview cal   beta
           12:02 $pageview dan   gamma
           12:03 $pageview (anonymous visitor) ghost
           13:00 signup    bob   acme
    day 3  12:00 $pageview ada   acme
           12:05 signup    cal   beta
           12:06 signup    (anonymous visitor) ghost
    day 4  12:00 $pageview bob   acme
           12:01 $pageview dan   gamma
    day 5  12:00 $pageview cal   beta

So by group, pageviews: acme on 2, 3, 4; beta on 2, 5; gamma on 2, 4.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from magpie.query.breakdowns import BREAKDOWN_NULL
from tests.golden.conftest import Engines, engines_over
from tests.golden.insights import at, on_both, send_at
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECTS: dict[str, int] = {}
DAYS = {"date_from": "2026-03-02", "date_to": "2026-03-05"}
WEEK = {"date_from": "2026-03-01", "date_to": "2026-03-07"}
INDUSTRY = {"breakdown": "industry", "breakdown_type": "group", "breakdown_group_type_index": 0}


def industry_is(value: str) -> list[dict[str, Any]]:
    return [{"key": "industry", "value": value, "type": "group", "group_type_index": 0}]


def fill(ingest: Ingest) -> None:
    PROJECTS["groups"] = ingest.project_id

    def identify(when: datetime, who: str, key: str, **props: Any) -> None:
        send_at(
            ingest,
            when,
            "$groupidentify",
            who,
            **{"$group_type": "company", "$group_key": key, "$group_set": props},
        )

    def event(when: datetime, name: str, who: str, company: str, anonymous: bool = False) -> None:
        groups = {"$groups": {"company": company}}
        send_at(ingest, when, name, who, anonymous=anonymous, **groups)

    identify(at(1, 10), "cal", "beta", industry="tech")
    identify(at(2, 11), "ada", "acme", industry="finance", plan="pro")
    event(at(2, 12, 0), "$pageview", "ada", "acme")
    event(at(2, 12, 1), "$pageview", "cal", "beta")
    event(at(2, 12, 2), "$pageview", "dan", "gamma")
    event(at(2, 12, 3), "$pageview", "visitor", "ghost", anonymous=True)
    event(at(2, 13, 0), "signup", "bob", "acme")
    event(at(3, 12, 0), "$pageview", "ada", "acme")
    event(at(3, 12, 5), "signup", "cal", "beta")
    event(at(3, 12, 6), "signup", "visitor", "ghost", anonymous=True)
    event(at(4, 12, 0), "$pageview", "bob", "acme")
    event(at(4, 12, 1), "$pageview", "dan", "gamma")
    event(at(5, 12, 0), "$pageview", "cal", "beta")

    PROJECTS["paths"] = ingest.new_project()
    for minute, who, url in [(0, "u1", "/a"), (1, "u2", "/a"), (5, "u1", "/b"), (6, "u2", "/c")]:
        props = {"$current_url": url, "$groups": {"company": "acme"}}
        send_at(ingest, at(2, 12, minute), "$pageview", who, **props)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


def run(engines: Engines, kind: str, **query: Any) -> dict[str, Any]:
    return on_both(engines, {"kind": kind, **query}, NOW, PROJECTS["groups"])


# -- trends ------------------------------------------------------------------------

UNIQUE_COMPANIES = [{"event": "$pageview", "math": "unique_group", "math_group_type_index": 0}]


@pytest.mark.parametrize(
    ("case", "query", "expected"),
    [
        # ghost is no group: the anonymous visitor's pageview adds nothing.
        ("unique companies a day", {}, {None: [3, 1, 2, 1]}),
        (
            "by a group property; gamma has none",
            {"breakdownFilter": INDUSTRY},
            {"finance": [1, 1, 1, 0], "tech": [1, 0, 0, 1], BREAKDOWN_NULL: [1, 0, 1, 0]},
        ),
        ("a group property filter", {"properties": industry_is("tech")}, {None: [1, 0, 0, 1]}),
    ],
)
def test_trends(engines: Engines, case: str, query: dict[str, Any], expected: dict) -> None:
    answer = run(
        engines, "TrendsQuery", series=UNIQUE_COMPANIES, interval="day", dateRange=DAYS, **query
    )
    got = {series.get("breakdown_value"): series["data"] for series in answer["results"]}
    assert got == expected, case


# -- funnels -----------------------------------------------------------------------

PV_SU = [{"event": "$pageview"}, {"event": "signup"}]


def steps(answer: dict[str, Any]) -> Any:
    results = answer["results"]
    if results and isinstance(results[0], list):
        return {tuple(r[0]["breakdown_value"])[0]: [s["count"] for s in r] for r in results}
    return [s["count"] for s in results]


@pytest.mark.parametrize(
    ("case", "query", "expected"),
    [
        # acme: ada's view, then bob's signup (3600 s); beta: cal's view and signup
        # (1 day 4 min); gamma only views; ghost is no group.
        ("a funnel of companies", {"aggregation_group_type_index": 0}, [3, 2]),
        # ada, cal, dan, bob (his view on the 4th) and the visitor view; cal and the
        # visitor sign up after viewing.
        ("the same funnel of persons and visitors", {}, [5, 2]),
        (
            "companies by a group property",
            {"aggregation_group_type_index": 0, "breakdownFilter": INDUSTRY},
            {"finance": [1, 1], "tech": [1, 1], "": [1, 0]},
        ),
        (
            "companies with a group property",
            {"aggregation_group_type_index": 0, "properties": industry_is("finance")},
            [1, 1],
        ),
        (
            "persons by their company's property: ada and bob as two",
            {"breakdownFilter": INDUSTRY},
            {"finance": [2, 0], "tech": [1, 1], "": [2, 1]},
        ),
    ],
)
def test_funnels(engines: Engines, case: str, query: dict[str, Any], expected: Any) -> None:
    answer = run(engines, "FunnelsQuery", series=PV_SU, dateRange=WEEK, **query)
    assert steps(answer) == expected, case


def test_a_funnel_of_companies_times_their_conversions(engines: Engines) -> None:
    answer = run(
        engines, "FunnelsQuery", series=PV_SU, dateRange=WEEK, aggregation_group_type_index=0
    )
    second = answer["results"][1]
    assert second["average_conversion_time"] == (3600 + 86640) / 2
    assert second["median_conversion_time"] == 3600  # of two middles, the lower


@pytest.mark.parametrize(
    ("step", "expected"), [(1, ["acme", "beta", "gamma"]), (2, ["acme", "beta"]), (-2, ["gamma"])]
)
def test_the_companies_of_a_funnel_step(engines: Engines, step: int, expected: list[str]) -> None:
    source = {
        "kind": "FunnelsActorsQuery",
        "funnelStep": step,
        "source": {
            "kind": "FunnelsQuery",
            "series": PV_SU,
            "dateRange": WEEK,
            "aggregation_group_type_index": 0,
        },
    }
    answer = run(engines, "ActorsQuery", source=source)
    found = [row[0] for row in answer["results"]]
    assert [a["group_key"] for a in found] == expected
    assert {a["type"] for a in found} == {"group"}
    acme = next((a for a in found if a["group_key"] == "acme"), None)
    if acme is not None:
        assert acme["properties"] == {"industry": "finance", "plan": "pro"}


# -- retention ---------------------------------------------------------------------


def cohorts(answer: dict[str, Any]) -> dict[tuple[Any, str], list[int]]:
    """(breakdown value, cohort day) → values, for cohorts that have anyone."""
    return {
        (row.get("breakdown_value"), row["date"][:10]): [v["count"] for v in row["values"]]
        for row in answer["results"]
        if row["values"][0]["count"]
    }


@pytest.mark.parametrize(
    ("case", "query", "expected"),
    [
        (
            "companies: acme 2, 3, 4; beta 2, 5; gamma 2, 4",
            {},
            {
                (None, "2026-03-02"): [3, 1, 2, 1],
                (None, "2026-03-03"): [1, 1, 0, 0],
                (None, "2026-03-04"): [2, 0, 0, 0],
                (None, "2026-03-05"): [1, 0, 0, 0],
            },
        ),
        (
            "by a group property",
            {"breakdownFilter": INDUSTRY},
            {
                ("finance", "2026-03-02"): [1, 1, 1, 0],
                ("finance", "2026-03-03"): [1, 1, 0, 0],
                ("finance", "2026-03-04"): [1, 0, 0, 0],
                ("tech", "2026-03-02"): [1, 0, 0, 1],
                ("tech", "2026-03-05"): [1, 0, 0, 0],
                ("", "2026-03-02"): [1, 0, 1, 0],
                ("", "2026-03-04"): [1, 0, 0, 0],
            },
        ),
        (
            "with a group property",
            {"properties": industry_is("tech")},
            {(None, "2026-03-02"): [1, 0, 0, 1], (None, "2026-03-05"): [1, 0, 0, 0]},
        ),
    ],
)
def test_retention(engines: Engines, case: str, query: dict[str, Any], expected: dict) -> None:
    answer = run(
        engines,
        "RetentionQuery",
        dateRange=DAYS,
        aggregation_group_type_index=0,
        retentionFilter={"period": "Day", "totalIntervals": 4},
        **query,
    )
    assert cohorts(answer) == expected, case


# -- lifecycle ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "query", "expected"),
    [
        # acme, created on the 2nd: new, returning, returning, dormant. beta, created
        # the day before its first pageview: resurrecting (a first activity is never
        # returning), dormant, -, resurrecting. gamma, never identified so never
        # created: resurrecting, dormant, resurrecting, dormant.
        (
            "companies",
            {},
            {
                "new": [1, 0, 0, 0],
                "returning": [0, 1, 1, 0],
                "resurrecting": [2, 0, 1, 1],
                "dormant": [0, -2, 0, -2],
            },
        ),
        (
            "with a group property",
            {"properties": industry_is("tech")},
            {
                "new": [0, 0, 0, 0],
                "returning": [0, 0, 0, 0],
                "resurrecting": [1, 0, 0, 1],
                "dormant": [0, -1, 0, 0],
            },
        ),
    ],
)
def test_lifecycle(engines: Engines, case: str, query: dict[str, Any], expected: dict) -> None:
    answer = run(
        engines,
        "LifecycleQuery",
        series=[{"event": "$pageview"}],
        interval="day",
        dateRange=DAYS,
        aggregation_group_type_index=0,
        **query,
    )
    assert {s["status"]: s["data"] for s in answer["results"]} == expected, case


# -- stickiness --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "query", "expected"),
    [
        # acme on 3 days, beta and gamma on 2.
        ("companies", {"series": UNIQUE_COMPANIES}, [0, 2, 1, 0]),
        (
            "companies with a group property",
            {"series": UNIQUE_COMPANIES, "properties": industry_is("finance")},
            [0, 0, 1, 0],
        ),
        # ada 2, 3; cal 2, 5; dan 2, 4; bob 4; the visitor 2.
        ("persons and visitors", {"series": [{"event": "$pageview"}]}, [2, 3, 0, 0]),
        # Stickiness has no aggregation_group_type_index (as in PostHog): it is ignored.
        (
            "aggregation_group_type_index is not stickiness's",
            {"series": [{"event": "$pageview"}], "aggregation_group_type_index": 0},
            [2, 3, 0, 0],
        ),
    ],
)
def test_stickiness(engines: Engines, case: str, query: dict[str, Any], expected: list) -> None:
    answer = run(engines, "StickinessQuery", interval="day", dateRange=DAYS, **query)
    assert answer["results"][0]["data"] == expected, case


# -- paths -------------------------------------------------------------------------


def test_paths_go_by_person_whatever_the_aggregation(engines: Engines) -> None:
    """PostHog's paths have the field but go by person; so do Magpie's. By company,
    acme's one session would be /a, /b, /c."""
    query = {"dateRange": WEEK, "pathsFilter": {"includeEventTypes": ["$pageview"]}}
    for extra in ({}, {"aggregation_group_type_index": 0}):
        answer = on_both(engines, {"kind": "PathsQuery", **query, **extra}, NOW, PROJECTS["paths"])
        edges = {(e["source"], e["target"]): e["value"] for e in answer["results"]}
        assert edges == {("1_/a", "2_/b"): 1, ("1_/a", "2_/c"): 1}, extra
