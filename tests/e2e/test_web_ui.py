"""Magpie's web UI in Debian's Chromium against a live Magpie, with the official
posthog-python and posthog-js sending the events: sign up, onboarding, live
events, a trend and its table, dashboards, SQL, persons after identify,
billing, settings; no console error on any page; CSRF and logout.

Elements are found by role and label, as a person (or a screen reader) finds
them. Every page is photographed into test-artifacts/ui/.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from posthog import Posthog

from tests.conftest import LiveServer, running_live_server
from tests.e2e.browser import POSTHOG_DIST, site_server
from tests.e2e.ui import EMAIL, PASSWORD, Ui, json_answer, open_ui, sign_up


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_live_server(tmp_path_factory.mktemp("ui") / "data") as live:
        yield live


def python_client(server: LiveServer, token: str | None = None) -> Posthog:
    return Posthog(token or server.token, host=server.url, sync_mode=True)


def api(server: LiveServer) -> httpx.Client:
    return server.api()


def new_project(server: LiveServer, name: str) -> dict[str, Any]:
    with api(server) as owner:
        created = owner.post("/api/projects/", json={"name": name})
    assert created.status_code == 201, created.text
    return dict(created.json())


# -- accounts ----------------------------------------------------------------------


def test_sign_up_lands_in_the_default_project_and_logout_ends_the_session(
    browser: Any, tmp_path: Any
) -> None:
    with running_live_server(tmp_path / "data") as live:
        ui = open_ui(browser, live)
        try:
            ui.go(f"/project/{live.project_id}/sql")
            ui.page.wait_for_url("**/signup")
            ui.shot("signup")
            sign_up(ui)
            # No event yet: the project opens on its onboarding.
            ui.page.wait_for_url(f"**/project/{live.project_id}/onboarding")
            ui.page.get_by_role("heading", name="Send your first event").wait_for()
            assert ui.page.get_by_text(EMAIL).is_visible()

            # A state-changing call with the session cookie but no CSRF token is refused.
            status = ui.page.evaluate(
                """async () => (await fetch('/api/projects/1/dashboards/', {method: 'POST',
                     headers: {'Content-Type': 'application/json'},
                     body: JSON.stringify({name: 'forged'})})).status"""
            )
            assert status == 403
            with_token = ui.page.evaluate(
                """async (token) => (await fetch('/api/projects/1/dashboards/', {method: 'POST',
                     headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
                     body: JSON.stringify({name: 'real'})})).status""",
                ui.csrf(),
            )
            assert with_token == 201

            cookies = ui.context.cookies()
            [session] = [c for c in cookies if c["name"] == "magpie_session"]
            assert session["httpOnly"] and session["sameSite"] == "Lax"
            ui.page.get_by_role("button", name="Log out").click()
            ui.page.wait_for_url("**/login")
            ui.shot("login")
            old_session = {"magpie_session": session["value"]}
            with httpx.Client(base_url=live.url, cookies=old_session) as old:
                assert old.get(f"/api/projects/{live.project_id}/events/").status_code == 401
            ui.go(f"/project/{live.project_id}/events")
            ui.page.wait_for_url(re.compile(r".*/login\?next=.*"))
            ui.page.get_by_label("Email").fill(EMAIL)
            ui.page.get_by_label("Password").fill("wrong password")
            ui.page.get_by_role("button", name="Log in").click()
            ui.page.get_by_role("alert").get_by_text("wrong email or password").wait_for()
            ui.shot("login-error")
            ui.page.get_by_label("Password").fill(PASSWORD)
            ui.page.get_by_role("button", name="Log in").click()
            ui.page.wait_for_url(f"**/project/{live.project_id}/events")
            # The browser reports the refused CSRF call (403) and the wrong password (401).
            expected = ("(Forbidden)", "(Unauthorized)")
            assert [e for e in ui.console.problems() if not e.endswith(expected)] == []
        finally:
            ui.context.close()


# -- onboarding and live events ------------------------------------------------------


def test_onboarding_turns_green_on_the_first_posthog_python_event(
    clean: Ui, server: LiveServer
) -> None:
    project = new_project(server, "Onboarding")
    clean.go(f"/project/{project['id']}")
    clean.page.wait_for_url(f"**/project/{project['id']}/onboarding")
    status = clean.page.get_by_role("status").filter(has_text="first event")
    status.get_by_text("Waiting for the first event").wait_for()
    snippet = clean.page.get_by_label("posthog-python snippet")
    assert project["api_token"] in snippet.inner_text()
    assert server.url in snippet.inner_text()  # the address the browser reached
    clean.shot("onboarding-waiting")
    client = python_client(server, project["api_token"])
    client.capture("signed_up", distinct_id="first-user")
    client.flush()
    status.get_by_text("First event received").wait_for(timeout=15_000)
    assert "signed_up" in status.inner_text()
    clean.shot("onboarding-received")


def test_live_events_marks_anonymous_and_identified_events(clean: Ui, server: LiveServer) -> None:
    client = python_client(server)
    client.capture(
        "viewed_pricing",
        distinct_id="anon-visitor",
        properties={"$process_person_profile": False, "plan": "free"},
    )
    client.capture("viewed_pricing", distinct_id="bob@example.com", properties={"plan": "pro"})
    client.flush()
    server.settle()
    clean.go(f"/project/{server.project_id}/events")
    table = clean.page.get_by_role("table", name="Events, newest first")
    table.wait_for()
    rows = table.get_by_role("row").filter(has_text="viewed_pricing")
    rows.first.wait_for()
    anonymous = rows.filter(has_text="anon-visitor")
    identified = rows.filter(has_text="bob@example.com")
    assert anonymous.get_by_text("Anonymous", exact=True).is_visible()
    assert identified.get_by_text("Identified", exact=True).is_visible()
    assert anonymous.get_by_role("link").count() == 0  # no person to link to
    assert identified.get_by_role("link", name="bob@example.com").is_visible()
    identified.get_by_role("button", name="Show properties of viewed_pricing").click()
    clean.page.get_by_text('"plan": "pro"').wait_for()
    clean.shot("events")

    # New events appear without reloading; the filters narrow the list.
    client.capture(
        "late_event", distinct_id="anon-visitor", properties={"$process_person_profile": False}
    )
    client.flush()
    table.get_by_role("row").filter(has_text="late_event").wait_for(timeout=15_000)
    clean.page.get_by_label("Event property").fill("plan")
    clean.page.get_by_label("Property value").fill("pro")
    expect(table.get_by_role("row").filter(has_text="anon-visitor")).to_have_count(0)
    assert table.get_by_role("row").filter(has_text="bob@example.com").count() == 1
    clean.page.get_by_label("Event property").fill("")
    clean.page.get_by_label("Event name").fill("no_such_event")
    clean.page.get_by_text("No events match these filters").wait_for()
    clean.shot("events-empty-filter")


# -- insights and dashboards ---------------------------------------------------------


def send_pageviews(server: LiveServer) -> None:
    client = python_client(server)
    for i in range(7):
        client.capture(
            "$pageview",
            distinct_id=f"visitor-{i % 3}",
            properties={
                "$browser": "Chrome" if i % 2 else "Firefox",
                "$pathname": f"/p/{i % 2}",
                "$referring_domain": "news.example" if i % 3 else "search.example",
            },
        )
    client.flush()
    server.settle()


def table_numbers(ui: Ui, name: str) -> dict[tuple[str, ...], list[str]]:
    """Each row of an insight's table: (series, breakdown) → cells after them."""
    table = ui.page.get_by_role("table", name=name)
    table.wait_for()
    rows = {}
    for row in table.locator("tbody tr").all():
        header = row.locator("th").inner_text()
        cells = row.locator("td").all_inner_texts()
        rows[(header, cells[0])] = cells[1:]
    return rows


