"""Golden: pages of an actors list, on DuckDB and on ClickHouse. Paging through a
list gives exactly the actors one page of all of them gives, each once and in the
same order; the list is computed once per insight and data version (cache.py)
and again when new events arrive."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlglot import exp

from magpie.query.actors import cache, lookup, sources
from magpie.query.actors.cache import data_version
from magpie.query.actors.lookup import PAGES
from magpie.query.actors.models import ActorsQuery
from magpie.query.context import QueryContext
from magpie.query.kinds import run_query
from tests.golden.conftest import Engines, engines_over
from tests.harness import Ingest

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PROJECT: dict[str, int] = {}
DAYS = {"date_from": "2026-03-04", "date_to": "2026-03-09"}
ANON = {"$process_person_profile": False}

# 23 visitors view a page on 5 March; every third does not sign up; every fourth
# is anonymous; those who sign up and whose number is even also buy.
VISITORS = [f"v{n:02d}" for n in range(23)]


def _rows() -> list[tuple[str, str, int, dict[str, Any]]]:
    rows = []
    for n, who in enumerate(VISITORS):
        props = dict(ANON) if n % 4 == 0 else {}
        props["$browser"] = "Chrome" if n % 2 else "Firefox"
        rows.append((who, "$pageview", 9, props))
        if n % 3:
            rows.append((who, "signed_up", 10, props))
            if n % 2 == 0:
                rows.append((who, "purchase", 11, props))
    return rows


def fill(ingest: Ingest) -> None:
    PROJECT["id"] = ingest.project_id
    send_visits(ingest)


def send_visits(ingest: Ingest) -> None:
    events = []
    for who, event, hour, props in _rows():
        body = ingest.event(event, who, **props)
        body["timestamp"] = datetime(2026, 3, 5, hour, tzinfo=UTC).isoformat()
        events.append(body)
    ingest.clock = datetime(2026, 3, 6, 12, tzinfo=UTC)
    ingest.send(*events)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


FUNNEL = {
    "kind": "FunnelsQuery",
    "series": [{"event": "$pageview"}, {"event": "signed_up"}, {"event": "purchase"}],
    "dateRange": DAYS,
}
SOURCES: list[tuple[str, dict[str, Any]]] = [
    ("reached step 2", {"kind": "FunnelsActorsQuery", "source": FUNNEL, "funnelStep": 2}),
    ("dropped before step 3", {"kind": "FunnelsActorsQuery", "source": FUNNEL, "funnelStep": -3}),
    (
        "a breakdown value",
        {
            "kind": "FunnelsActorsQuery",
            "source": {**FUNNEL, "breakdownFilter": {"breakdown": "$browser"}},
            "funnelStep": 1,
            "funnelStepBreakdown": ["Firefox"],
        },
    ),
    (
        # Matched event by event, not the one-query plan.
        "strict funnel",
        {
            "kind": "FunnelsActorsQuery",
            "source": {**FUNNEL, "funnelsFilter": {"funnelOrderType": "strict"}},
            "funnelStep": 1,
        },
    ),
    (
        "custom steps",
        {"kind": "FunnelsActorsQuery", "source": FUNNEL, "funnelCustomSteps": [1, 2]},
    ),
    (
        "a retention cohort",
        {
            "kind": "InsightActorsQuery",
            "source": {"kind": "RetentionQuery", "dateRange": DAYS},
            "interval": 1,
        },
    ),
]


def _page(engines: Engines, engine: str, source: dict[str, Any], limit: int, offset: int) -> Any:
    payload = {"kind": "ActorsQuery", "source": source, "limit": limit, "offset": offset}
    answer = engines.run(engine, payload, NOW, PROJECT["id"])
    assert answer.error is None, (engine, answer.error)
    return answer.value


def _ids(answer: Any) -> list[str]:
    return [row[0]["id"] for row in answer["results"]]


@pytest.mark.parametrize(("name", "source"), SOURCES, ids=[s[0] for s in SOURCES])
@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
def test_pages_are_slices_of_the_whole_list(
    engines: Engines, engine: str, name: str, source: dict[str, Any]
) -> None:
    whole = _page(engines, engine, source, 1000, 0)
    assert not whole["hasMore"]
    expected = _ids(whole)
    assert len(expected) >= 5, "too few actors to page through"
    paged: list[str] = []
    offset = 0
    while True:
        answer = _page(engines, engine, source, 3, offset)
        paged.extend(_ids(answer))
        offset += 3
        assert answer["hasMore"] == (offset < len(expected))
        if not answer["hasMore"]:
            break
    assert paged == expected
    # And the same as the source computed afresh, without any kept list.
    project = engines.ingest.magpie.projects.get(PROJECT["id"])
    context = QueryContext(project, engines.runners[engine], NOW)  # type: ignore[arg-type]
    model = ActorsQuery.model_validate({"kind": "ActorsQuery", "source": source})
    fresh = sources.ACTOR_SOURCES[model.source.kind](model.source, context)
    shown = PAGES[fresh.kind](fresh, fresh.ids, context)
    assert [actor["id"] for actor in shown] == expected


@pytest.mark.parametrize(("name", "source"), SOURCES, ids=[s[0] for s in SOURCES])
def test_both_engines_page_alike(engines: Engines, name: str, source: dict[str, Any]) -> None:
    pages = {
        engine: [_ids(_page(engines, engine, source, 4, offset)) for offset in (0, 4, 8)]
        for engine in ("duckdb", "clickhouse")
    }
    assert pages["duckdb"] == pages["clickhouse"]


@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
def test_data_version_is_stable_without_new_data(engines: Engines, engine: str) -> None:
    project = engines.ingest.magpie.projects.get(PROJECT["id"])
    context = QueryContext(project, engines.runners[engine], NOW)  # type: ignore[arg-type]
    first = data_version(context)
    assert first and first == data_version(context)


def test_a_list_is_computed_once_then_again_after_new_events(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB (ingest writes there): the second page reuses the list, new events make
    a new one that holds the new actor."""
    ingest = Ingest(tmp_path_factory.mktemp("pages") / "data")
    try:
        send_visits(ingest)
        computed = []
        funnels = sources.ACTOR_SOURCES["FunnelsActorsQuery"]

        def counting(source: Any, context: QueryContext) -> Any:
            computed.append(1)
            return funnels(source, context)

        monkeypatch.setitem(sources.ACTOR_SOURCES, "FunnelsActorsQuery", counting)
        source = {"kind": "FunnelsActorsQuery", "source": FUNNEL, "funnelStep": 3}
        project = ingest.magpie.projects.get(ingest.project_id)

        def every_page() -> list[str]:
            found: list[str] = []
            while True:
                context = QueryContext(project, ingest.magpie.query_runner, NOW)  # type: ignore[arg-type]
                page = {"limit": 3, "offset": len(found)}
                payload = {"kind": "ActorsQuery", "source": source, **page}
                answer = run_query(payload, context)
                found.extend(_ids(answer))
                if not answer["hasMore"]:
                    return found

        # Those who bought: v02, v04, v08, v10, v14, v16, v20, v22, over three pages.
        first = every_page()
        assert len(first) == 8
        assert len(computed) == 1
        for event, hour in (("$pageview", 9), ("signed_up", 10), ("purchase", 11)):
            body = ingest.event(event, "newcomer")
            body["timestamp"] = datetime(2026, 3, 5, hour, tzinfo=UTC).isoformat()
            ingest.send(body)
        again = every_page()
        assert len(computed) == 2
        newcomer = str(ingest.person("newcomer")["id"])  # type: ignore[index]
        assert sorted(again) == sorted([*first, newcomer])
    finally:
        ingest.close()


