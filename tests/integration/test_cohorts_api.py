"""/api/projects/{id}/cohorts/ over real HTTP: computed and static cohorts, members,
uploads, soft deletion and the errors bad definitions get."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer


def _one(*leaves: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"type": "OR", "values": [{"type": "AND", "values": list(leaves)}]}}


PRO = _one({"key": "plan", "type": "person", "value": "pro", "operator": "exact"})
BOUGHT = _one(
    {
        "key": "purchase",
        "type": "behavioral",
        "value": "performed_event",
        "time_value": 30,
        "time_interval": "day",
    }
)


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    batch = [
        {
            "event": "$pageview",
            "distinct_id": "anon-1",
            "properties": {"$process_person_profile": False},
        },
        {
            "event": "$identify",
            "distinct_id": "ada",
            "properties": {"$anon_distinct_id": "anon-1", "$set": {"plan": "pro"}},
        },
        {
            "event": "purchase",
            "distinct_id": "anon-2",
            "properties": {"$process_person_profile": False},
        },
        {"event": "purchase", "distinct_id": "bob", "properties": {"$set": {"plan": "free"}}},
        {"event": "$pageview", "distinct_id": "cat", "properties": {"$set": {"plan": "pro"}}},
    ]
    response = httpx.post(
        live_server.url + "/batch/", json={"api_key": live_server.token, "batch": batch}
    )
    response.raise_for_status()
    live_server.settle()
    with live_server.api() as client:
        client.base_url = f"{live_server.url}/api/projects/{live_server.project_id}"
        yield client


def _members(api: httpx.Client, cohort_id: int, **params: Any) -> list[str]:
    response = api.get(f"/cohorts/{cohort_id}/persons/", params=params)
    assert response.status_code == 200, response.text
    return sorted(p["distinct_ids"][0] for p in response.json()["results"])


def test_a_computed_cohort_is_counted_at_once_and_recomputed_when_changed(
    api: httpx.Client,
) -> None:
    made = api.post("/cohorts/", json={"name": "Pro", "filters": PRO})
    assert made.status_code == 201, made.text
    cohort = made.json()
    assert cohort["count"] == 2 and cohort["is_static"] is False
    assert cohort["cohort_type"] == "person_property" and cohort["last_calculation"]
    assert _members(api, cohort["id"]) == ["ada", "cat"]
    pages = _members(api, cohort["id"], limit=1) + _members(api, cohort["id"], limit=1, offset=1)
    assert sorted(pages) == ["ada", "cat"]
    changed = api.patch(f"/cohorts/{cohort['id']}/", json={"filters": BOUGHT, "name": "Buyers"})
    assert changed.status_code == 200, changed.text
    # The anonymous buyer is no member; bob is.
    assert changed.json()["count"] == 1 and changed.json()["cohort_type"] == "behavioral"
    assert changed.json()["name"] == "Buyers"
    assert _members(api, cohort["id"]) == ["bob"]
    again = api.post(f"/cohorts/{cohort['id']}/recalculate/")
    assert again.status_code == 200 and again.json()["version"] == 3
    listed = api.get("/cohorts/").json()["results"]
    assert [c["id"] for c in listed] == [cohort["id"]]
    assert api.get(f"/cohorts/{cohort['id']}/").json()["count"] == 1


def test_a_static_cohort_from_a_csv_upload_and_a_json_list(api: httpx.Client) -> None:
    csv = b"distinct_id\nanon-1\nanon-2\nbob\n\n"
    made = api.post(
        "/cohorts/",
        data={"name": "Beta", "is_static": "true"},
        files={"csv": ("beta.csv", csv, "text/csv")},
    )
    assert made.status_code == 201, made.text
    cohort = made.json()
    # anon-1 is ada's id now; anon-2 never became anyone.
    assert cohort["is_static"] and cohort["cohort_type"] == "static" and cohort["count"] == 2
    assert _members(api, cohort["id"]) == ["ada", "bob"]
    added = api.patch(f"/cohorts/{cohort['id']}/", json={"distinct_ids": ["cat", "ada"]})
    assert added.status_code == 200 and added.json()["count"] == 3
    listed = api.post(
        "/cohorts/", json={"name": "List", "is_static": True, "distinct_ids": ["cat"]}
    )
    assert listed.status_code == 201 and listed.json()["count"] == 1


def test_deleting_keeps_the_cohort_but_hides_it(api: httpx.Client) -> None:
    cohort = api.post("/cohorts/", json={"name": "Pro", "filters": PRO}).json()
    assert api.delete(f"/cohorts/{cohort['id']}/").status_code == 204
    assert api.get(f"/cohorts/{cohort['id']}/").status_code == 404
    assert api.get(f"/cohorts/{cohort['id']}/persons/").status_code == 404
    assert api.get("/cohorts/").json()["results"] == []
    nested = api.post(
        "/cohorts/", json={"filters": _one({"key": "id", "type": "cohort", "value": cohort["id"]})}
    )
    assert nested.status_code == 400 and "no cohort" in nested.json()["detail"]


@pytest.mark.parametrize(
    ("body", "code", "attr"),
    [
        ({"name": "x"}, "invalid_input", "filters"),
        ({"filters": {"properties": {"type": "XOR", "values": []}}}, "invalid_input", "filters"),
        (
            {"filters": _one({"key": "plan", "type": "person", "value": "x", "negation": True})},
            "invalid_input",
            "filters",
        ),
        (
            {"filters": _one({"key": "plan", "type": "person", "operator": "bogus"})},
            "invalid_input",
            "operator",
        ),
        ({"filters": "everyone"}, "invalid_input", "filters"),
    ],
)
def test_bad_definitions_are_refused_with_a_code(
    api: httpx.Client, body: dict[str, Any], code: str, attr: str
) -> None:
    response = api.post("/cohorts/", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code and response.json()["attr"] == attr
    assert api.get("/cohorts/").json()["results"] == []


def test_a_cycle_is_refused(api: httpx.Client) -> None:
    first = api.post("/cohorts/", json={"filters": PRO}).json()
    second = api.post(
        "/cohorts/", json={"filters": _one({"key": "id", "type": "cohort", "value": first["id"]})}
    ).json()
    response = api.patch(
        f"/cohorts/{first['id']}/",
        json={"filters": _one({"key": "id", "type": "cohort", "value": second["id"]})},
    )
    assert response.status_code == 400 and response.json()["code"] == "cohort_cycle"


def test_a_bad_upload_is_refused(api: httpx.Client) -> None:
    response = api.post(
        "/cohorts/", data={"name": "x"}, files={"list": ("a.csv", b"ada", "text/csv")}
    )
    assert response.status_code == 400 and response.json()["attr"] == "csv"
    response = api.post(
        "/cohorts/", data={"name": "x"}, files={"csv": ("a.csv", b"\xff\xfe\x00", "text/csv")}
    )
    assert response.status_code == 400 and response.json()["attr"] == "csv"