def test_a_trend_built_in_the_ui_shows_the_query_apis_numbers(
    clean: Ui, server: LiveServer
) -> None:
    send_pageviews(server)
    page = clean.page
    clean.go(f"/project/{server.project_id}/insights/new")
    page.get_by_label("Event of series A").fill("$pageview")
    page.get_by_label("Measure of series A").select_option("total")
    page.get_by_label("Date range").select_option("-7d")
    page.get_by_label("Break down by").fill("$browser")
    chart = page.get_by_role("img", name="New insight as a chart")
    chart.wait_for()
    page.wait_for_function("document.querySelector('.chart')?.dataset.state === 'drawn'")
    page.wait_for_timeout(400)  # the debounced run with the last change
    clean.shot("insight-line")

    query = json.loads(urllib.parse.unquote(page.evaluate("location.hash")[3:]))
    assert query["kind"] == "TrendsQuery" and query["breakdownFilter"]["breakdown"] == "$browser"
    page.get_by_role("button", name="Show as table").click()
    shown = table_numbers(clean, "New insight as a table")
    clean.shot("insight-table")
    with api(server) as owner:
        answer = owner.post(f"/api/projects/{server.project_id}/query/", json={"query": query})
    assert answer.status_code == 200, answer.text
    # Each row: the total, then one cell per bucket.
    expected = {
        (r["label"], r["breakdown_value"]): [f"{r['count']:,}"] + [f"{v:,}" for v in r["data"]]
        for r in answer.json()["results"]
    }
    assert shown == expected
    assert sum(int(cells[0]) for cells in shown.values()) == 7

    for display, label in (
        ("ActionsBar", "chart"),
        ("ActionsAreaGraph", "chart"),
        ("BoldNumber", None),
        ("ActionsPie", "pie chart"),
    ):
        page.get_by_role("button", name="Show chart").click() if page.get_by_role(
            "button", name="Show chart"
        ).count() else None
        page.get_by_label("Display").select_option(display)
        if label:
            page.get_by_role("img", name=f"New insight as a {label}").wait_for()
        else:
            page.locator(".bold-number").wait_for()
        page.wait_for_timeout(350)
        clean.shot(f"insight-{display}")

    # Save it, then put it on the project's first dashboard.
    page.get_by_label("Display").select_option("ActionsLineGraph")
    page.get_by_label("Insight name").fill("Pageviews by browser")
    page.get_by_role("button", name="Save insight").click()
    page.wait_for_url(re.compile(rf".*/project/{server.project_id}/insights/[A-Za-z0-9]{{8}}.*"))
    short_id = page.url.split("/insights/")[1].split("#")[0]
    page.get_by_role("heading", name="Pageviews by browser").wait_for()
    page.get_by_label("Add to dashboard").select_option(label="Web analytics")
    page.get_by_role("button", name="Add to dashboard").click()
    page.get_by_role("link", name="Web analytics").click()
    page.wait_for_url(re.compile(r".*/dashboard/\d+"))
    page.reload()
    tile = page.get_by_role("article", name="Pageviews by browser")
    tile.get_by_role("img", name="Pageviews by browser as a chart").wait_for()
    for name in ("Pageviews", "Unique visitors", "Top pages", "Top referrers"):
        page.get_by_role("article", name=name, exact=True).wait_for()
    page.wait_for_timeout(500)
    clean.shot("dashboard")
    with api(server) as owner:
        found = owner.get(
            f"/api/projects/{server.project_id}/insights/", params={"short_id": short_id}
        )
    [saved] = found.json()["results"]
    assert saved["name"] == "Pageviews by browser" and saved["dashboards"]

    # A link with the query reopens it and runs it.
    wrapped = urllib.parse.quote(json.dumps({"kind": "InsightVizNode", "source": query}))
    clean.go(f"/project/{server.project_id}/insights/new#q={wrapped}")
    page.get_by_role("img", name="New insight as a chart").wait_for()
    assert page.get_by_label("Break down by").input_value() == "$browser"


