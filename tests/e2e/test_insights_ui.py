"""Insight charts in Magpie's web UI, in Debian's Chromium against a live Magpie,
with events sent by the official posthog-python through the capture API: each
kind built from the kind switcher, drawn, its table holding the query API's
numbers, the actors behind a number opened (anonymous visitors marked), saved
to a dashboard; empty, loading and error states; no console error.

Screenshots of every state go to test-artifacts/ui/insight-*.png.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from posthog import Posthog

from tests.conftest import LiveServer, start_live_server
from tests.e2e.ui import Ui, chromium, open_ui, sign_up

# distinct id → how many funnel steps it does; "anon-" ids send personless events.
VISITORS = {
    "ann@example.com": 3,
    "bo@example.com": 2,
    "cy@example.com": 1,
    "anon-1": 2,
    "anon-2": 1,
    "anon-3": 1,
}
STEPS = ["$pageview", "signed_up", "purchase"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live, uvicorn_server, thread = start_live_server(tmp_path_factory.mktemp("ui") / "data")
    send_events(live)
    yield live
    uvicorn_server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def ui(browser: Any, server: LiveServer) -> Iterator[Ui]:
    opened = open_ui(browser, server)
    sign_up(opened)
    yield opened
    opened.context.close()


@pytest.fixture
def clean(ui: Ui) -> Iterator[Ui]:
    """No console error during the test."""
    ui.console.errors.clear()
    ui.console.allowed.clear()
    yield ui
    assert ui.console.problems() == []


def send_events(server: LiveServer) -> None:
    client = Posthog(server.token, host=server.url, sync_mode=True)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    for i, (who, reached) in enumerate(VISITORS.items()):
        anonymous = {"$process_person_profile": False} if who.startswith("anon-") else {}
        began = start - timedelta(days=i % 3)
        for k in range(reached):
            client.capture(
                STEPS[k],
                distinct_id=who,
                properties={**anonymous, "$browser": "Chrome" if i % 2 else "Firefox"},
                timestamp=began + timedelta(minutes=k * (5 + i)),
            )
    client.flush()
    server.settle()


def ask(server: LiveServer, query: dict[str, Any]) -> Any:
    with server.api() as owner:
        answer = owner.post(f"/api/projects/{server.project_id}/query/", json={"query": query})
    assert answer.status_code == 200, answer.text
    return answer.json()


def shown_query(ui: Ui) -> dict[str, Any]:
    return dict(json.loads(urllib.parse.unquote(ui.page.evaluate("location.hash")[3:])))


def table_rows(ui: Ui, name: str) -> list[list[str]]:
    table = ui.page.get_by_role("table", name=name)
    table.wait_for()
    return [
        [row.locator("th").inner_text(), *row.locator("td").all_inner_texts()]
        for row in table.locator("tbody tr").all()
    ]


def wait_drawn(ui: Ui, name: str) -> Any:
    chart = ui.page.get_by_role("group", name=name)
    expect(chart).to_have_attribute("data-state", "drawn")
    return chart


def actors_dialog(ui: Ui, title: str) -> list[list[str]]:
    dialog = ui.page.get_by_role("dialog", name=title)
    dialog.wait_for()
    table = dialog.get_by_role("table")
    table.wait_for()
    return [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]


def close_dialog(ui: Ui) -> None:
    ui.page.get_by_role("dialog").get_by_role("button", name="Close").click()
    expect(ui.page.get_by_role("dialog")).to_have_count(0)


def open_query(ui: Ui, server: LiveServer, query: dict[str, Any]) -> None:
    """A fresh load of the insight page on ``query`` (not a change of the hash only)."""
    ui.page.goto("about:blank")
    ui.go(f"/project/{server.project_id}/insights/new#q={urllib.parse.quote(json.dumps(query))}")


FUNNEL = {
    "kind": "FunnelsQuery",
    "series": [{"kind": "EventsNode", "event": e} for e in STEPS],
    "dateRange": {"date_from": "-30d", "date_to": None},
    "funnelsFilter": {
        "funnelVizType": "steps",
        "funnelOrderType": "ordered",
        "funnelWindowInterval": 14,
        "funnelWindowIntervalUnit": "day",
    },
}


# -- funnels ---------------------------------------------------------------------


def test_a_funnel_built_in_the_ui_shows_the_query_apis_steps_and_their_actors(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    clean.go(f"/project/{server.project_id}/insights/new")
    page.get_by_role("group", name="Insight kind").get_by_role("button", name="Funnels").click()
    page.get_by_label("Event of step 1").fill("$pageview")
    page.get_by_label("Event of step 2").fill("signed_up")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Event of step 3").fill("purchase")
    expect(page.get_by_role("table", name="New insight as a table").locator("tbody tr")).to_have_count(3)
    wait_drawn(clean, "New insight as a chart")
    expect(page.get_by_role("row").filter(has_text="3. purchase")).to_have_count(1)
    query = shown_query(clean)
    assert query["kind"] == "FunnelsQuery" and [s["event"] for s in query["series"]] == STEPS
    clean.shot("insight-funnel-steps")

    steps = ask(server, query)["results"]
    assert [s["count"] for s in steps] == [6, 3, 1]
    rows = table_rows(clean, "New insight as a table")
    first = steps[0]["count"]
    for i, (row, step) in enumerate(zip(rows, steps, strict=True)):
        before = steps[i - 1]["count"] if i else step["count"]
        assert row[0] == f"{i + 1}. {step['name']}"
        assert row[1] == str(step["count"])
        assert row[2] == f"{step['count'] / first * 100:.1f}%".replace(".0%", "%")
        assert row[4] == (str(before - step["count"]) if i else "—")

    # The bar of those who reached step 2 opens them: persons and anonymous visitors.
    page.get_by_role("button", name="Converted, 2. signed_up: 3").click()
    actors = actors_dialog(clean, "Reached step 2: 2. signed_up")
    expected = ask(
        server,
        {"kind": "ActorsQuery", "source": {"kind": "FunnelsActorsQuery", "source": query, "funnelStep": 2}},
    )["results"]
    assert sorted(a[2] for a in actors) == sorted(a[0]["distinct_ids"][0] for a in expected)
    assert {a[2]: a[1] for a in actors} == {
        "ann@example.com": "Identified",
        "bo@example.com": "Identified",
        "anon-1": "Anonymous",
    }
    clean.shot("insight-funnel-actors", full_page=False)
    close_dialog(clean)

    # The table's drop-off count opens those who left before step 3.
    page.get_by_role("button", name="Dropped off before step 3: 2").click()
    dropped = actors_dialog(clean, "Dropped off before step 3: 3. purchase")
    assert sorted(a[2] for a in dropped) == ["anon-1", "bo@example.com"]
    close_dialog(clean)


def test_time_to_convert_and_conversion_over_time_show_the_query_apis_numbers(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    open_query(clean, server, FUNNEL)
    wait_drawn(clean, "New insight as a chart")
    page.get_by_label("Funnel view").select_option("time_to_convert")
    expect(page.get_by_role("table", name="New insight as a table")).to_have_class(re.compile("ttc-table"))
    wait_drawn(clean, "New insight as a chart")
    query = shown_query(clean)
    bins = ask(server, query)["results"]["bins"]
    rows = table_rows(clean, "New insight as a table")
    assert [(int(r[1].replace(",", "")), int(r[2])) for r in rows] == [(s, n) for s, n in bins]
    assert sum(n for _, n in bins) == 1  # only ann reached the last step
    clean.shot("insight-funnel-time-to-convert")

    page.get_by_label("Funnel view").select_option("trends")
    page.get_by_role("img", name="New insight as a chart").wait_for()
    page.wait_for_function("document.querySelector('.chart')?.dataset.state === 'drawn'")
    query = shown_query(clean)
    assert query["funnelsFilter"]["funnelVizType"] == "trends"
    [trend] = ask(server, query)["results"]
    rows = table_rows(clean, "New insight as a table")
    assert len(rows) == 1
    assert [float(cell.replace(",", "")) for cell in rows[0][1:]] == trend["data"]
    assert 50.0 in trend["data"]  # ann (of two who entered that day) bought
    clean.shot("insight-funnel-trends")


def test_a_saved_funnel_is_drawn_on_a_dashboard(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    open_query(clean, server, FUNNEL)
    wait_drawn(clean, "New insight as a chart")
    page.get_by_label("Insight name").fill("Signup funnel")
    page.get_by_role("button", name="Save insight").click()
    page.wait_for_url(re.compile(rf".*/project/{server.project_id}/insights/[A-Za-z0-9]{{8}}.*"))
    page.get_by_label("Add to dashboard").select_option(label="Web analytics")
    page.get_by_role("button", name="Add to dashboard").click()
    page.get_by_role("link", name="Web analytics").click()
    page.wait_for_url(re.compile(r".*/dashboard/\d+"))
    page.reload()
    tile = page.get_by_role("article", name="Signup funnel")
    expect(tile.get_by_role("group", name="Signup funnel as a chart")).to_have_attribute("data-state", "drawn")
    tile.get_by_role("button", name="Converted, 3. purchase: 1").click()
    assert [a[2] for a in actors_dialog(clean, "Reached step 3: 3. purchase")] == ["ann@example.com"]
    close_dialog(clean)
    clean.shot("insight-funnel-dashboard")


def test_funnel_empty_loading_and_error_states(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    nobody = {**FUNNEL, "series": [{"kind": "EventsNode", "event": "no_such_event"}, {"kind": "EventsNode", "event": "signed_up"}]}
    open_query(clean, server, nobody)
    page.get_by_text("Nobody entered this funnel").wait_for()
    clean.shot("insight-funnel-empty", full_page=False)

    held: list[Any] = []
    page.route("**/api/projects/*/query/", lambda route: held.append(route))
    open_query(clean, server, FUNNEL)
    page.get_by_role("status").filter(has_text="Running the query").wait_for()
    clean.shot("insight-funnel-loading", full_page=False)
    for route in held:
        route.continue_()
    page.unroute("**/api/projects/*/query/")
    wait_drawn(clean, "New insight as a chart")

    # One step is not a funnel: the API's error is shown, with its words.
    clean.console.allowed.append("400 (Bad Request)")
    open_query(clean, server, {**FUNNEL, "series": FUNNEL["series"][:1]})
    page.get_by_role("alert").filter(has_text="This query did not run").wait_for()
    clean.shot("insight-funnel-error", full_page=False)


# -- trends: the actors behind a point ---------------------------------------------


def test_a_trend_points_actors_open_from_its_table(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    trend = {
        "kind": "TrendsQuery",
        "series": [{"kind": "EventsNode", "event": "$pageview", "math": "total"}],
        "interval": "day",
        "dateRange": {"date_from": "-7d", "date_to": None},
        "trendsFilter": {"display": "ActionsLineGraph"},
    }
    open_query(clean, server, trend)
    page.get_by_role("img", name="New insight as a chart").wait_for()
    page.get_by_role("button", name="Show as table").click()
    [result] = ask(server, trend)["results"]
    day = max(range(len(result["data"])), key=lambda i: result["data"][i])
    label, value = result["labels"][day], result["data"][day]
    page.get_by_role("button", name=f"Actors of $pageview on {label}: {value}").click()
    actors = actors_dialog(clean, f"$pageview on {label}")
    assert len(actors) == value  # one pageview per visitor a day
    clean.shot("insight-trend-actors", full_page=False)
    close_dialog(clean)
