"""Actions on both engines: which events each kind of step matches (worked out by
hand), and insights by action giving the answer of the same insight by event.

The "shop" project (UTC), on 2 March 2026 unless said:

    e1  $pageview    ada  /pricing?plan=pro   plan pro
    e2  $pageview    bob  /Pricing
    e3  $pageview    cy   /docs/100%_sure
    e4  $autocapture ada  /pricing            <button#buy.big.cta "Buy now"> in <div>
    e5  $autocapture bob  /                   <a href=/signup?ref=nav 'Say "hi"'> in <nav>
    e6  signed up    cy                       plan free
    e7  signed up    ada                      plan pro

(URLs on https://shop.example.)
    3 March: ada and cy view a page again (https://shop.example/pricing), bob signs up.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from magpie.clock import FrozenClock
from magpie.cohorts.service import CohortService
from magpie.errors import MagpieError
from magpie.query.actions import checked_steps
from magpie.query.context import QueryContext
from magpie.query.kinds import run_query
from magpie.store.model import Action
from tests.golden.conftest import Engines, engines_over
from tests.golden.insights import actors_page, at, on_both, send_at
from tests.harness import Ingest

NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
SITE = "https://shop.example"
PRICING = f"{SITE}/pricing"
PROJECT: dict[str, int] = {}
DAYS = {"date_from": "2026-03-01", "date_to": "2026-03-04"}


def fill(ingest: Ingest) -> None:
    PROJECT["shop"] = ingest.project_id
    button = [
        {"tag_name": "button", "classes": ["cta", "big"], "$el_text": "Buy now", "attr__id": "buy"},
        {"tag_name": "div"},
    ]
    link = [
        {"tag_name": "a", "$el_text": 'Say "hi"', "attr__href": "/signup?ref=nav"},
        {"tag_name": "nav"},
    ]
    rows: list[tuple[datetime, str, str, dict[str, Any]]] = [
        (at(2, 9), "$pageview", "ada", {"$current_url": f"{SITE}/pricing?plan=pro", "plan": "pro"}),
        (at(2, 10), "$pageview", "bob", {"$current_url": f"{SITE}/Pricing"}),
        (at(2, 11), "$pageview", "cy", {"$current_url": f"{SITE}/docs/100%_sure"}),
        (
            at(2, 12),
            "$autocapture",
            "ada",
            {"$current_url": f"{SITE}/pricing", "$elements": button},
        ),
        (at(2, 13), "$autocapture", "bob", {"$current_url": f"{SITE}/", "$elements": link}),
        (at(2, 14), "signed up", "cy", {"plan": "free"}),
        (at(2, 15), "signed up", "ada", {"plan": "pro"}),
        (at(3, 9), "$pageview", "ada", {"$current_url": f"{SITE}/pricing"}),
        (at(3, 10), "$pageview", "cy", {"$current_url": f"{SITE}/pricing"}),
        (at(3, 11), "signed up", "bob", {"plan": "free"}),
    ]
    for when, name, who, props in rows:
        send_at(ingest, when, name, who, **props)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


def _action(engines: Engines, name: str, steps: list[dict[str, Any]]) -> int:
    store = engines.ingest.magpie.stores.actions
    saved = store.create(PROJECT["shop"], name, steps=checked_steps(steps, NOW))
    return saved.id


def _trends(engines: Engines, node: dict[str, Any]) -> dict[str, Any]:
    query = {"kind": "TrendsQuery", "series": [node], "dateRange": DAYS}
    return on_both(engines, query, NOW, PROJECT["shop"])


def _by_action(action_id: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "ActionsNode", "id": action_id, **extra}


# What one action matches on 2 March: its steps → the events (e1 … e7) it counts.
MATCHING: list[tuple[str, list[dict[str, Any]], int]] = [
    ("a step without parts is any event", [{}], 7),
    ("an event name", [{"event": "$pageview"}], 3),
    ("url contains (case-sensitive)", [{"url": "pricing"}], 2),
    ("url contains: % and _ are literal", [{"url": "100%_sure"}], 1),
    ("url contains: % is no wildcard", [{"url": "docs/%sure"}], 0),
    ("url exact", [{"url": f"{SITE}/Pricing", "url_matching": "exact"}], 1),
    ("url exact is whole", [{"url": f"{SITE}/pricing", "url_matching": "exact"}], 1),
    ("url regex", [{"url": "(?i)/pricing$", "url_matching": "regex"}], 2),
    ("event and url", [{"event": "$pageview", "url": "pricing"}], 1),
    (
        "event and properties",
        [{"event": "signed up", "properties": [{"key": "plan", "value": "pro"}]}],
        1,
    ),
    ("properties on any event", [{"properties": [{"key": "plan", "value": "pro"}]}], 2),
    ("the clicked element's tag", [{"tag_name": "button"}], 1),
    ("an ancestor's tag", [{"tag_name": "nav"}], 1),
    ("a tag is matched whole", [{"tag_name": "butt"}], 0),
    ("text exact", [{"text": "Buy now"}], 1),
    ("text exact is whole", [{"text": "Buy"}], 0),
    ("text contains", [{"text": "Buy", "text_matching": "contains"}], 1),
    ("text with quotes", [{"text": 'Say "hi"'}], 1),
    ("href exact", [{"href": "/signup?ref=nav"}], 1),
    ("href exact is whole", [{"href": "/signup"}], 0),
    ("href contains", [{"href": "signup", "href_matching": "contains"}], 1),
    ("element and event", [{"event": "$autocapture", "tag_name": "a", "text": 'Say "hi"'}], 1),
    ("element and another event", [{"event": "$pageview", "tag_name": "button"}], 0),
    ("a selector: tag and class", [{"selector": "button.cta"}], 1),
    ("a selector: classes in any order", [{"selector": "button.cta.big"}], 1),
    ("a selector: a class is matched whole", [{"selector": ".ct"}], 0),
    ("a selector: a tag is matched whole", [{"selector": "butto"}], 0),
    ("a selector: any ancestor", [{"selector": "nav"}], 1),
    ("a selector: a child", [{"selector": "div > button"}], 1),
    ("a selector: a child's parent only", [{"selector": "nav > button"}], 0),
    ("a selector: the order outwards", [{"selector": "a nav"}], 0),
    ("a selector: a descendant", [{"selector": "nav a"}], 1),
    ("a selector: an id", [{"selector": "#buy"}], 1),
    ("a selector: an id is whole", [{"selector": "#bu"}], 0),
    ("a selector: tag, id and class", [{"selector": "div button#buy.cta"}], 1),
    ("a selector: an attribute's value", [{"selector": 'a[href="/signup?ref=nav"]'}], 1),
    ("a selector: an attribute is there", [{"selector": "[href]"}], 1),
    ("a selector and an event", [{"selector": "button", "event": "$pageview"}], 0),
    ("OR over steps", [{"event": "signed up"}, {"url": "pricing"}], 4),
    ("overlapping steps count an event once", [{"event": "$pageview"}, {"url": "pricing"}], 4),
    ("no steps match nothing", [], 0),
    ("blank fields are unset", [{"event": "$pageview", "url": "", "text": ""}], 3),
]


@pytest.mark.parametrize(("name", "steps", "expected"), MATCHING, ids=[m[0] for m in MATCHING])
def test_what_a_step_matches(
    engines: Engines, name: str, steps: list[dict[str, Any]], expected: int
) -> None:
    action_id = _action(engines, name, steps)
    result = _trends(engines, _by_action(action_id))["results"][0]
    assert result["data"][1] == expected  # 2 March
    assert result["action"]["id"] == action_id
    assert result["action"]["type"] == "actions"
    assert result["action"]["name"] == result["label"] == name


def test_trends_by_action_is_trends_by_its_event(engines: Engines) -> None:
    action_id = _action(engines, "Signed up", [{"event": "signed up"}])
    for math in ("total", "dau"):
        by_action = _trends(engines, _by_action(action_id, math=math))["results"][0]
        by_event = _trends(engines, {"event": "signed up", "math": math})["results"][0]
        assert by_action["data"] == by_event["data"] == [0, 2, 1, 0]
    named = _trends(engines, _by_action(action_id, custom_name="Sign-ups"))["results"][0]
    assert named["label"] == "Sign-ups" and named["action"]["name"] == "Signed up"


def test_funnel_steps_and_exclusions_by_action(engines: Engines) -> None:
    pricing = _action(engines, "Saw pricing", [{"event": "$pageview", "url": "pricing"}])
    signed_up = _action(engines, "Signed up (funnel)", [{"event": "signed up"}])
    pageview = {"kind": "EventsNode", "event": "$pageview", "properties": _url_contains("pricing")}

    def funnel(series: list[dict[str, Any]], **filters: Any) -> list[dict[str, Any]]:
        query = {
            "kind": "FunnelsQuery",
            "series": series,
            "dateRange": DAYS,
            "funnelsFilter": {"funnelWindowInterval": 7, **filters},
        }
        return on_both(engines, query, NOW, PROJECT["shop"])["results"]

    by_action = funnel([_by_action(pricing), _by_action(signed_up)])
    by_event = funnel([pageview, {"kind": "EventsNode", "event": "signed up"}])
    assert [s["count"] for s in by_action] == [s["count"] for s in by_event] == [2, 1]
    assert [(s["action_id"], s["name"], s["type"]) for s in by_action] == [
        (pricing, "Saw pricing", "actions"),
        (signed_up, "Signed up (funnel)", "actions"),
    ]
    # ada clicked the button between her pricing view and her sign-up: excluded.
    clicked = _action(engines, "Clicked buy", [{"tag_name": "button"}])
    exclusion = {"funnelFromStep": 0, "funnelToStep": 1}
    excluded = funnel(
        [_by_action(pricing), _by_action(signed_up)],
        exclusions=[_by_action(clicked, **exclusion)],
    )
    by_event_excluded = funnel(
        [pageview, {"kind": "EventsNode", "event": "signed up"}],
        exclusions=[{"kind": "EventsNode", "event": "$autocapture", **exclusion}],
    )
    assert [s["count"] for s in excluded] == [s["count"] for s in by_event_excluded]
    assert [s["count"] for s in excluded] == [1, 0]


def _url_contains(text: str) -> list[dict[str, Any]]:
    """A step's ``url`` contains ``text`` (letters only): a case-sensitive match."""
    return [{"key": "$current_url", "value": text, "operator": "regex"}]


