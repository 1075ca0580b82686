"""LifecycleQuery on both engines, against statuses worked out by hand.

The "life" project (UTC), pageviews at noon in March 2026 unless said:

    p1  3, 4, 6, 7 (after date_to)       created on the 3rd by its first pageview
    p2  1, 3, 4                          created on the 1st, before the events read
    p3  2, 3                             created on the 2nd
    p4  2 (a signup, no pageview), 3     created the period before its first pageview
    v1  4, 5                             anonymous: created at its first event
    v2  1 (a signup), 5                  anonymous

So, for 3..6 March: new p1 (3), v1 (4); returning p3 (3), p1 and p2 (4), v1 (5);
resurrecting p2 and p4 (3: a first activity after creation is never returning),
v2 (5), p1 (6); dormant p3 and p4 (4), p1 and p2 (5), v1 and v2 (6).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from magpie.query.lifecycle import LifecycleQuery, lifecycle_actors
from tests.golden.conftest import Engines, engines_over
from tests.golden.insights import actors_on_both, actors_page, at, on_both, send_at
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECTS: dict[str, int] = {}


def fill(ingest: Ingest) -> None:
    PROJECTS["life"] = ingest.project_id
    events = [
        (1, "$pageview", "p2", False),
        (1, "signup", "v2", True),
        (2, "$pageview", "p3", False),
        (2, "signup", "p4", False),
        (3, "$pageview", "p1", False),
        (3, "$pageview", "p2", False),
        (3, "$pageview", "p3", False),
        (3, "$pageview", "p4", False),
        (4, "$pageview", "p1", False),
        (4, "$pageview", "p2", False),
        (4, "$pageview", "v1", True),
        (5, "$pageview", "v1", True),
        (5, "$pageview", "v2", True),
        (6, "$pageview", "p1", False),
        (7, "$pageview", "p1", False),
    ]
    for n, (day, name, who, anonymous) in enumerate(events):
        send_at(ingest, at(day, 12, n), name, who, anonymous=anonymous, plan="pro")
    PROJECTS["company"] = ingest.new_project()
    for day, company in [(3, "a"), (4, "a"), (4, "b"), (6, "b")]:
        send_at(ingest, at(day), "$pageview", f"u-{company}", **{"$groups": {"company": company}})
        if day in (3, 4):
            send_at(
                ingest,
                at(day, 13),
                "$groupidentify",
                f"u-{company}",
                **{"$group_type": "company", "$group_key": company, "$group_set": {"n": 1}},
            )


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


def lifecycle(engines: Engines, project: str, **query: Any) -> dict[str, list[float]]:
    payload = {
        "kind": "LifecycleQuery",
        "series": [{"event": "$pageview"}],
        "dateRange": {"date_from": "2026-03-03", "date_to": "2026-03-06"},
        **query,
    }
    answer = on_both(engines, payload, NOW, PROJECTS[project])
    if "error" in answer:
        return answer
    return {item["status"]: item["data"] for item in answer["results"]}


def test_statuses_by_day(engines: Engines) -> None:
    assert lifecycle(engines, "life") == {
        "new": [1, 1, 0, 0],
        "returning": [1, 2, 1, 0],
        "resurrecting": [2, 0, 1, 1],
        "dormant": [0, -2, -2, -2],
    }


def test_result_shape(engines: Engines) -> None:
    payload = {
        "kind": "LifecycleQuery",
        "series": [{"event": "$pageview", "custom_name": "Views"}],
        "dateRange": {"date_from": "2026-03-03", "date_to": "2026-03-04"},
    }
    results = on_both(engines, payload, NOW, PROJECTS["life"])["results"]
    assert [r["status"] for r in results] == ["new", "returning", "resurrecting", "dormant"]
    first = results[0]
    assert first["label"] == "Views - new"
    assert first["days"] == ["2026-03-03", "2026-03-04"]
    assert first["labels"] == ["3-Mar-2026", "4-Mar-2026"]
    assert first["count"] == 2
    assert first["action"]["id"] == "$pageview" and first["action"]["order"] == 0
    assert results[3]["count"] == -2


def test_weekly_from_the_week_before(engines: Engines) -> None:
    # Weeks from Sunday: 1-7 March. Everyone active that week; p2, v2 were created
    # in it (1st) and so were p3, p4 (2nd), so all are new except none before.
    statuses = lifecycle(
        engines,
        "life",
        interval="week",
        dateRange={"date_from": "2026-03-01", "date_to": "2026-03-07"},
    )
    assert statuses == {"new": [6], "returning": [0], "resurrecting": [0], "dormant": [0]}


def test_a_filter_on_the_series(engines: Engines) -> None:
    statuses = lifecycle(
        engines,
        "life",
        series=[{"event": "$pageview", "properties": [{"key": "plan", "value": "pro"}]}],
        properties=[{"type": "hogql", "key": "distinct_id != 'p1'"}],
    )
    assert statuses["new"] == [0, 1, 0, 0]
    assert statuses["dormant"] == [0, -2, -1, -2]


def test_groups_created_when_first_identified(engines: Engines) -> None:
    # a: created on the 3rd, active 3, 4; b: created on the 4th, active 4, 6.
    assert lifecycle(engines, "company", aggregation_group_type_index=0) == {
        "new": [1, 1, 0, 0],
        "returning": [0, 1, 0, 0],
        "resurrecting": [0, 0, 0, 1],
        "dormant": [0, 0, -2, 0],
    }


def test_bad_input_is_a_clear_error(engines: Engines) -> None:
    assert lifecycle(engines, "life", interval="fortnight")["error"][0] == 400
    assert lifecycle(engines, "life", series=[])["error"][0] == 400


@pytest.mark.parametrize(
    ("day", "status", "expected"),
    [
        ("2026-03-03", "resurrecting", {"p2", "p4"}),
        ("2026-03-04", "new", {"v1"}),
        ("2026-03-04", "returning", {"p1", "p2"}),
        ("2026-03-04", "dormant", {"p3", "p4"}),
        ("2026-03-06", "dormant", {"v1", "v2"}),
    ],
)
def test_the_actors_of_a_bar(engines: Engines, day: str, status: str, expected: set[str]) -> None:
    query = LifecycleQuery.model_validate(
        {
            "kind": "LifecycleQuery",
            "series": [{"event": "$pageview"}],
            "dateRange": {"date_from": "2026-03-03", "date_to": "2026-03-06"},
        }
    )
    found = actors_on_both(
        engines,
        lambda context: lifecycle_actors(query, context, day, status),
        NOW,
        PROJECTS["life"],
    )
    assert found == expected


def test_actors_query_names_a_bar(engines: Engines) -> None:
    insight = {
        "kind": "LifecycleQuery",
        "series": [{"event": "$pageview"}],
        "dateRange": {"date_from": "2026-03-03", "date_to": "2026-03-06"},
    }
    page = actors_page(engines, insight, NOW, PROJECTS["life"], day="2026-03-05", status="dormant")
    assert page == ["p1", "p2"]
    wrong = actors_page(engines, insight, NOW, PROJECTS["life"], day="2026-03-09", status="new")
    assert isinstance(wrong, dict) and wrong["error"][0] == 400
