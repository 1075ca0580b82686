"""What the cohort and flag pages read beyond CRUD, over HTTP on both stores: a
cohort's count at each calculation (``…/cohorts/{id}/history/``) and a release
condition's reach over the stored persons and groups (``…/user_blast_radius``),
which must agree with what ``/flags`` answers each of them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.integration.test_flags_remote import capture, define, flags

pytestmark = pytest.mark.both_modes

PRO = {"key": "plan", "type": "person", "value": "pro", "operator": "exact"}


def _people(live: LiveServer) -> None:
    capture(
        live,
        # An anonymous visitor: no person, so never counted, whatever it did.
        {
            "event": "$pageview",
            "distinct_id": "visitor",
            "properties": {"$process_person_profile": False, "plan": "pro"},
        },
        {
            "event": "$identify",
            "distinct_id": "ada",
            "properties": {"$anon_distinct_id": "anon-ada", "$set": {"plan": "pro", "seats": 3}},
        },
        {"event": "purchase", "distinct_id": "bob", "properties": {"$set": {"plan": "free"}}},
        {"event": "$pageview", "distinct_id": "cat", "properties": {"$set": {"plan": "Pro"}}},
        {"event": "$pageview", "distinct_id": "dan", "properties": {"$set": {"seats": 12}}},
        {
            "event": "$groupidentify",
            "distinct_id": "ada",
            "properties": {
                "$group_type": "company",
                "$group_key": "acme",
                "$group_set": {"seats": 50},
            },
        },
        {
            "event": "$groupidentify",
            "distinct_id": "bob",
            "properties": {
                "$group_type": "company",
                "$group_key": "tiny",
                "$group_set": {"seats": 2},
            },
        },
    )


def _radius(api: httpx.Client, condition: Any, group_type_index: Any = None) -> httpx.Response:
    return api.post(
        "/feature_flags/user_blast_radius",
        json={"condition": condition, "group_type_index": group_type_index},
    )


@pytest.fixture
def api(live_server: LiveServer) -> Any:
    _people(live_server)
    with live_server.api() as client:
        client.base_url = f"{live_server.url}/api/projects/{live_server.project_id}"
        yield client


def test_blast_radius_counts_the_persons_flags_would_match(
    live_server: LiveServer, api: httpx.Client
) -> None:
    everyone = _radius(api, {"properties": [], "rollout_percentage": 100})
    assert everyone.status_code == 200, everyone.text
    assert everyone.json() == {"users_affected": 4, "total_users": 4}
    # Flag operators: exact is case-insensitive, so cat's "Pro" counts; the
    # rollout does not change who is reached (PostHog's meaning).
    pro = _radius(api, {"properties": [PRO], "rollout_percentage": 10})
    assert pro.json() == {"users_affected": 2, "total_users": 4}
    many = {"key": "seats", "type": "person", "value": 5, "operator": "gt"}
    assert _radius(api, {"properties": [many]}).json()["users_affected"] == 1
    # A distinct id property: ada counts under her anonymous id too.
    by_id = {"key": "distinct_id", "type": "person", "value": "anon-ada", "operator": "exact"}
    assert _radius(api, {"properties": [by_id]}).json()["users_affected"] == 1
    # Each count agrees with /flags for every stored person.
    define(live_server, "pro", {"groups": [{"properties": [PRO], "rollout_percentage": 100}]})
    enabled = [
        d
        for d in ("ada", "bob", "cat", "dan")
        if flags(live_server, distinct_id=d)["flags"]["pro"]["enabled"]
    ]
    assert len(enabled) == pro.json()["users_affected"]


def test_blast_radius_over_cohorts_dependencies_and_groups(
    live_server: LiveServer, api: httpx.Client
) -> None:
    buyers = api.post(
        "/cohorts/",
        json={
            "name": "Buyers",
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
    ).json()
    in_buyers = {"key": "id", "type": "cohort", "value": buyers["id"], "operator": "in"}
    assert _radius(api, {"properties": [in_buyers]}).json() == {
        "users_affected": 1,
        "total_users": 4,
    }
    not_buyers = {**in_buyers, "operator": "not_in"}
    assert _radius(api, {"properties": [not_buyers]}).json()["users_affected"] == 3
    pro = define(live_server, "pro", {"groups": [{"properties": [PRO], "rollout_percentage": 100}]})
    depends = {
        "key": str(pro["id"]),
        "type": "flag",
        "value": True,
        "operator": "flag_evaluates_to",
    }
    assert _radius(api, {"properties": [depends]}).json()["users_affected"] == 2
    big = {"key": "seats", "type": "group", "group_type_index": 0, "value": 10, "operator": "gte"}
    companies = _radius(api, {"properties": [big]}, 0)
    assert companies.json() == {"users_affected": 1, "total_users": 2}
    assert _radius(api, {"properties": []}, 3).json() == {"users_affected": 0, "total_users": 0}


def test_blast_radius_refuses_a_bad_condition(api: httpx.Client) -> None:
    bad = _radius(api, {"properties": [{"key": "plan", "type": "person", "operator": "nope"}]})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_flag_filters"
    assert bad.json()["attr"].startswith("condition.properties[0]")
    assert _radius(api, "everyone").json()["attr"] == "condition"
    assert _radius(api, {}, 9).status_code == 400
    missing = api.post("/feature_flags/user_blast_radius/", json={})
    assert missing.status_code == 400 and missing.json()["attr"] == "condition"


def test_a_cohort_keeps_its_count_at_each_calculation(api: httpx.Client) -> None:
    made = api.post(
        "/cohorts/",
        json={"name": "Pro", "filters": {"properties": {"type": "AND", "values": [PRO]}}},
    ).json()
    assert made["count"] == 1  # cohorts compare case-sensitively: ada, not cat's "Pro"
    has_plan = {"key": "plan", "type": "person", "operator": "is_set"}
    changed = api.patch(
        f"/cohorts/{made['id']}/",
        json={"filters": {"properties": {"type": "AND", "values": [has_plan]}}},
    )
    assert changed.json()["count"] == 3
    api.post(f"/cohorts/{made['id']}/recalculate/")
    history = api.get(f"/cohorts/{made['id']}/history/")
    assert history.status_code == 200, history.text
    rows = history.json()["results"]
    assert [(r["version"], r["count"]) for r in rows] == [(3, 3), (2, 3), (1, 1)]
    assert rows[-1]["calculated_at"] == made["last_calculation"]
    first = api.get(f"/cohorts/{made['id']}/history/", params={"limit": 1, "offset": 2})
    assert [r["count"] for r in first.json()["results"]] == [1]
    static = api.post(
        "/cohorts/", json={"name": "List", "is_static": True, "distinct_ids": ["ada"]}
    ).json()
    api.patch(f"/cohorts/{static['id']}/", json={"distinct_ids": ["bob", "nobody"]})
    counts = [r["count"] for r in api.get(f"/cohorts/{static['id']}/history/").json()["results"]]
    assert counts == [2, 1]
    api.delete(f"/cohorts/{made['id']}/")
    assert api.get(f"/cohorts/{made['id']}/history/").status_code == 404