def test_retention_entities_by_action(engines: Engines) -> None:
    pricing = _action(engines, "Pricing (retention)", [{"event": "$pageview", "url": "pricing"}])

    def retention(target: dict[str, Any], returning: dict[str, Any]) -> list[list[int]]:
        query = {
            "kind": "RetentionQuery",
            "dateRange": DAYS,
            "retentionFilter": {
                "period": "Day",
                "totalIntervals": 3,
                "targetEntity": target,
                "returningEntity": returning,
            },
        }
        results = on_both(engines, query, NOW, PROJECT["shop"])["results"]
        return [[v["count"] for v in row["values"]] for row in results]

    by_event = {"id": "$pageview", "type": "events", "properties": _url_contains("pricing")}
    by_action = {"id": pricing, "type": "actions"}
    assert retention(by_action, by_action) == retention(by_event, by_event)
    assert retention(by_action, by_action)[1] == [1, 1, 0]  # ada on 2 March, back on 3
    signed = {"id": "signed up", "type": "events"}
    assert retention(by_action, signed) == retention(by_event, signed)


def test_stickiness_and_lifecycle_by_action(engines: Engines) -> None:
    action_id = _action(engines, "Signed up (sticky)", [{"event": "signed up"}])
    for kind in ("StickinessQuery", "LifecycleQuery"):
        query = {"kind": kind, "dateRange": DAYS, "interval": "day"}
        by_action = on_both(
            engines, {**query, "series": [_by_action(action_id)]}, NOW, PROJECT["shop"]
        )["results"]
        by_event = on_both(
            engines, {**query, "series": [{"event": "signed up"}]}, NOW, PROJECT["shop"]
        )["results"]
        assert [r["data"] for r in by_action] == [r["data"] for r in by_event]
        assert {(r["action"]["id"], r["action"]["type"]) for r in by_action} == {
            (action_id, "actions")
        }


