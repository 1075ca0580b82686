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

from tests.conftest import LiveServer, running_live_server
from tests.e2e.ui import Ui

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
# Two of the visitors of two days ago come back the next day (retention's day 1).
RETURNING = {"cy@example.com", "anon-3"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_live_server(tmp_path_factory.mktemp("ui") / "data") as live:
        send_events(live)
        yield live


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
                properties={
                    **anonymous,
                    "$browser": "Chrome" if i % 2 else "Firefox",
                    "$current_url": "https://shop.example/",
                },
                timestamp=began + timedelta(minutes=k * (5 + i)),
            )
        if who in RETURNING:
            client.capture(
                "came_back",
                distinct_id=who,
                properties={**anonymous, "amount": 5},
                timestamp=began + timedelta(days=1),
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
    expect(
        page.get_by_role("table", name="New insight as a table").locator("tbody tr")
    ).to_have_count(3)
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
        # The step's name, then its links to the paths of its actors.
        assert row[0].splitlines()[0] == f"{i + 1}. {step['name']}"
        assert row[1] == str(step["count"])
        assert row[2] == f"{step['count'] / first * 100:.1f}%".replace(".0%", "%")
        assert row[4] == (str(before - step["count"]) if i else "—")

    # The bar of those who reached step 2 opens them: persons and anonymous visitors.
    page.get_by_role("button", name="Converted, 2. signed_up: 3").click()
    actors = actors_dialog(clean, "Reached step 2: 2. signed_up")
    expected = ask(
        server,
        {
            "kind": "ActorsQuery",
            "source": {"kind": "FunnelsActorsQuery", "source": query, "funnelStep": 2},
        },
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
    expect(page.get_by_role("table", name="New insight as a table")).to_have_class(
        re.compile("ttc-table")
    )
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
    expect(tile.get_by_role("group", name="Signup funnel as a chart")).to_have_attribute(
        "data-state", "drawn"
    )
    tile.get_by_role("button", name="Converted, 3. purchase: 1").click()
    assert [a[2] for a in actors_dialog(clean, "Reached step 3: 3. purchase")] == [
        "ann@example.com"
    ]
    close_dialog(clean)
    clean.shot("insight-funnel-dashboard")


def test_funnel_empty_loading_and_error_states(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    nobody = {
        **FUNNEL,
        "series": [
            {"kind": "EventsNode", "event": "no_such_event"},
            {"kind": "EventsNode", "event": "signed_up"},
        ],
    }
    open_query(clean, server, nobody)
    page.get_by_text("Nobody entered this funnel").wait_for()
    clean.shot("insight-funnel-empty", full_page=False)

    with clean.holding("**/api/projects/*/query/"):
        open_query(clean, server, FUNNEL)
        page.get_by_role("status").filter(has_text="Running the query").wait_for()
        clean.shot("insight-funnel-loading", full_page=False)
    wait_drawn(clean, "New insight as a chart")

    # One step is not a funnel: the API's error is shown, with its words.
    clean.console.allowed.append("400 (Bad Request)")
    open_query(clean, server, {**FUNNEL, "series": FUNNEL["series"][:1]})
    page.get_by_role("alert").filter(has_text="This query did not run").wait_for()
    clean.shot("insight-funnel-error", full_page=False)


# -- trends: the actors behind a point ---------------------------------------------


def test_a_trend_points_actors_open_from_its_chart_and_its_table(
    clean: Ui, server: LiveServer
) -> None:
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
    page.wait_for_function("document.querySelector('.chart')?.dataset.state === 'drawn'")
    [result] = ask(server, trend)["results"]
    day = max(range(len(result["data"])), key=lambda i: result["data"][i])
    label, value = result["labels"][day], result["data"][day]
    # A point on the chart: its bucket's place along the plot area.
    over = page.locator(".chart .u-over")
    box = over.bounding_box()
    assert box is not None
    over.click(
        position={"x": box["width"] * day / (len(result["data"]) - 1), "y": box["height"] / 2}
    )
    from_chart = actors_dialog(clean, f"$pageview on {label}")
    assert len(from_chart) == value
    close_dialog(clean)
    page.get_by_role("button", name="Show as table").click()
    page.get_by_role("button", name=f"Actors of $pageview on {label}: {value}").click()
    actors = actors_dialog(clean, f"$pageview on {label}")
    assert len(actors) == value  # one pageview per visitor a day
    clean.shot("insight-trend-actors", full_page=False)
    close_dialog(clean)


# -- retention, lifecycle, stickiness, paths ----------------------------------------


def numbers(cells: list[str]) -> list[float]:
    return [float(c.replace(",", "").replace("\u2212", "-")) for c in cells]


def percent(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f}".removesuffix(".0") + "%" if whole else "0%"


def test_retention_cohorts_show_the_query_apis_numbers_and_a_cells_actors(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    clean.go(f"/project/{server.project_id}/insights/new")
    page.get_by_role("group", name="Insight kind").get_by_role("button", name="Retention").click()
    page.get_by_label("Event of return").fill("came_back")
    table = page.get_by_role("table", name="New insight as a table")
    expect(table.get_by_role("button", name=re.compile(r", Day 1: 2$"))).to_have_count(1)
    query = shown_query(clean)
    assert query["kind"] == "RetentionQuery"
    assert query["retentionFilter"]["returningEntity"]["id"] == "came_back"
    rows = ask(server, query)["results"]
    shown = table_rows(clean, "New insight as a table")
    assert len(shown) == len(rows)
    for cells, row in zip(shown, rows, strict=True):
        size = row["values"][0]["count"]
        assert cells[1] == str(size)
        assert cells[2:] == [percent(v["count"], size) for v in row["values"]]
    clean.shot("insight-retention")

    # Day 1 of the cohort of two days ago: cy and the anonymous anon-3 came back.
    table.get_by_role("button", name=re.compile(r", Day 1: 2$")).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    title = dialog.get_by_role("heading").inner_text()
    actors = actors_dialog(clean, title)
    assert {a[2]: a[1] for a in actors} == {"cy@example.com": "Identified", "anon-3": "Anonymous"}
    clean.shot("insight-retention-actors", full_page=False)
    close_dialog(clean)


def shown_number(value: float) -> str:
    """A number as the UI's formatNumber writes it."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


def test_retention_options_of_the_query_api_in_the_builder(clean: Ui, server: LiveServer) -> None:
    """Property sums, 24-hour windows and custom brackets, as the API answers them."""
    page = clean.page
    clean.go(f"/project/{server.project_id}/insights/new")
    page.get_by_role("group", name="Insight kind").get_by_role("button", name="Retention").click()
    page.get_by_label("Event of return").fill("came_back")
    page.get_by_label("Measure").select_option("sum")
    page.get_by_label("Property", exact=True).fill("amount")
    page.get_by_label("Property", exact=True).press("Tab")
    page.wait_for_function("location.hash.includes('aggregationProperty')")
    table = page.get_by_role("table", name="New insight as a table")
    # cy and anon-3 came back a day after their cohort's pageview, each with amount 5.
    expect(table.get_by_role("button", name=re.compile(r", Day 1: 2$"))).to_have_count(1)
    query = shown_query(clean)
    assert query["retentionFilter"]["aggregationType"] == "sum"
    assert query["retentionFilter"]["aggregationProperty"] == "amount"
    rows = ask(server, query)["results"]
    expect(table.get_by_role("button", name=re.compile(r", Day 1: 2$"))).to_have_text("10")
    shown = table_rows(clean, "New insight as a table")
    assert len(shown) == len(rows)
    for cells, row in zip(shown, rows, strict=True):
        assert cells[1] == str(row["values"][0]["count"])
        assert cells[2:] == [shown_number(v["aggregation_value"]) for v in row["values"]]
    clean.shot("insight-retention-sum")

    page.get_by_label("Measure").select_option("count")
    page.get_by_label("Periods counted as").select_option("24_hour_windows")
    page.get_by_label("Custom brackets").fill("1, 2")
    page.get_by_label("Custom brackets").press("Tab")
    page.wait_for_function("location.hash.includes('retentionCustomBrackets')")
    expect(table.get_by_role("columnheader", name="Day 2-3")).to_have_count(1)
    query = shown_query(clean)
    assert query["retentionFilter"]["timeWindowMode"] == "24_hour_windows"
    assert query["retentionFilter"]["retentionCustomBrackets"] == [1, 2]
    assert "aggregationType" not in query["retentionFilter"]
    rows = ask(server, query)["results"]
    headers = table.locator("thead th").all_inner_texts()
    assert headers[2:] == [v["label"] for v in rows[0]["values"]]
    for cells, row in zip(table_rows(clean, "New insight as a table"), rows, strict=True):
        size = row["values"][0]["count"]
        assert cells[2:] == [percent(v["count"], size) for v in row["values"]]
    clean.shot("insight-retention-brackets")


def test_paths_by_a_hogql_expression_from_the_builder(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    clean.go(f"/project/{server.project_id}/insights/new")
    page.get_by_role("group", name="Insight kind").get_by_role("button", name="Paths").click()
    page.get_by_label("Pageviews (by URL)").uncheck()
    page.get_by_label("An expression (HogQL)").check()
    page.get_by_label("Step expression").fill("upper(event)")
    page.get_by_label("Step expression").press("Tab")
    page.get_by_label("Apply the project's path cleaning rules").check()
    # The address holds the query once the builder has taken the change in.
    page.wait_for_function("location.hash.includes('pathReplacements')")
    query = shown_query(clean)
    assert query["pathsFilter"]["includeEventTypes"] == ["hogql"]
    assert query["pathsFilter"]["pathsHogQLExpression"] == "upper(event)"
    assert query["pathsFilter"]["pathReplacements"] is True
    edges = ask(server, query)["results"]
    assert ("1_$PAGEVIEW", "2_SIGNED_UP") in {(e["source"], e["target"]) for e in edges}
    chart = wait_drawn(clean, "New insight as a chart")
    expect(chart.get_by_role("button", name="$PAGEVIEW → SIGNED_UP")).to_have_count(1)
    shown = [(r[0], r[1], int(r[2])) for r in table_rows(clean, "New insight as a table")]
    assert shown == [(e["source"], e["target"], e["value"]) for e in edges]
    clean.shot("insight-paths-hogql")


def test_a_funnel_step_opens_the_paths_of_its_actors(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    open_query(clean, server, FUNNEL)
    page.get_by_role("link", name="Paths after step 2").click()
    # The same page follows the link's query: the paths builder replaces the funnel's.
    page.get_by_role("form", name="Paths builder").wait_for()
    query = shown_query(clean)
    assert query["kind"] == "PathsQuery"
    funnel = query["funnelPathsFilter"]
    assert (funnel["funnelPathType"], funnel["funnelStep"]) == ("funnel_path_after_step", 2)
    assert [s["event"] for s in funnel["funnelSource"]["series"]] == STEPS
    expect(page.get_by_label("Funnel step")).to_have_value("2")
    edges = ask(server, query)["results"]
    # From each sign-up on: ann went on to buy.
    assert ("1_signed_up", "2_purchase") in {(e["source"], e["target"]) for e in edges}
    # The table once it shows this answer: each row its edge (cells' text run together).
    rows = page.get_by_role("table", name="New insight as a table").locator("tbody tr")
    expect(rows).to_contain_text([f"{e['source']}{e['target']}{e['value']}" for e in edges])
    chart = wait_drawn(clean, "New insight as a chart")
    shown = [(r[0], r[1], int(r[2])) for r in table_rows(clean, "New insight as a table")]
    assert shown == [(e["source"], e["target"], e["value"]) for e in edges]
    expect(chart).to_be_visible()
    clean.shot("insight-funnel-paths")

    page.get_by_label("Paths", exact=True).select_option("funnel_path_before_step")
    page.get_by_label("Funnel step").fill("-3")
    page.get_by_label("Funnel step").press("Tab")
    page.wait_for_function("location.hash.includes('funnel_path_before_step')")
    page.wait_for_function("location.hash.includes('%22funnelStep%22%3A-3')")
    query = shown_query(clean)
    edges = ask(server, query)["results"]
    # Up to their last step: bo and anon-1 came by the home page and signed up, not buying.
    assert {(e["source"], e["target"], e["value"]) for e in edges} >= {
        ("1_https://shop.example", "2_signed_up", 2)
    }
    expect(rows).to_contain_text([f"{e['source']}{e['target']}{e['value']}" for e in edges])
    shown = [(r[0], r[1], int(r[2])) for r in table_rows(clean, "New insight as a table")]
    assert shown == [(e["source"], e["target"], e["value"]) for e in edges]
    page.get_by_role("button", name="Show everyone's paths instead").click()
    page.wait_for_function("!location.hash.includes('funnelPathsFilter')")


def test_lifecycle_bars_show_the_query_apis_numbers_with_dormant_below_zero(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    clean.go(f"/project/{server.project_id}/insights/new")
    page.get_by_role("group", name="Insight kind").get_by_role("button", name="Lifecycle").click()
    page.get_by_label("Event of activity").fill("$pageview")
    chart = wait_drawn(clean, "New insight as a chart")
    query = shown_query(clean)
    assert query["kind"] == "LifecycleQuery"
    results = ask(server, query)["results"]
    assert [r["status"] for r in results] == ["new", "returning", "resurrecting", "dormant"]
    expect(
        page.get_by_role("table", name="New insight as a table").locator("tbody tr")
    ).to_have_count(4)
    shown = {r[0]: numbers(r[1:]) for r in table_rows(clean, "New insight as a table")}
    assert shown == {r["label"]: [r["count"], *r["data"]] for r in results}
    dormant = next(r for r in results if r["status"] == "dormant")
    assert min(dormant["data"]) < 0
    clean.shot("insight-lifecycle")

    new = next(r for r in results if r["status"] == "new")
    day = max(range(len(new["data"])), key=lambda i: new["data"][i])
    count = int(new["data"][day])
    chart.get_by_role("button", name=re.compile(rf"^new, .*: {count}$")).nth(0).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    actors = actors_dialog(clean, dialog.get_by_role("heading").inner_text())
    assert len(actors) == count
    close_dialog(clean)
    # A dormant bar hangs below zero and opens those who went quiet.
    chart.get_by_role("button", name=re.compile(r"^dormant, ")).first.click()
    dialog.wait_for()
    assert actors_dialog(clean, dialog.get_by_role("heading").inner_text())
    clean.shot("insight-lifecycle-actors", full_page=False)
    close_dialog(clean)


def test_stickiness_bars_show_the_query_apis_numbers_and_their_actors(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    clean.go(f"/project/{server.project_id}/insights/new")
    page.get_by_role("group", name="Insight kind").get_by_role("button", name="Stickiness").click()
    chart = wait_drawn(clean, "New insight as a chart")
    query = shown_query(clean)
    assert query["kind"] == "StickinessQuery"
    [result] = ask(server, query)["results"]
    [row] = table_rows(clean, "New insight as a table")
    assert numbers(row[1:]) == [result["count"], *result["data"]]
    assert result["data"][0] == len(VISITORS)  # everyone was active on one day
    clean.shot("insight-stickiness")
    chart.get_by_role("button", name=re.compile(r", 1 day: 6$")).click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    actors = actors_dialog(clean, dialog.get_by_role("heading").inner_text())
    assert sorted(a[2] for a in actors) == sorted(VISITORS)
    assert sum(a[1] == "Anonymous" for a in actors) == 3
    close_dialog(clean)


def test_paths_draw_a_sankey_whose_edges_open_their_actors(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    clean.go(f"/project/{server.project_id}/insights/new")
    page.get_by_role("group", name="Insight kind").get_by_role("button", name="Paths").click()
    page.get_by_label("Custom events").check()
    chart = wait_drawn(clean, "New insight as a chart")
    expect(chart.get_by_role("button", name=re.compile(r"signed_up → purchase"))).to_have_count(1)
    query = shown_query(clean)
    assert query["pathsFilter"]["includeEventTypes"] == ["$pageview", "custom_event"]
    edges = ask(server, query)["results"]
    shown = [(r[0], r[1], int(r[2])) for r in table_rows(clean, "New insight as a table")]
    assert shown == [(e["source"], e["target"], e["value"]) for e in edges]
    assert ("1_https://shop.example", "2_signed_up", 3) in shown
    clean.shot("insight-paths")
    chart.get_by_role("button", name="https://shop.example → signed_up").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    actors = actors_dialog(clean, dialog.get_by_role("heading").inner_text())
    edge = {
        **query["pathsFilter"],
        "pathStartKey": "1_https://shop.example",
        "pathEndKey": "2_signed_up",
    }
    expected = ask(
        server,
        {
            "kind": "ActorsQuery",
            "source": {"kind": "InsightActorsQuery", "source": {**query, "pathsFilter": edge}},
        },
    )["results"]
    assert sorted(a[2] for a in actors) == sorted(a[0]["distinct_ids"][0] for a in expected)
    assert sorted(a[2] for a in actors) == ["ann@example.com", "anon-1", "bo@example.com"]
    clean.shot("insight-paths-actors", full_page=False)
    close_dialog(clean)

    # A node opens those whose path ends there: bo and anon-1 signed up and left.
    chart.get_by_role("button", name="Who left at signed_up, step 2").click()
    left = actors_dialog(clean, "Left at signed_up (step 2)")
    dropoff = {**query["pathsFilter"], "pathDropoffKey": "2_signed_up"}
    expected = ask(
        server,
        {
            "kind": "ActorsQuery",
            "source": {"kind": "InsightActorsQuery", "source": {**query, "pathsFilter": dropoff}},
        },
    )["results"]
    assert sorted(a[2] for a in left) == sorted(a[0]["distinct_ids"][0] for a in expected)
    assert sorted(a[2] for a in left) == ["anon-1", "bo@example.com"]
    clean.shot("insight-paths-left", full_page=False)
    close_dialog(clean)


@pytest.mark.parametrize(
    "kind", ["RetentionQuery", "LifecycleQuery", "StickinessQuery", "PathsQuery"]
)
def test_each_kind_says_when_there_is_nothing_to_show(
    clean: Ui, server: LiveServer, kind: str
) -> None:
    nothing = {
        "RetentionQuery": {
            "kind": kind,
            "retentionFilter": {"targetEntity": {"id": "no_such_event", "type": "events"}},
        },
        "LifecycleQuery": {
            "kind": kind,
            "series": [{"kind": "EventsNode", "event": "no_such_event"}],
        },
        "StickinessQuery": {
            "kind": kind,
            "series": [{"kind": "EventsNode", "event": "no_such_event"}],
        },
        "PathsQuery": {"kind": kind, "pathsFilter": {"includeEventTypes": ["$screen"]}},
    }[kind]
    open_query(clean, server, {**nothing, "dateRange": {"date_from": "-7d", "date_to": None}})
    clean.page.locator(".state.empty").wait_for()
    clean.shot(f"insight-{kind.removesuffix('Query').lower()}-empty", full_page=False)


def test_every_kind_saved_is_drawn_on_a_dashboard(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    names = {
        "Retention": "Retention",
        "Lifecycle": "Lifecycle",
        "Stickiness": "Stickiness",
        "Paths": "Paths",
    }
    with server.api() as owner:
        board = owner.post(
            f"/api/projects/{server.project_id}/dashboards/", json={"name": "Kinds"}
        ).json()
    for label, name in names.items():
        clean.go(f"/project/{server.project_id}/insights/new")
        page.get_by_role("group", name="Insight kind").get_by_role("button", name=label).click()
        if label == "Paths":  # one pageview each: the paths are in the custom events
            page.get_by_label("Custom events").check()
        elif label == "Retention":
            page.get_by_label("Event of return").fill("came_back")
        page.get_by_label("Insight name").fill(name)
        page.get_by_role("button", name="Save insight").click()
        page.wait_for_url(re.compile(r".*/insights/[A-Za-z0-9]{8}.*"))
        page.get_by_label("Add to dashboard").select_option(label="Kinds")
        page.get_by_role("button", name="Add to dashboard").click()
        page.get_by_role("link", name="Kinds").wait_for()
    clean.go(f"/project/{server.project_id}/dashboard/{board['id']}")
    for name in names.values():
        tile = page.get_by_role("article", name=name, exact=True)
        drawn = tile.locator("[data-state=drawn]")
        expect(drawn).to_have_count(1)
    clean.shot("insight-kinds-dashboard")


BAD = {
    "RetentionQuery": {"retentionFilter": {"period": "Fortnight"}},
    "LifecycleQuery": {
        "series": [{"kind": "EventsNode", "event": "$pageview"}],
        "interval": "fortnight",
    },
    "StickinessQuery": {
        "series": [{"kind": "EventsNode", "event": "$pageview"}],
        "interval": "fortnight",
    },
    "PathsQuery": {"pathsFilter": {"includeEventTypes": ["no_such_type"]}},
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_each_kind_shows_the_apis_error_in_its_words(
    clean: Ui, server: LiveServer, kind: str
) -> None:
    query = {"kind": kind, **BAD[kind]}
    with server.api() as owner:
        refused = owner.post(f"/api/projects/{server.project_id}/query/", json={"query": query})
    assert refused.status_code == 400, refused.text
    clean.console.allowed.append("400 (Bad Request)")
    open_query(clean, server, query)
    alert = clean.page.get_by_role("alert").filter(has_text="This query did not run")
    alert.get_by_text(refused.json()["detail"], exact=True).wait_for()
    clean.shot(f"insight-{kind.removesuffix('Query').lower()}-error", full_page=False)


def test_a_funnel_broken_down_shows_each_values_steps(clean: Ui, server: LiveServer) -> None:
    query = {**FUNNEL, "breakdownFilter": {"breakdown": "$browser", "breakdown_type": "event"}}
    open_query(clean, server, query)
    chart = wait_drawn(clean, "New insight as a chart")
    groups = ask(server, query)["results"]
    shown = table_rows(clean, "New insight as a table")
    expected = [
        [str(step["breakdown_value"][0]), f"{i + 1}. {step['name']}", str(step["count"])]
        for steps in groups
        for i, step in enumerate(steps)
    ]
    assert [[r[1], r[0], r[2]] for r in shown] == expected
    clean.shot("insight-funnel-breakdown")
    firefox = next(steps for steps in groups if steps[0]["breakdown_value"] == ["Firefox"])
    chart.get_by_role("button", name=f"Firefox, 1. $pageview: {firefox[0]['count']}").click()
    dialog = clean.page.get_by_role("dialog")
    dialog.wait_for()
    actors = actors_dialog(clean, dialog.get_by_role("heading").inner_text())
    expected_actors = ask(
        server,
        {
            "kind": "ActorsQuery",
            "source": {
                "kind": "FunnelsActorsQuery",
                "source": query,
                "funnelStep": 1,
                "funnelStepBreakdown": ["Firefox"],
            },
        },
    )["results"]
    assert sorted(a[2] for a in actors) == sorted(a[0]["distinct_ids"][0] for a in expected_actors)
    # Firefox is the even visitors: ann, cy and the anonymous anon-2.
    assert firefox[0]["count"] == 3, firefox
    assert sorted(a[2] for a in actors) == ["ann@example.com", "anon-2", "cy@example.com"]
    close_dialog(clean)


def test_the_actors_of_every_number_include_its_anonymous_visitors(server: LiveServer) -> None:
    paths = {
        "kind": "PathsQuery",
        "dateRange": {"date_from": "-7d", "date_to": None},
        "pathsFilter": {
            "includeEventTypes": ["$pageview", "custom_event"],
            "pathStartKey": "1_https://shop.example",
            "pathEndKey": "2_signed_up",
        },
    }
    broken = {**FUNNEL, "breakdownFilter": {"breakdown": "$browser", "breakdown_type": "event"}}
    sources = [
        {"kind": "InsightActorsQuery", "source": paths},
        {
            "kind": "FunnelsActorsQuery",
            "source": broken,
            "funnelStep": 1,
            "funnelStepBreakdown": ["Firefox"],
        },
    ]
    found = [
        sorted(
            a[0]["distinct_ids"][0]
            for a in ask(server, {"kind": "ActorsQuery", "source": s})["results"]
        )
        for s in sources
    ]
    # Sorted as text: "ann@…" comes before "anon-…".
    assert found == [
        ["ann@example.com", "anon-1", "bo@example.com"],
        ["ann@example.com", "anon-2", "cy@example.com"],
    ]


def test_the_actors_list_goes_page_by_page(clean: Ui, server: LiveServer) -> None:
    client = Posthog(server.token, host=server.url, sync_mode=True)
    for i in range(25):
        client.capture(
            "browsed", distinct_id=f"reader-{i:02}", properties={"$process_person_profile": False}
        )
    client.flush()
    server.settle()
    trend = {
        "kind": "TrendsQuery",
        "series": [{"kind": "EventsNode", "event": "browsed", "math": "total"}],
        "interval": "day",
        "dateRange": {"date_from": "-7d", "date_to": None},
    }
    open_query(clean, server, trend)
    clean.page.get_by_role("button", name="Show as table").click()
    clean.page.get_by_role("button", name=re.compile(r"^Actors of browsed on .*: 25$")).click()
    dialog = clean.page.get_by_role("dialog")
    dialog.wait_for()
    first = actors_dialog(clean, dialog.get_by_role("heading").inner_text())
    assert len(first) == 20
    assert {a[1] for a in first} == {"Anonymous"}
    dialog.get_by_role("button", name="Next page").click()
    expect(dialog.get_by_text("21–25")).to_be_visible()
    second = actors_dialog(clean, dialog.get_by_role("heading").inner_text())
    # Pages follow the actors' ids: together, every reader once.
    assert sorted(a[2] for a in first + second) == [f"reader-{i:02}" for i in range(25)]
    expect(dialog.get_by_role("button", name="Next page")).to_be_disabled()
    clean.shot("insight-actors-page-2", full_page=False)
    dialog.get_by_role("button", name="Previous page").click()
    expect(dialog.get_by_text("1–20")).to_be_visible()
    close_dialog(clean)
