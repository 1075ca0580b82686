"""Action pages in Magpie's web UI, in Debian's Chromium against a live Magpie, with
events sent by the official posthog-python: the empty list; an action of two
steps made in the editor, listed with a summary of its steps; its 30-day count
the query API's; a step the API refuses, shown with the API's words beside the
field; the action picked as a trend series, a funnel step, retention's cohort
and returning entities, a stickiness series and lifecycle's activity, their
numbers the query API's; delete; loading, error and missing states; no console error.

Screenshots go to test-artifacts/ui/action-*.png.
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
from tests.e2e.ui import Ui, json_answer

NAME = "Bought or saw pricing"
# distinct id → the pages it viewed and how many purchases it made; "anon-" ids
# send personless events.
VISITORS: dict[str, tuple[list[str], int]] = {
    "ann@example.com": (["https://shop.example/pricing", "https://shop.example/docs"], 2),
    "bo@example.com": (["https://shop.example/docs"], 1),
    "cy@example.com": (["https://shop.example/pricing/teams"], 0),
    "anon-1": (["https://shop.example/pricing"], 0),
}
# In the action and in the last 30 days: 3 purchases and 3 pricing pageviews.
MATCHED = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_live_server(tmp_path_factory.mktemp("ui") / "data") as live:
        client = Posthog(live.token, host=live.url, sync_mode=True)
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        for who, (pages, purchases) in VISITORS.items():
            anonymous = {"$process_person_profile": False} if who.startswith("anon-") else {}
            for url in pages:
                client.capture(
                    "$pageview",
                    distinct_id=who,
                    properties={**anonymous, "$current_url": url},
                    timestamp=now,
                )
            for _ in range(purchases):
                client.capture("purchase", distinct_id=who, properties=anonymous, timestamp=now)
        # A purchase 40 days ago: the action's, but not in its last 30 days.
        client.capture("purchase", distinct_id="bo@example.com", timestamp=now - timedelta(days=40))
        client.flush()
        live.settle(timeout=60)
        yield live


def ask(server: LiveServer, query: dict[str, Any]) -> Any:
    answer = server.project_request("POST", "/query/", {"query": query})
    assert answer.status_code == 200, answer.text
    return answer.json()


def action_trend(action: dict[str, Any], display: str = "BoldNumber") -> dict[str, Any]:
    series = {"kind": "ActionsNode", "id": action["id"], "name": action["name"], "math": "total"}
    return {
        "kind": "TrendsQuery",
        "series": [series],
        "interval": "day",
        "dateRange": {"date_from": "-30d", "date_to": None},
        "trendsFilter": {"display": display},
    }


def the_action(server: LiveServer) -> dict[str, Any]:
    listed = server.project_request("GET", "/actions/").json()["results"]
    [found] = [a for a in listed if a["name"] == NAME]
    return dict(found)


def shown_query(ui: Ui) -> dict[str, Any]:
    return dict(json.loads(urllib.parse.unquote(ui.page.evaluate("location.hash")[3:])))


def table_texts(ui: Ui, name: str) -> list[list[str]]:
    table = ui.page.get_by_role("table", name=name, exact=True)
    table.wait_for()
    return [row.locator("th, td").all_inner_texts() for row in table.locator("tbody tr").all()]


def new_insight_of(ui: Ui, server: LiveServer, kind: str) -> None:
    ui.go(f"/project/{server.project_id}/insights/new")
    ui.page.get_by_role("group", name="Insight kind").get_by_role("button", name=kind).click()


def choose_action(ui: Ui, entity: str) -> None:
    """The action as the builder's ``entity`` (its controls' noun: "series A" …)."""
    ui.page.get_by_label(f"Kind of {entity}").select_option(label="Action")
    ui.page.get_by_label(f"Action of {entity}").select_option(label=NAME)


def test_actions_start_empty(clean: Ui, server: LiveServer) -> None:
    clean.go(f"/project/{server.project_id}/events")
    clean.page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Actions", exact=True
    ).click()
    clean.page.wait_for_url(f"**/project/{server.project_id}/data-management/actions")
    clean.page.get_by_text("No actions yet").wait_for()
    clean.shot("action-list-empty")


def test_an_action_made_in_the_editor_counts_the_query_apis_events(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    clean.go(f"/project/{server.project_id}/data-management/actions")
    page.get_by_role("link", name="New action").first.click()
    page.get_by_role("heading", name="New action").wait_for()
    page.get_by_label("Name", exact=True).fill(NAME)
    page.get_by_label("Description", exact=True).fill("Buyers and pricing readers")
    page.get_by_label("Event of step 1").fill("purchase")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Event of step 2").fill("$pageview")
    page.get_by_label("URL of step 2").fill("/pricing")
    expect(page.get_by_label("URL matching of step 2")).to_have_value("contains")
    clean.shot("action-new")
    page.get_by_role("button", name="Save action").click()
    page.wait_for_url(re.compile(rf"/project/{server.project_id}/data-management/actions/\d+$"))
    page.get_by_role("heading", name=NAME).wait_for()

    action = the_action(server)
    assert page.url.endswith(f"/data-management/actions/{action['id']}")
    assert action["description"] == "Buyers and pricing readers"
    first, second = action["steps"]
    assert first["event"] == "purchase" and first["url"] is None and first["selector"] is None
    assert (second["event"], second["url"], second["url_matching"]) == (
        "$pageview",
        "/pricing",
        "contains",
    )
    # The page's count is the query API's trend of the action over 30 days.
    [result] = ask(server, action_trend(action))["results"]
    assert result["count"] == MATCHED and result["label"] == NAME
    expect(page.get_by_test_id("action-count")).to_have_text(str(result["count"]))
    clean.shot("action-page")

    # The list: name, description, the steps in words, last updated.
    clean.go(f"/project/{server.project_id}/data-management/actions")
    [row] = table_texts(clean, "Actions")
    assert row[:3] == [
        NAME,
        "Buyers and pricing readers",
        "purchase or $pageview where URL contains /pricing",
    ]
    assert row[3] != "—"
    clean.shot("action-list")

    # "Open as a trend": the same query in the insight editor, the same number.
    page.get_by_role("link", name=NAME).click()
    page.get_by_role("link", name="Open as a trend").click()
    page.wait_for_url(re.compile(r".*/insights/new#q=.*"))
    assert shown_query(clean)["series"][0] == {
        "kind": "ActionsNode",
        "id": action["id"],
        "name": NAME,
        "math": "total",
    }
    expect(page.get_by_label(f"{NAME}: {MATCHED}", exact=True)).to_be_visible()
    expect(page.get_by_label("Kind of series A")).to_have_value("ActionsNode")
    expect(page.get_by_label("Action of series A")).to_have_value(str(action["id"]))


def test_a_step_the_api_refuses_shows_its_error_beside_the_field(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    action = the_action(server)
    clean.console.allowed.append("400 (Bad Request)")
    clean.go(f"/project/{server.project_id}/data-management/actions/{action['id']}")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Event of step 3").fill("$autocapture")
    page.get_by_label("CSS selector of step 3").fill("button.cta:hover")
    page.get_by_role("button", name="Save action").click()
    alert = page.get_by_role("alert").filter(has_text="Not saved")
    alert.wait_for()
    # The API's own answer to the same steps: its words and the field it names.
    steps = [*action["steps"], {"event": "$autocapture", "selector": "button.cta:hover"}]
    refused = server.project_request("PATCH", f"/actions/{action['id']}/", {"steps": steps})
    assert refused.status_code == 400
    assert refused.json()["attr"] == "steps.2.selector"
    assert "Not saved: step 3, CSS selector" in alert.inner_text()
    assert refused.json()["detail"] in alert.inner_text()
    selector = page.get_by_label("CSS selector of step 3")
    expect(selector).to_have_attribute("aria-invalid", "true")
    why = refused.json()["detail"].split(": ", 1)[1]
    expect(page.locator("#action-step-2-selector-error")).to_have_text(why)
    clean.shot("action-error")
    # Nothing was saved; removing the step and saving again works.
    assert len(the_action(server)["steps"]) == 2
    page.get_by_role("button", name="Remove step 3").click()
    page.get_by_role("button", name="Save action").click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    expect(page.get_by_role("alert")).to_have_count(0)
    assert the_action(server)["steps"] == action["steps"]


def test_a_trend_and_a_funnel_of_the_action_show_the_query_apis_numbers(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    action = the_action(server)
    clean.go(f"/project/{server.project_id}/insights/new")
    # The range first: only the last answer then names the action.
    page.get_by_label("Date range").select_option("-30d")
    choose_action(clean, "series A")
    page.get_by_role("button", name="Show as table").click()
    expect(
        page.get_by_role("table", name="New insight as a table").get_by_role("row", name=NAME)
    ).to_have_count(1)
    query = shown_query(clean)
    [result] = ask(server, query)["results"]
    assert result == ask(server, action_trend(action, "ActionsLineGraph"))["results"][0]
    [row] = table_texts(clean, "New insight as a table")
    assert row[0] == NAME and row[1] == str(result["count"]) == str(MATCHED)
    assert [int(v) for v in row[2:]] == result["data"]
    series = query["series"][0]
    assert (series["kind"], series["id"], series["name"]) == ("ActionsNode", action["id"], NAME)
    assert "event" not in series and series["math"] == "total"
    clean.shot("action-trend")
    # The chart's legend names the series by the action, as the API's label does.
    page.get_by_role("button", name="Show chart").click()
    page.get_by_role("img", name="New insight as a chart").wait_for()
    expect(page.locator(".chart .u-legend")).to_contain_text(result["label"])
    clean.shot("action-trend-chart")

    # A funnel: pricing pageviews, then the action (purchase or pricing again).
    page.get_by_role("group", name="Insight kind").get_by_role("button", name="Funnels").click()
    page.get_by_label("Event of step 1").fill("$pageview")
    choose_action(clean, "step 2")
    expect(page.get_by_role("row").filter(has_text=f"2. {NAME}")).to_have_count(1)
    query = shown_query(clean)
    assert query["series"][1]["kind"] == "ActionsNode" and query["series"][1]["id"] == action["id"]
    steps = ask(server, query)["results"]
    assert steps[1]["name"] == NAME
    funnel = page.get_by_role("table", name="New insight as a table")
    rows = [r.locator("td").all_inner_texts() for r in funnel.locator("tbody tr").all()]
    assert [r[0] for r in rows] == [str(s["count"]) for s in steps]
    clean.shot("action-funnel")

    # Back to an event: the step counts $pageview again, no action left in it.
    page.get_by_label("Kind of step 2").select_option(label="Event")
    page.get_by_label("Event of step 2").fill("purchase")
    expect(page.get_by_role("row").filter(has_text="2. purchase")).to_have_count(1)
    step = shown_query(clean)["series"][1]
    assert (step["kind"], step["event"]) == ("EventsNode", "purchase")
    assert "id" not in step and "name" not in step


def numbers(cells: list[str]) -> list[float]:
    return [float(c.replace(",", "").replace("\u2212", "-")) for c in cells]


def percent(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f}".removesuffix(".0") + "%" if whole else "0%"


def as_action(action: dict[str, Any]) -> dict[str, Any]:
    """The action as a series of a stickiness or lifecycle query."""
    return {"kind": "ActionsNode", "id": action["id"], "name": action["name"]}


def test_retention_of_the_action_shows_the_query_apis_cohorts(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    action = the_action(server)
    new_insight_of(clean, server, "Retention")
    choose_action(clean, "cohort entry")
    page.get_by_label("Kind of return").select_option(label="Action")

    def both_actions(response: Any) -> bool:
        if not response.url.endswith("/query/") or response.request.method != "POST":
            return False
        sent = response.request.post_data_json["query"].get("retentionFilter", {})
        return all(
            sent.get(e, {}).get("type") == "actions" for e in ("targetEntity", "returningEntity")
        )

    # The same action again: the answer to the query naming it twice is the last one.
    with page.expect_response(both_actions):
        page.get_by_label("Action of return").select_option(label=NAME)
    expect(page.locator(".result")).to_have_attribute("aria-busy", "false")
    query = shown_query(clean)
    entity = {"id": action["id"], "type": "actions", "name": NAME}
    assert query["retentionFilter"]["targetEntity"] == entity
    assert query["retentionFilter"]["returningEntity"] == entity
    rows = ask(server, query)["results"]
    # PostHog's shape of the entity gives what the ActionsNode form gives.
    by_node = {**query, "retentionFilter": {**query["retentionFilter"]}}
    for key in ("targetEntity", "returningEntity"):
        by_node["retentionFilter"][key] = {"kind": "ActionsNode", "id": action["id"]}
    assert ask(server, by_node)["results"] == rows
    shown = table_texts(clean, "New insight as a table")
    assert len(shown) == len(rows)
    for cells, row in zip(shown, rows, strict=True):
        size = row["values"][0]["count"]
        assert cells[1] == str(size)
        assert cells[2:] == [percent(v["count"], size) for v in row["values"]]
    # Everyone in the action's cohort did it on its day: ann, bo, cy and anon-1.
    assert max(row["values"][0]["count"] for row in rows) == len(VISITORS)
    clean.shot("action-retention")


def test_stickiness_of_the_action_shows_the_query_apis_numbers(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    action = the_action(server)
    new_insight_of(clean, server, "Stickiness")
    choose_action(clean, "series A")
    table = page.get_by_role("table", name="New insight as a table")
    expect(table.get_by_role("row", name=NAME)).to_have_count(1)
    query = shown_query(clean)
    assert query["series"] == [{**as_action(action), "math": "total"}]
    [result] = ask(server, query)["results"]
    built = {
        "kind": "StickinessQuery",
        "series": [{**as_action(action), "math": "total"}],
        "interval": "day",
        "dateRange": query["dateRange"],  # the page's, kept from the kind before
    }
    assert ask(server, built)["results"] == [result]
    assert result["label"] == NAME
    [row] = table_texts(clean, "New insight as a table")
    assert row[0] == NAME
    assert numbers(row[1:]) == [result["count"], *result["data"]]
    assert result["data"][0] == len(VISITORS)  # each did the action on one day
    # The chart names its bars by the action too.
    chart = page.get_by_role("group", name="New insight as a chart")
    expect(chart).to_have_attribute("data-state", "drawn")
    expect(
        chart.get_by_role("button", name=re.compile(rf"^{re.escape(NAME)}, 1 day: "))
    ).to_have_count(1)
    clean.shot("action-stickiness")


def test_lifecycle_of_the_action_shows_the_query_apis_numbers(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    action = the_action(server)
    new_insight_of(clean, server, "Lifecycle")
    choose_action(clean, "activity")
    table = page.get_by_role("table", name="New insight as a table")
    expect(table.get_by_role("row", name=f"{NAME} - new")).to_have_count(1)
    query = shown_query(clean)
    assert query["series"] == [as_action(action)]
    results = ask(server, query)["results"]
    built = {
        "kind": "LifecycleQuery",
        "series": [as_action(action)],
        "interval": "day",
        "dateRange": query["dateRange"],  # the page's, kept from the kind before
    }
    assert ask(server, built)["results"] == results
    assert [r["label"] for r in results] == [
        f"{NAME} - {status}" for status in ("new", "returning", "resurrecting", "dormant")
    ]
    shown = {r[0]: numbers(r[1:]) for r in table_texts(clean, "New insight as a table")}
    assert shown == {r["label"]: [r["count"], *r["data"]] for r in results}
    new = next(r for r in results if r["status"] == "new")
    assert new["count"] == len(VISITORS)  # the action's first day for all four
    clean.shot("action-lifecycle")


def test_delete_goes_back_to_the_list(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    action = the_action(server)
    clean.go(f"/project/{server.project_id}/data-management/actions/{action['id']}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete action").click()
    page.wait_for_url(f"**/project/{server.project_id}/data-management/actions")
    page.get_by_text("No actions yet").wait_for()
    assert server.project_request("GET", f"/actions/{action['id']}/").status_code == 404
    clean.shot("action-deleted")


ACTION_LIST = re.compile(r".*/api/projects/\d+/actions/\?limit=1000$")


def test_loading_error_and_missing_states(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    unavailable = {"code": "unavailable", "detail": "the store is not answering"}
    with clean.holding(ACTION_LIST, json_answer(503, unavailable)):
        clean.go(f"/project/{server.project_id}/data-management/actions")
        page.get_by_role("status").filter(has_text="Loading actions").wait_for()
        clean.shot("action-list-loading", full_page=False)
    clean.console.allowed.append("503 (Service Unavailable)")
    alert = page.get_by_role("alert").filter(has_text="Could not load the actions")
    alert.get_by_text("the store is not answering").wait_for()
    clean.shot("action-list-error", full_page=False)

    clean.console.allowed.append("404 (Not Found)")
    clean.go(f"/project/{server.project_id}/data-management/actions/99999")
    page.get_by_role("alert").filter(has_text="no action 99999").wait_for()
    clean.shot("action-missing", full_page=False)