@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
def test_behavioural_cohort_by_action(engines: Engines, engine: str) -> None:
    magpie = engines.ingest.magpie
    service = CohortService(
        magpie.stores.cohorts,
        magpie.projects,
        engines.runners[engine],
        FrozenClock(NOW),
        actions=magpie.stores.actions,
    )
    pricing = _action(engines, "Pricing (cohort)", [{"event": "$pageview", "url": "pricing"}])
    signed_up = _action(engines, "Signed up (cohort)", [{"event": "signed up"}])

    def members(**leaf: Any) -> set[str]:
        filters = {"properties": {"type": "AND", "values": [{"type": "behavioral", **leaf}]}}
        cohort = service.create(PROJECT["shop"], "c", "", filters)
        found = service.store.members(PROJECT["shop"], cohort.id, limit=100)
        names = {engines.ingest.person(n)["uuid"]: n for n in ("ada", "bob", "cy")}  # type: ignore[index]
        return {names[str(m)] for m in found}

    week = {"time_value": 7, "time_interval": "day"}
    performed = {"value": "performed_event", **week}
    by_action = members(key=pricing, event_type="actions", **performed)
    by_event = members(
        key="$pageview",
        event_type="events",
        event_filters=_url_contains("pricing"),
        **performed,
    )
    assert by_action == by_event == {"ada", "cy"}
    twice = {"value": "performed_event_multiple", "operator": "gte", "operator_value": 2, **week}
    assert members(key=pricing, event_type="actions", **twice) == {"ada"}  # cy viewed it once
    sequence = {
        "value": "performed_event_sequence",
        "seq_time_value": 1,
        "seq_time_interval": "day",
        **week,
    }
    # A pricing view followed within a day by a sign-up: ada (e1 → e7) only.
    by_actions = members(
        key=pricing, event_type="actions", seq_event=signed_up, seq_event_type="actions", **sequence
    )
    assert by_actions == {"ada"}
    assert members(
        key=pricing,
        event_type="actions",
        seq_event="signed up",
        seq_event_type="events",
        **sequence,
    ) == {"ada"}


