"""TrendsQuery: buckets, math, breakdowns, filters, time zones, compare, formulas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from magpie.errors import InvalidInput
from magpie.query.context import QueryContext
from magpie.query.kinds import run_query
from tests.harness import Ingest

pytestmark = pytest.mark.both_modes
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def trends(ingest: Ingest, **query: Any) -> list[dict[str, Any]]:
    project = ingest.magpie.projects.get(ingest.project_id)
    assert project is not None
    context = QueryContext(project, ingest.magpie.query_runner, NOW)
    payload = {"kind": "TrendsQuery", "series": [{"event": "$pageview"}], **query}
    return run_query(payload, context)["results"]


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def send_at(ingest: Ingest, when: datetime, name: str, distinct_id: str, **props: Any) -> None:
    ingest.clock = when - timedelta(seconds=1)
    ingest.send(ingest.event(name, distinct_id, **props))


@pytest.fixture
def week(ingest: Ingest) -> Ingest:
    """Pageviews across a week from anonymous and identified users."""
    rows = [
        (4, "anon-1", True, "Chrome"),
        (4, "anon-1", True, "Chrome"),
        (5, "anon-2", True, "Safari"),
        (6, "anon-1", True, "Chrome"),
        (8, "ada", False, "Chrome"),
        (8, "bob", False, "Firefox"),
        (9, "ada", False, "Firefox"),
        (10, "anon-3", True, "Chrome"),
    ]
    for day, who, anonymous, browser in rows:
        send_at(
            ingest,
            at(day),
            "$pageview",
            who,
            **({"$process_person_profile": False} if anonymous else {}),
            **{"$browser": browser},
        )
    send_at(
        ingest,
        at(7),
        "$identify",
        "ada",
        **{"$anon_distinct_id": "anon-1", "$set": {"email": "ada@example.com"}},
    )
    send_at(ingest, at(7, 13), "$set", "bob", **{"$set": {"email": "bob@corp.example"}})
    return ingest


def test_daily_total(week: Ingest) -> None:
    [series] = trends(week, dateRange={"date_from": "-6d"})
    assert series["days"] == [f"2026-03-{d:02d}" for d in range(4, 11)]
    assert series["data"] == [2, 1, 1, 0, 2, 1, 1]
    assert series["count"] == 8 and series["label"] == "$pageview"
    assert series["labels"][0] == "4-Mar-2026"


def test_dau_counts_a_merged_person_once(week: Ingest) -> None:
    [series] = trends(
        week,
        series=[{"event": "$pageview", "math": "dau"}],
        dateRange={"date_from": "2026-03-04", "date_to": "2026-03-10"},
        interval="week",
    )
    # Weeks start on Sunday: Mar 1 and Mar 8.
    assert series["days"] == ["2026-03-01", "2026-03-08"]
    # Week 1: anon-1 (later ada) and anon-2; week 2: ada, bob, anon-3.
    assert series["data"] == [2, 3]


def test_breakdown_by_event_property_with_limit(week: Ingest) -> None:
    results = trends(
        week,
        dateRange={"date_from": "-6d"},
        breakdownFilter={"breakdown": "$browser", "breakdown_type": "event"},
    )
    totals = {r["breakdown_value"]: r["count"] for r in results}
    assert totals == {"Chrome": 5, "Firefox": 2, "Safari": 1}
    limited = trends(
        week,
        dateRange={"date_from": "-6d"},
        breakdownFilter={"breakdown": "$browser", "breakdown_limit": 1},
    )
    assert {r["breakdown_value"]: r["count"] for r in limited} == {
        "Chrome": 5,
        "$$_posthog_breakdown_other_$$": 3,
    }


def test_person_property_filter_matches_identified_events_only(week: Ingest) -> None:
    """Including the anonymous events attributed to ada by her identify, never a visitor's."""
    is_not = [
        {"key": "email", "value": "nobody@example.com", "operator": "is_not", "type": "person"}
    ]
    [series] = trends(week, dateRange={"date_from": "-6d"}, properties=is_not)
    # anon-1's three pageviews (now ada's), ada's two, bob's one; never anon-2 or anon-3.
    assert series["data"] == [2, 0, 1, 0, 2, 1, 0]
    ada_only = [{"key": "email", "value": "ada@", "operator": "icontains", "type": "person"}]
    [series] = trends(week, dateRange={"date_from": "-6d"}, properties=ada_only)
    assert series["count"] == 5


def test_person_property_breakdown(week: Ingest) -> None:
    results = trends(
        week,
        dateRange={"date_from": "-6d"},
        breakdownFilter={"breakdown": "email", "breakdown_type": "person"},
    )
    totals = {r["breakdown_value"]: r["count"] for r in results}
    assert totals == {
        "ada@example.com": 5,
        "bob@corp.example": 1,
        "$$_posthog_breakdown_null_$$": 2,
    }


def test_filter_test_accounts_uses_project_filters(week: Ingest) -> None:
    week.magpie.projects.update(
        week.project_id,
        test_account_filters=[
            {
                "key": "email",
                "value": "@corp.example",
                "operator": "not_icontains",
                "type": "person",
            }
        ],
    )
    [kept] = trends(week, dateRange={"date_from": "-6d"}, filterTestAccounts=True)
    [everything] = trends(week, dateRange={"date_from": "-6d"})
    assert everything["count"] - kept["count"] == 1  # bob's pageview