def test_dashboard_rename_range_and_remove_survive_a_reload(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    clean.go(f"/project/{server.project_id}/dashboard")
    page.get_by_label("New dashboard name").fill("Growth")
    page.get_by_role("button", name="Create dashboard").click()
    page.wait_for_url(re.compile(r".*/dashboard/\d+$"))
    page.get_by_text("This dashboard is empty").wait_for()
    clean.shot("dashboard-empty")
    page.get_by_label("Add an insight").select_option(label="Pageviews")
    page.get_by_role("button", name="Add to dashboard").click()
    page.get_by_role("article", name="Pageviews", exact=True).wait_for()
    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Dashboard name").fill("Growth weekly")
    page.get_by_role("button", name="Save name").click()
    page.get_by_role("heading", name="Growth weekly").wait_for()
    page.get_by_label("Date range for every tile").select_option("-14d")
    page.get_by_role("button", name="Refresh").click()
    page.reload()
    page.get_by_role("heading", name="Growth weekly").wait_for()
    assert page.get_by_label("Date range for every tile").input_value() == "-14d"
    page.get_by_role("button", name="Remove Pageviews from the dashboard").click()
    page.get_by_text("This dashboard is empty").wait_for()
    page.reload()
    page.get_by_text("This dashboard is empty").wait_for()


# -- SQL ---------------------------------------------------------------------------


def test_sql_results_and_an_error_at_its_line_and_column(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    clean.go(f"/project/{server.project_id}/sql")
    page.get_by_role("list", name="Columns of events").get_by_role(
        "button", name="Insert column distinct_id of events"
    ).wait_for()
    editor = page.get_by_label("SQL query (HogQL)")
    editor.fill("SELECT event, count() AS n\nFROM events\nGROUP BY event\nORDER BY n DESC")
    page.get_by_role("button", name="Run query").click()
    results = page.get_by_role("table", name="Query results")
    results.get_by_role("cell", name="$pageview").wait_for()
    with api(server) as owner:
        answer = owner.post(
            f"/api/projects/{server.project_id}/query/",
            json={"query": {"kind": "HogQLQuery", "query": editor.input_value()}},
        ).json()
    shown = [r.locator("td").all_inner_texts() for r in results.locator("tbody tr").all()]
    assert shown == [[str(e), f"{n:,}"] for e, n in answer["results"]]
    clean.shot("sql-results")

    clean.console.allowed.append("400 (Bad Request)")  # the browser reports the API's 400
    editor.fill("SELECT event,\n  nope FROM events")
    page.get_by_role("button", name="Run query").click()
    alert = page.get_by_role("alert")
    alert.get_by_text("Error at line 2, column 3").wait_for()
    assert "unknown column 'nope'" in alert.inner_text()
    clean.shot("sql-error")

    editor.fill("SELECT count() FROM events")
    editor.press("Control+Enter")
    results.wait_for()
    page.get_by_label("Name for the saved insight").fill("Event count")
    page.get_by_role("button", name="Save as insight").click()
    page.wait_for_url(re.compile(r".*/insights/[A-Za-z0-9]{8}"))
    page.get_by_role("heading", name="Event count").wait_for()
    page.get_by_role("table", name="Query results").wait_for()
    clean.shot("insight-sql")


# -- persons -------------------------------------------------------------------------


def test_identify_in_another_tab_shows_the_merge_and_earlier_anonymous_events(
    clean: Ui, server: LiveServer
) -> None:
    if not (POSTHOG_DIST / "array.js").is_file():
        pytest.fail(
            "posthog-js is not installed in tests/e2e/node_modules (scripts/ensure-browser)"
        )
    with site_server() as site:
        shop = clean.new_page()
        setup = {
            "token": server.token,
            "options": {
                "api_host": server.url,
                "opt_out_useragent_filter": True,
                "request_queue_config": {"flush_interval_ms": 250},
            },
        }
        shop.add_init_script(script=f"window.__MAGPIE_E2E__ = {json.dumps(setup)};")
        shop.goto(site.url + "/")
        shop.wait_for_function("window.__posthogLoaded === true")
        shop.evaluate("posthog.capture('browsed_catalog')")
        anon = shop.evaluate("posthog.get_distinct_id()")
        deadline = time.monotonic() + 15
        while len(server.events(distinct_id=anon)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        shop.evaluate("posthog.identify('carol@example.com', {email: 'carol@example.com'})")
        shop.evaluate("posthog.capture('bought', {sku: 'A-1'})")
        deadline = time.monotonic() + 15
        while not server.events(event="bought") and time.monotonic() < deadline:
            time.sleep(0.2)
        shop.close()

    page = clean.page
    clean.go(f"/project/{server.project_id}/persons")
    page.get_by_label("Search by distinct id or email").fill("carol")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="carol@example.com").click()
    page.get_by_role("heading", name="carol@example.com").wait_for()
    ids = page.get_by_role("region", name="Distinct ids")
    ids.get_by_text(anon).wait_for()
    history = page.get_by_role("table", name="Identity history")
    assert history.get_by_text("$identify").count() >= 1
    events = page.get_by_role("table", name="Events of this person")
    catalog = events.get_by_role("row").filter(has_text="browsed_catalog")
    assert catalog.get_by_text("Anonymous", exact=True).is_visible()
    assert catalog.get_by_text("before identify").is_visible()
    assert (
        events.get_by_role("row")
        .filter(has_text="bought")
        .get_by_text("Identified", exact=True)
        .is_visible()
    )
    clean.shot("person")
    clean.go(f"/project/{server.project_id}/persons")
    page.get_by_role("table", name="Persons").wait_for()
    clean.shot("persons")


# -- billing, settings, every page -----------------------------------------------------


def test_billing_shows_the_billing_apis_numbers(clean: Ui, server: LiveServer) -> None:
    server.settle()
    clean.go(f"/project/{server.project_id}/billing")
    page = clean.page
    page.get_by_role("group", name="Anonymous events").wait_for()
    with api(server) as owner:
        usage = owner.get(f"/api/projects/{server.project_id}/billing/usage/").json()

    def value(name: str) -> str:
        return page.get_by_role("group", name=name).locator(".stat-value").inner_text()

    assert value("Anonymous events") == f"{usage['events']['anonymous']:,}"
    assert value("Identified events") == f"{usage['events']['identified']:,}"
    assert value("Billable events") == f"{usage['events']['total']:,}"
    assert value("Free allowance left") == f"{usage['free_allowance'] - usage['events']['total']:,}"
    clean.shot("billing")
    page.get_by_label("Monthly limit in billable events").fill("5000000")
    page.get_by_role("button", name="Save quota").click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    with api(server) as owner:
        assert (
            owner.get(f"/api/projects/{server.project_id}/billing/quota/").json()["max_events"]
            == 5000000
        )


def test_settings_keys_and_users(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    page.on("dialog", lambda dialog: dialog.accept())
    clean.go(f"/project/{server.project_id}/settings")
    page.get_by_label("Key label").fill("ci export")
    page.get_by_label("Key may").select_option("read")
    page.get_by_role("button", name="Create key").click()
    value = page.get_by_label("New key value").inner_text()
    assert value.startswith("phx_")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {value}"}) as ci:
        assert ci.get(f"/api/projects/{server.project_id}/events/").status_code == 200
    keys = page.get_by_role("table", name="Personal API keys")
    assert value not in keys.inner_text() and value[:8] in keys.inner_text()
    clean.shot("settings")
    page.get_by_role("button", name="Revoke ci export").click()
    expect(keys.get_by_text("ci export")).to_have_count(0)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {value}"}) as ci:
        assert ci.get(f"/api/projects/{server.project_id}/events/").status_code == 401

    page.get_by_label("Project name", exact=True).fill("Shop")
    page.get_by_label("Weeks start on").select_option("1")
    page.get_by_role("button", name="Save project settings").click()
    page.get_by_role("status").filter(has_text="Saved.").first.wait_for()
    with api(server) as owner:
        project = owner.get(f"/api/projects/{server.project_id}/").json()
    assert project["name"] == "Shop" and project["week_start_day"] == 1

    page.get_by_label("New user's email").fill("dan@example.com")
    page.get_by_label("Their first password").fill(PASSWORD)
    page.get_by_role("button", name="Add user").click()
    page.get_by_text("dan@example.com").wait_for()


LOADING = re.compile(r"Loading|Listing|Running|Opening")
PAGES = (
    ("dashboards", "/dashboard", "Dashboards"),
    ("insights", "/insights", "Insights"),
    ("insight-new", "/insights/new", "New insight"),
    ("sql", "/sql", "SQL"),
    ("events-page", "/events", "Live events"),
    ("persons-page", "/persons", "Persons"),
    ("cohorts-page", "/cohorts", "Cohorts"),
    ("cohort-new", "/cohorts/new", "New cohort"),
    ("flags-page", "/feature_flags", "Feature flags"),
    ("flag-new", "/feature_flags/new", "New feature flag"),
    ("actions-page", "/data-management/actions", "Actions"),
    ("action-new", "/data-management/actions/new", "New action"),
    ("billing-page", "/billing", None),
    ("settings-page", "/settings", "Project settings"),
    ("onboarding", "/onboarding", "Send your first event"),
)


def test_every_page_loads_without_console_errors(clean: Ui, server: LiveServer) -> None:
    empty = new_project(server, "Empty project")
    for project_id, suffix in ((server.project_id, ""), (empty["id"], "-empty")):
        for name, path, heading in PAGES:
            clean.go(f"/project/{project_id}{path}")
            if heading:
                clean.page.get_by_role("heading", name=heading, exact=True).wait_for()
            clean.page.wait_for_load_state("networkidle")
            # Nothing left loading once the page's requests are done.
            busy = clean.page.get_by_role("status").filter(has_text=LOADING)
            expect(busy).to_have_count(0)
            clean.shot(f"page-{name}{suffix}")
    clean.go(f"/project/{server.project_id}/person/nobody-at-all")
    clean.page.get_by_text("No person profile for this distinct id").wait_for()
    clean.shot("person-unknown")
    clean.go("/project/999/events")
    clean.page.get_by_text("There is no project 999").wait_for()
    clean.shot("project-unknown")


def test_loading_and_error_states_say_what_is_happening(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    failed = {
        "type": "validation_error",
        "code": "query_failed",
        "detail": "the query failed: a value could not be converted",
        "attr": None,
    }
    with clean.holding("**/api/projects/*/query/", json_answer(400, failed)):
        clean.go(f"/project/{server.project_id}/insights/new")
        page.get_by_role("status").filter(has_text="Running the query").wait_for()
        clean.shot("insight-loading", full_page=False)
    clean.console.allowed.append("400 (Bad Request)")
    alert = page.get_by_role("alert").filter(has_text="This query did not run")
    alert.get_by_text("a value could not be converted").wait_for()
    clean.shot("insight-error", full_page=False)