def test_an_unknown_or_deleted_action_is_refused(engines: Engines) -> None:
    store = engines.ingest.magpie.stores.actions
    gone = _action(engines, "Gone", [{"event": "signed up"}])
    store.update(PROJECT["shop"], gone, deleted=True)
    for action_id in (gone, 10**9):
        trends = _trends(engines, _by_action(action_id))
        assert trends == {"error": (400, "unknown_action")}
        retention = {
            "kind": "RetentionQuery",
            "dateRange": DAYS,
            "retentionFilter": {"targetEntity": {"id": action_id, "type": "actions"}},
        }
        assert on_both(engines, retention, NOW, PROJECT["shop"]) == {
            "error": (400, "unknown_action")
        }
    # Another project's action is unknown here.
    other = engines.ingest.magpie.projects.create("other").id
    theirs = store.create(other, "theirs", steps=checked_steps([{}], NOW)).id
    assert _trends(engines, _by_action(theirs)) == {"error": (400, "unknown_action")}
    assert _trends(engines, {"kind": "ActionsNode"})["error"] == (400, "invalid_input")
    magpie = engines.ingest.magpie
    service = CohortService(
        magpie.stores.cohorts,
        magpie.projects,
        engines.runners["duckdb"],
        FrozenClock(NOW),
        actions=magpie.stores.actions,
    )
    leaf = {"type": "behavioral", "value": "performed_event", "time_value": 7}
    for key in (gone, "not a number"):
        filters = {
            "properties": {
                "type": "AND",
                "values": [{**leaf, "time_interval": "day", "key": key, "event_type": "actions"}],
            }
        }
        with pytest.raises(MagpieError) as refused:
            service.create(PROJECT["shop"], "bad", "", filters)
        assert (refused.value.status, refused.value.code) == (400, "unknown_action")


def test_actors_behind_a_number_by_action(engines: Engines) -> None:
    action_id = _action(engines, "Signed up (actors)", [{"event": "signed up"}])
    for series in (_by_action(action_id), {"kind": "EventsNode", "event": "signed up"}):
        insight = {"kind": "TrendsQuery", "series": [series], "dateRange": DAYS}
        assert actors_page(engines, insight, NOW, PROJECT["shop"], day="2026-03-02") == [
            "ada",
            "cy",
        ]


class CountingActions:
    """The action store, counting what a query reads of it."""

    def __init__(self, engines: Engines) -> None:
        self._store = engines.ingest.magpie.stores.actions
        self.reads: list[int] = []

    def get(self, project_id: int, action_id: int) -> Action | None:
        self.reads.append(action_id)
        return self._store.get(project_id, action_id)


def test_a_query_reads_each_action_it_names_once(engines: Engines) -> None:
    first = _action(engines, "Once A", [{"event": "signed up"}])
    second = _action(engines, "Once B", [{"event": "$pageview"}])
    project = engines.ingest.magpie.projects.get(PROJECT["shop"])
    assert project is not None
    source = CountingActions(engines)
    context = QueryContext(project, engines.runners["duckdb"], NOW, actions=source)
    series = [_by_action(first), _by_action(second), _by_action(first, math="dau")]
    run_query({"kind": "TrendsQuery", "series": series, "dateRange": DAYS}, context)
    assert sorted(source.reads) == [first, second]
