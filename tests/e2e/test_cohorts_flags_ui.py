"""Cohort and feature-flag pages in Magpie's web UI, in Debian's Chromium against a
live Magpie, with persons and flag reads made by the official posthog-python:
a cohort of each kind made in the editor, its count and members the API's; a
flag with conditions, variants and payloads, whose live "who would get this"
count is the blast-radius API's; its usage and history; the empty, loading and
error states; no console error.

Screenshots go to test-artifacts/ui/cohort-*.png and flag-*.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from posthog import Posthog

from tests.conftest import LiveServer, running_live_server
from tests.e2e.ui import Ui

# distinct id → (plan, bought); "anon-" ids send personless events.
PEOPLE = {
    "ann@example.com": ("pro", True),
    "bo@example.com": ("free", True),
    "cy@example.com": ("pro", False),
    "dee@example.com": ("free", True),
    "anon-1": (None, True),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_live_server(tmp_path_factory.mktemp("ui") / "data") as live:
        client = Posthog(live.token, host=live.url, sync_mode=True)
        for who, (plan, bought) in PEOPLE.items():
            if plan is None:
                properties: dict[str, Any] = {"$process_person_profile": False}
            else:
                properties = {"$set": {"plan": plan, "email": who}}
            client.capture("$pageview", distinct_id=who, properties=properties)
            if bought:
                client.capture("purchase", distinct_id=who, properties=properties)
        client.flush()
        live.settle(timeout=60)
        yield live


def api(server: LiveServer, method: str, path: str, body: Any = None) -> Any:
    response = server.project_request(method, path, body)
    assert response.status_code < 300, response.text
    return response.json()


def saved_id(ui: Ui, kind: str) -> int:
    ui.page.wait_for_url(re.compile(rf"/project/\d+/{kind}/\d+$"))
    return int(ui.page.url.rstrip("/").rsplit("/", 1)[1])


def table_texts(ui: Ui, name: str) -> list[list[str]]:
    table = ui.page.get_by_role("table", name=name, exact=True)
    table.wait_for()
    return [row.locator("th, td").all_inner_texts() for row in table.locator("tbody tr").all()]


# -- cohorts ------------------------------------------------------------------------------


def test_cohorts_start_empty(clean: Ui, server: LiveServer) -> None:
    clean.go(f"/project/{server.project_id}/cohorts")
    clean.page.get_by_text("No cohorts yet").wait_for()
    clean.shot("cohort-list-empty")


def _check_cohort_page(ui: Ui, server: LiveServer, cohort_id: int, members: set[str]) -> None:
    stored = api(server, "GET", f"/cohorts/{cohort_id}/")
    expect(ui.page.get_by_test_id("cohort-count")).to_have_text(str(stored["count"]))
    assert stored["count"] == len(members)
    rows = table_texts(ui, "Members")
    assert {r[0] for r in rows} == members
    listed = api(server, "GET", f"/cohorts/{cohort_id}/persons/")["results"]
    assert {p["properties"]["email"] for p in listed} == members
    # Each member links to its person page.
    link = ui.page.get_by_role("table", name="Members").get_by_role("link").first
    assert "/person/" in str(link.get_attribute("href"))


def test_a_cohort_of_each_kind_with_its_count_and_members(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    base = f"/project/{server.project_id}/cohorts"
    # Static: pasted ids; the anonymous visitor and the typo have no person.
    clean.go(base + "/new")
    page.get_by_label("Static list", exact=True).check()
    page.get_by_label("Name", exact=True).fill("Beta testers")
    page.get_by_label("Distinct ids, one a line").fill(
        "ann@example.com\ncy@example.com\nanon-1\nnobody@typo"
    )
    clean.shot("cohort-new-static")
    page.get_by_role("button", name="Save cohort").click()
    static = saved_id(clean, "cohorts")
    _check_cohort_page(clean, server, static, {"ann@example.com", "cy@example.com"})
    clean.shot("cohort-static")

    # Person properties.
    clean.go(base + "/new")
    page.get_by_label("Person properties", exact=True).check()
    page.get_by_label("Name", exact=True).fill("Pro plan")
    page.get_by_label("Property name of rule 1").fill("plan")
    page.get_by_label("Value of rule 1").fill("pro")
    page.get_by_role("button", name="Save cohort").click()
    pro = saved_id(clean, "cohorts")
    _check_cohort_page(clean, server, pro, {"ann@example.com", "cy@example.com"})
    assert api(server, "GET", f"/cohorts/{pro}/")["cohort_type"] == "person_property"

    # Behaviour: the anonymous buyer is no member.
    clean.go(base + "/new")
    page.get_by_label("Behaviour", exact=True).check()
    page.get_by_label("Name", exact=True).fill("Buyers")
    page.get_by_label("Event of rule 1").fill("purchase")
    page.get_by_label("Behaviour of rule 1").select_option("performed_event")
    page.get_by_label("Time of rule 1", exact=True).fill("30")
    clean.shot("cohort-new-behaviour")
    page.get_by_role("button", name="Save cohort").click()
    buyers = saved_id(clean, "cohorts")
    buying = {"ann@example.com", "bo@example.com", "dee@example.com"}
    _check_cohort_page(clean, server, buyers, buying)
    assert api(server, "GET", f"/cohorts/{buyers}/")["cohort_type"] == "behavioral"

    # Count over time: one point per calculation, the history API's.
    page.get_by_role("button", name="Recalculate").click()
    expect(page.get_by_role("button", name="Recalculate")).to_be_enabled()
    page.get_by_text("Show as table").click()
    history = api(server, "GET", f"/cohorts/{buyers}/history/")["results"]
    assert len(history) == 2
    expect(page.get_by_role("table", name="Count over time").locator("tbody tr")).to_have_count(2)
    shown = table_texts(clean, "Count over time")
    assert [(r[1], r[2]) for r in shown] == [(str(h["version"]), str(h["count"])) for h in history]
    expect(
        page.get_by_role("img", name="Count over time: 2 calculations, latest 3")
    ).to_be_visible()
    clean.shot("cohort-behaviour")

    # The list: kind, count and last calculation of each, as the API says.
    clean.go(base)
    rows = {r[0]: r for r in table_texts(clean, "Cohorts")}
    for cohort in api(server, "GET", "/cohorts/")["results"]:
        assert rows[cohort["name"]][2] == str(cohort["count"])
    assert rows["Buyers"][1] == "Behaviour" and rows["Beta testers"][1] == "Static list"
    assert rows["Pro plan"][1] == "Person properties"
    clean.shot("cohort-list")


def test_a_static_cohort_grows_from_a_csv_upload(clean: Ui, server: LiveServer) -> None:
    made = api(
        server, "POST", "/cohorts/", {"name": "Upload", "is_static": True, "distinct_ids": []}
    )
    clean.go(f"/project/{server.project_id}/cohorts/{made['id']}")
    clean.page.get_by_text("No members").wait_for()
    clean.page.get_by_label("Or a CSV file").set_input_files(
        {
            "name": "ids.csv",
            "mimeType": "text/csv",
            "buffer": b"distinct_id\nbo@example.com\ndee@example.com\n",
        }
    )
    clean.page.get_by_role("button", name="Save and add").click()
    clean.page.get_by_role("status").filter(has_text="Saved.").wait_for()
    _check_cohort_page(clean, server, made["id"], {"bo@example.com", "dee@example.com"})


# -- feature flags ---------------------------------------------------------------------------


def test_a_flag_with_conditions_variants_payloads_and_its_reach(
    clean: Ui, server: LiveServer
) -> None:
    page = clean.page
    buyers = api(
        server,
        "POST",
        "/cohorts/",
        {
            "name": "Recent buyers",
            "filters": {
                "properties": {
                    "type": "AND",
                    "values": [
                        {
                            "key": "purchase",
                            "type": "behavioral",
                            "value": "performed_event",
                            "time_value": 30,
                            "time_interval": "day",
                        }
                    ],
                }
            },
        },
    )
    clean.go(f"/project/{server.project_id}/feature_flags")
    page.get_by_text("No feature flags yet").wait_for()
    clean.shot("flag-list-empty")
    page.get_by_role("link", name="New feature flag").click()
    page.get_by_label("Key", exact=True).fill("checkout")
    page.get_by_label("Description", exact=True).fill("The new checkout")
    first = page.get_by_role("group", name="Condition set 1")
    # Everyone at first: all four persons (the anonymous visitor is none).
    expect(first.get_by_test_id("preview-affected")).to_have_text("4")
    page.get_by_role("button", name="Add property to condition 1").click()
    page.get_by_label("Property name of condition 1 property 1").fill("plan")
    page.get_by_label("Value of condition 1 property 1").fill("pro")
    page.get_by_label("Rollout of condition 1 (%)").fill("50")
    expect(first.get_by_test_id("preview-affected")).to_have_text("2")
    expect(first.get_by_test_id("preview-total")).to_have_text("4")
    page.get_by_role("button", name="Add condition set").click()
    page.get_by_role("button", name="Add property to condition 2").click()
    page.get_by_label("Kind of condition 2 property 1").select_option("cohort")
    page.get_by_label("Cohort of condition 2 property 1").select_option(label="Recent buyers")
    second = page.get_by_role("group", name="Condition set 2")
    expect(second.get_by_test_id("preview-affected")).to_have_text("3")
    page.get_by_label("Multiple variants").check()
    page.get_by_label("Payload of variant 1").fill('{"color": "blue"}')
    page.get_by_label("Payload of variant 2").fill('{"color": "green"}')
    page.get_by_label("Variant of condition 2").select_option("test")
    clean.shot("flag-new")
    page.get_by_role("button", name="Save feature flag").click()
    flag_id = saved_id(clean, "feature_flags")

    flag = api(server, "GET", f"/feature_flags/{flag_id}/")
    groups = flag["filters"]["groups"]
    assert groups[0]["properties"] == [
        {"type": "person", "key": "plan", "value": "pro", "operator": "exact"}
    ]
    assert groups[0]["rollout_percentage"] == 50
    assert groups[1]["properties"][0]["value"] == buyers["id"] and groups[1]["variant"] == "test"
    assert [v["key"] for v in flag["filters"]["multivariate"]["variants"]] == ["control", "test"]
    assert json.loads(flag["filters"]["payloads"]["control"]) == {"color": "blue"}
    # The counts the page shows are the API's for the saved conditions.
    for index, group in enumerate(groups):
        radius = api(
            server,
            "POST",
            "/feature_flags/user_blast_radius",
            {"condition": group, "group_type_index": None},
        )
        shown = page.get_by_role("group", name=f"Condition set {index + 1}")
        expect(shown.get_by_test_id("preview-affected")).to_have_text(str(radius["users_affected"]))
        expect(shown.get_by_test_id("preview-total")).to_have_text(str(radius["total_users"]))
    page.get_by_text("Not read yet").wait_for()
    clean.shot("flag-saved")

    # posthog-python reads the flag: each read is a $feature_flag_called event.
    client = Posthog(server.token, host=server.url, sync_mode=True)
    seen = {who: client.get_feature_flag("checkout", who) for who in PEOPLE}
    client.flush()
    server.settle(timeout=60)
    assert seen["dee@example.com"] == "test" and seen["anon-1"] is False
    page.reload()
    usage = api(server, "GET", f"/feature_flags/{flag_id}/usage/")
    rows = table_texts(clean, "Usage")
    assert rows == [
        [str(r["value"]), str(r["calls"]), str(r["distinct_ids"])] for r in usage["results"]
    ]
    assert sum(r["calls"] for r in usage["results"]) == len(PEOPLE)

    # A change is a version, shown with who made it.
    page.get_by_label("Active", exact=True).uncheck()
    page.get_by_role("button", name="Save feature flag").click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    versions = api(server, "GET", f"/feature_flags/{flag_id}/versions/")["results"]
    expect(page.get_by_role("table", name="History").locator("tbody tr")).to_have_count(
        len(versions)
    )
    history = table_texts(clean, "History")
    assert [r[0] for r in history] == [str(v["version"]) for v in versions] == ["2", "1"]
    assert history[0][3].startswith("Disabled") and history[1][3].startswith("Created")
    assert history[0][2] == "ada@example.com"
    clean.shot("flag-page")

    clean.go(f"/project/{server.project_id}/feature_flags")
    listed = table_texts(clean, "Feature flags")
    assert listed[0][0].startswith("checkout") and listed[0][1] == "Disabled"
    assert listed[0][2] == "2 condition sets" and "control 50%" in listed[0][3]
    clean.shot("flag-list")


def test_flag_editor_errors_and_loading(clean: Ui, server: LiveServer) -> None:
    page = clean.page
    with clean.holding("**/feature_flags/user_blast_radius"):
        clean.go(f"/project/{server.project_id}/feature_flags/new")
        page.get_by_role("status").filter(has_text="Counting who would get this").wait_for()
        clean.shot("flag-preview-loading", full_page=False)
    # An invalid regex: the preview and the save both say what is wrong.
    clean.console.allowed.append("400 (Bad Request)")
    page.get_by_label("Key", exact=True).fill("bad-regex")
    page.get_by_role("button", name="Add property to condition 1").click()
    page.get_by_label("Property name of condition 1 property 1").fill("plan")
    page.get_by_label("Operator of condition 1 property 1").select_option("regex")
    page.get_by_label("Value of condition 1 property 1").fill("([")
    page.get_by_role("status").filter(has_text="Could not count").wait_for()
    page.get_by_role("button", name="Save feature flag").click()
    alert = page.get_by_role("alert").filter(has_text="Not saved")
    alert.wait_for()
    assert "filters.groups[0].properties[0].value" in alert.inner_text()
    clean.shot("flag-error")
    # A missing flag and a missing cohort say so.
    clean.console.allowed.append("404 (Not Found)")
    clean.go(f"/project/{server.project_id}/feature_flags/99999")
    page.get_by_role("alert").filter(has_text="no feature flag 99999").wait_for()
    clean.go(f"/project/{server.project_id}/cohorts/99999")
    page.get_by_role("alert").filter(has_text="no cohort 99999").wait_for()
    clean.shot("cohort-missing", full_page=False)
