"""RetentionQuery with ``aggregationType`` sum and avg on both engines, against values
worked out by hand. Day periods, 1 to 3 March 2026 (UTC), three values per row.

The "same" project (purchases start and return), purchase amounts:

    ada  1st 12:00 10, 13:00 5; 2nd 7; 3rd "x" (not a number: 0)
    bob  1st 14:00 4;  3rd 6                     (country de; the others fr)
    cy   2nd (no amount); 3rd 2

The "other" project (pageviews start, purchases return):

    dan  purchase 1st 11:00 100 (before his first pageview: not in his cohort's value),
         pageview 1st 12:00, purchase 1st 13:00 3, purchase 2nd 8
    eve  pageview 1st 15:00, pageview 2nd 12:00, purchase 2nd 13:00 1

Dan's person has ltv 20 (set before all of that); eve's has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from magpie.query.retention import RetentionQuery, retention_actors
from tests.golden.conftest import Engines, engines_over
from tests.golden.insights import actors_on_both, at, on_both, send_at
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECTS: dict[str, int] = {}


def fill(ingest: Ingest) -> None:
    PROJECTS["same"] = ingest.project_id
    purchases: list[tuple[datetime, str, Any]] = [
        (at(1, 12), "ada", 10),
        (at(1, 13), "ada", 5),
        (at(1, 14), "bob", 4),
        (at(2, 12), "ada", 7),
        (at(2, 12, 30), "cy", None),
        (at(3, 12), "ada", "x"),
        (at(3, 13), "bob", 6),
        (at(3, 14), "cy", 2),
    ]
    for when, who, amount in purchases:
        props: dict[str, Any] = {"country": "de" if who == "bob" else "fr"}
        if amount is not None:
            props["amount"] = amount
        send_at(ingest, when, "purchase", who, **props)
    PROJECTS["other"] = ingest.new_project()
    send_at(ingest, at(1, 10), "$set", "dan", **{"$set": {"ltv": 20}})
    send_at(ingest, at(1, 11), "purchase", "dan", amount=100)
    send_at(ingest, at(1, 12), "$pageview", "dan")
    send_at(ingest, at(1, 13), "purchase", "dan", amount=3)
    send_at(ingest, at(2, 12), "purchase", "dan", amount=8)
    send_at(ingest, at(1, 15), "$pageview", "eve")
    send_at(ingest, at(2, 12), "$pageview", "eve")
    send_at(ingest, at(2, 13), "purchase", "eve", amount=1)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


PURCHASE = {"id": "purchase", "type": "events"}
PAGEVIEW = {"id": "$pageview", "type": "events"}


def query(project: str, **settings: Any) -> dict[str, Any]:
    start, back = (PURCHASE, PURCHASE) if project == "same" else (PAGEVIEW, PURCHASE)
    return {
        "kind": "RetentionQuery",
        "dateRange": {"date_from": "2026-03-01", "date_to": "2026-03-03"},
        "retentionFilter": {
            "period": "Day",
            "totalIntervals": 3,
            "targetEntity": start,
            "returningEntity": back,
            "aggregationProperty": "amount",
            **settings,
        },
    }


def table(engines: Engines, project: str, extra: dict[str, Any] | None = None, **settings: Any):
    payload = {**query(project, **settings), **(extra or {})}
    answer = on_both(engines, payload, NOW, PROJECTS[project])
    if "error" in answer:
        return answer
    return [
        (
            row["breakdown_value"],
            [v["count"] for v in row["values"]],
            [v.get("aggregation_value") for v in row["values"]],
        )
        for row in answer["results"]
    ]


def test_sum_when_the_same_events_start_and_return(engines: Engines) -> None:
    assert table(engines, "same", aggregationType="sum") == [
        (None, [2, 1, 2], [19.0, 7.0, 6.0]),
        (None, [2, 2, 0], [7.0, 2.0, 0.0]),
        (None, [3, 0, 0], [8.0, 0.0, 0.0]),
    ]


def test_avg_is_per_actor_in_the_cell(engines: Engines) -> None:
    rows = table(engines, "same", aggregationType="avg")
    assert [counts for _, counts, _ in rows] == [[2, 1, 2], [2, 2, 0], [3, 0, 0]]
    assert [values for _, _, values in rows] == [
        [9.5, 7.0, 3.0],
        [3.5, 1.0, 0.0],
        [pytest.approx(8 / 3), 0.0, 0.0],
    ]


def test_other_returning_events_count_in_the_cohort_period_after_its_first_start(
    engines: Engines,
) -> None:
    assert table(engines, "other", aggregationType="sum") == [
        (None, [2, 2, 0], [3.0, 9.0, 0.0]),
        (None, [1, 0, 0], [1.0, 0.0, 0.0]),
        (None, [0, 0, 0], [0.0, 0.0, 0.0]),
    ]


def test_a_person_property(engines: Engines) -> None:
    settings = {"aggregationProperty": "ltv", "aggregationPropertyType": "person"}
    assert table(engines, "other", aggregationType="sum", **settings) == [
        (None, [2, 2, 0], [20.0, 20.0, 0.0]),
        (None, [1, 0, 0], [0.0, 0.0, 0.0]),
        (None, [0, 0, 0], [0.0, 0.0, 0.0]),
    ]


def test_minimum_occurrences_are_ignored_when_aggregating(engines: Engines) -> None:
    rows = table(engines, "same", aggregationType="sum", minimumOccurrences=3)
    assert rows[0] == (None, [2, 1, 2], [19.0, 7.0, 6.0])


def test_breakdown_folds_the_sums_as_it_folds_the_counts(engines: Engines) -> None:
    breakdown = {"breakdownFilter": {"breakdown": "country", "breakdown_limit": 1}}
    rows = table(engines, "same", breakdown, aggregationType="sum")
    assert rows == [
        ("fr", [1, 1, 1], [15.0, 7.0, 0.0]),
        ("fr", [2, 2, 0], [7.0, 2.0, 0.0]),
        ("fr", [2, 0, 0], [2.0, 0.0, 0.0]),
        ("$$_posthog_breakdown_other_$$", [1, 0, 1], [4.0, 0.0, 6.0]),
        ("$$_posthog_breakdown_other_$$", [0, 0, 0], [0.0, 0.0, 0.0]),
        ("$$_posthog_breakdown_other_$$", [1, 0, 0], [6.0, 0.0, 0.0]),
    ]


@pytest.mark.parametrize(
    "settings",
    [{"aggregationType": "count"}, {"aggregationType": "sum", "aggregationProperty": None}],
    ids=["count", "sum without a property"],
)
def test_counting_has_no_aggregation_value(engines: Engines, settings: dict[str, Any]) -> None:
    rows = table(engines, "same", **settings)
    assert rows[0] == (None, [2, 1, 2], [None, None, None])


@pytest.mark.parametrize(
    "settings",
    [
        {"cumulative": True},
        {"retentionCustomBrackets": [1, 1]},
        {"timeWindowMode": "24_hour_windows"},
        {"aggregationType": "median"},
        {"aggregationPropertyType": "group"},
    ],
)
def test_bad_input_is_a_clear_error(engines: Engines, settings: dict[str, Any]) -> None:
    answer = table(engines, "same", **{"aggregationType": "sum", **settings})
    assert answer["error"][0] == 400


def test_a_cells_actors(engines: Engines) -> None:
    retention = RetentionQuery.model_validate(query("same", aggregationType="sum"))

    def find(context: Any) -> list[str]:
        return retention_actors(retention, context, cohort=0, interval=2)

    assert actors_on_both(engines, find, NOW, PROJECTS["same"]) == {"ada", "bob"}