def test_event_property_filters_and_groups(week: Ingest) -> None:
    chrome_or_safari = {
        "type": "OR",
        "values": [{"key": "$browser", "value": "Chrome"}, {"key": "$browser", "value": "Safari"}],
    }
    [series] = trends(week, dateRange={"date_from": "-6d"}, properties=chrome_or_safari)
    assert series["count"] == 6
    [series] = trends(
        week,
        dateRange={"date_from": "-6d"},
        series=[
            {
                "event": "$pageview",
                "properties": [{"key": "$browser", "value": "fire", "operator": "icontains"}],
            }
        ],
    )
    assert series["count"] == 2


def test_property_math(ingest: Ingest) -> None:
    for day, price in [(8, 10), (8, 30), (9, 5), (9, "not a number")]:
        send_at(ingest, at(day), "purchase", "buyer", price=price)

    def math(name: str) -> list[float]:
        [series] = trends(
            ingest,
            series=[{"event": "purchase", "math": name, "math_property": "price"}],
            dateRange={"date_from": "2026-03-08", "date_to": "2026-03-09"},
        )
        return series["data"]

    assert math("sum") == [40, 5]
    assert math("avg") == [20, 5]
    assert math("min") == [10, 5]
    assert math("max") == [30, 5]
    with pytest.raises(InvalidInput):
        math_without_property = {"event": "purchase", "math": "sum"}
        trends(ingest, series=[math_without_property])


def test_hour_and_month_intervals(week: Ingest) -> None:
    [hourly] = trends(
        week,
        interval="hour",
        dateRange={"date_from": "2026-03-08T11:00:00Z", "date_to": "2026-03-08T13:00:00Z"},
    )
    assert hourly["days"][:2] == ["2026-03-08 11:00:00", "2026-03-08 12:00:00"]
    assert hourly["data"][:2] == [0, 2]
    [monthly] = trends(week, interval="month", dateRange={"date_from": "mStart"})
    assert monthly["days"] == ["2026-03-01"] and monthly["data"] == [8]


def test_buckets_follow_the_project_time_zone_across_daylight_saving(ingest: Ingest) -> None:
    ingest.magpie.projects.update(ingest.project_id, timezone="America/New_York")
    # US clocks go forward on 8 March 2026 at 02:00 local (07:00 UTC).
    send_at(ingest, at(8, 3, 30), "$pageview", "a")  # 7 March 22:30 EST
    send_at(ingest, at(8, 6, 30), "$pageview", "a")  # 8 March 01:30 EST
    send_at(ingest, at(8, 7, 30), "$pageview", "a")  # 8 March 03:30 EDT
    send_at(ingest, at(9, 3, 30), "$pageview", "a")  # 8 March 23:30 EDT
    send_at(ingest, at(9, 4, 30), "$pageview", "a")  # 9 March 00:30 EDT
    [series] = trends(ingest, dateRange={"date_from": "2026-03-07", "date_to": "2026-03-09"})
    assert series["days"] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert series["data"] == [1, 3, 1]
    [hourly] = trends(
        ingest, interval="hour", dateRange={"date_from": "2026-03-08", "date_to": "2026-03-08"}
    )
    assert "2026-03-08 02:00:00" not in hourly["days"]  # the hour that does not exist
    by_day = dict(zip(hourly["days"], hourly["data"], strict=True))
    assert by_day["2026-03-08 01:00:00"] == 1 and by_day["2026-03-08 03:00:00"] == 1


def test_compare_with_previous_period(week: Ingest) -> None:
    current, previous = trends(
        week, dateRange={"date_from": "-2d"}, compareFilter={"compare": True}
    )
    assert (current["compare_label"], previous["compare_label"]) == ("current", "previous")
    assert current["days"] == ["2026-03-08", "2026-03-09", "2026-03-10"]
    assert previous["days"] == ["2026-03-05", "2026-03-06", "2026-03-07"]
    assert current["data"] == [2, 1, 1] and previous["data"] == [1, 1, 0]


def test_formula(week: Ingest) -> None:
    [series] = trends(
        week,
        series=[{"event": "$pageview"}, {"event": "$pageview", "math": "dau"}],
        trendsFilter={"formula": "A / B"},
        dateRange={"date_from": "2026-03-04", "date_to": "2026-03-05"},
    )
    assert series["label"] == "A / B"
    assert series["data"] == [2, 1]


def test_weekly_active(week: Ingest) -> None:
    [series] = trends(
        week,
        series=[{"event": "$pageview", "math": "weekly_active"}],
        dateRange={"date_from": "2026-03-09", "date_to": "2026-03-10"},
    )
    # Active in the 7 days to 9 March: ada(=anon-1), anon-2, bob; to 10 March: + anon-3.
    assert series["data"] == [3, 4]


def test_all_events_and_bad_input(week: Ingest) -> None:
    [series] = trends(week, series=[{"event": None}], dateRange={"date_from": "all"})
    assert series["label"] == "All events" and series["count"] == 10
    with pytest.raises(InvalidInput):
        trends(week, interval="fortnight")
    with pytest.raises(InvalidInput):
        trends(week, dateRange={"date_from": "yesterday-ish"})
    with pytest.raises(InvalidInput):
        trends(week, properties=[{"key": "x", "operator": "frobs"}])