@pytest.mark.parametrize("engine", ["duckdb", "clickhouse"])
def test_one_scan_of_the_events_names_the_visitors_of_later_pages(
    engines: Engines, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anonymous visitors are named from their events: the first page's scan names
    those of the pages after it too, which then read no events."""
    monkeypatch.setattr(cache, "_BY_RUNNER", weakref.WeakKeyDictionary())
    scans: list[str] = []
    real = lookup._rows

    def counting(context: QueryContext, query: Any) -> Any:
        if "events" in {table.name for table in query.find_all(exp.Table)}:
            scans.append(query.sql())
        return real(context, query)

    monkeypatch.setattr(lookup, "_rows", counting)
    source = dict(SOURCES)["reached step 2"]
    visitors: list[dict[str, Any]] = []
    offset = 0
    while True:
        answer = _page(engines, engine, source, 3, offset)
        visitors.extend(row[0] for row in answer["results"] if row[0]["uuid"] is None)
        offset += 3
        if not answer["hasMore"]:
            break
    assert offset > 6, "too few pages"
    anonymous = {f"v{n:02d}" for n in range(0, 23, 4) if n % 3}
    assert {v["id"] for v in visitors} == anonymous
    assert all(v["distinct_ids"] == [v["id"]] and not v["is_identified"] for v in visitors)
    assert len(scans) == 1
