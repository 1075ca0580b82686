"""What the insight tests share: sending an event at a time, and running one query on
both engines, which must agree before the answer is compared with the expectation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from magpie.query.context import QueryContext
from magpie.query.kinds import run_query
from tests.golden.compare import plain
from tests.golden.conftest import Engines
from tests.harness import Ingest


def at(day: int, hour: int = 12, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def send_at(
    ingest: Ingest,
    when: datetime,
    name: str,
    distinct_id: str,
    *,
    anonymous: bool = False,
    **props: Any,
) -> None:
    ingest.clock = when - timedelta(seconds=1)
    ingest.send(ingest.event(name, distinct_id, anonymous=anonymous, **props))


def on_both(
    engines: Engines, payload: dict[str, Any], now: datetime, project_id: int
) -> dict[str, Any]:
    """The answer both engines gave (they must give the same), or the error both raised."""
    duck = engines.run("duckdb", payload, now, project_id)
    house = engines.run("clickhouse", payload, now, project_id)
    assert duck.error == house.error
    if duck.value is None or house.value is None:
        assert duck.error is not None
        return {"error": duck.error}
    assert plain(duck.value["results"]) == plain(house.value["results"])
    return duck.value


def actors_on_both(
    engines: Engines, find: Callable[[QueryContext], list[str]], now: datetime, project_id: int
) -> set[str]:
    """The actors ``find`` names on both engines (the same on each), each as its distinct
    ids joined by '+'."""
    found = {}
    for engine, runner in engines.runners.items():
        project = engines.ingest.magpie.projects.get(project_id)
        assert project is not None
        context = QueryContext(project, runner, now, actions=engines.ingest.magpie.stores.actions)
        names = _names(context)
        found[engine] = {names.get(actor, actor) for actor in find(context)}
    assert found["duckdb"] == found["clickhouse"]
    return found["duckdb"]


def _names(context: QueryContext) -> dict[str, str]:
    query = "SELECT toString(person_id), groupUniqArray(distinct_id) FROM events GROUP BY 1"
    rows = run_query({"kind": "HogQLQuery", "query": query}, context)["results"]
    return {str(actor): "+".join(sorted(ids)) for actor, ids in rows}


def actors_page(
    engines: Engines, insight: dict[str, Any], now: datetime, project_id: int, **point: Any
) -> list[str] | dict[str, Any]:
    """An ActorsQuery for one number of ``insight`` on both engines: the actors'
    first distinct ids, in page order (or the error both gave)."""
    payload = {
        "kind": "ActorsQuery",
        "select": ["distinct_id"],
        "source": {"kind": "InsightActorsQuery", "source": insight, **point},
    }
    answer = on_both(engines, payload, now, project_id)
    if "error" in answer:
        return answer
    return sorted(row[0] for row in answer["results"])
