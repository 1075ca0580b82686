"""Flags that target cohorts, over HTTP: a person-property cohort is decided from the
person's (and the request's) properties; behavioural and static cohorts from
their stored membership; local evaluation gets only the property cohorts."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import LiveServer
from tests.integration.test_flags_remote import capture, define, flags


def _cohort(live: LiveServer, **body: Any) -> int:
    with live.api() as api:
        made = api.post(f"/api/projects/{live.project_id}/cohorts/", json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _targeting(cohort_id: int, **extra: Any) -> dict[str, Any]:
    member = {"key": "id", "type": "cohort", "value": cohort_id, **extra}
    return {"groups": [{"properties": [member], "rollout_percentage": 100}]}


def test_flags_target_property_behavioural_and_static_cohorts(live_server: LiveServer) -> None:
    capture(
        live_server,
        {
            "event": "$pageview",
            "distinct_id": "anon-ada",
            "properties": {"$process_person_profile": False},
        },
        {
            "event": "purchase",
            "distinct_id": "anon-ada",
            "properties": {"$process_person_profile": False},
        },
        {
            "event": "$identify",
            "distinct_id": "ada",
            "properties": {"$anon_distinct_id": "anon-ada", "$set": {"plan": "pro"}},
        },
        {"event": "$pageview", "distinct_id": "bob", "properties": {"$set": {"plan": "free"}}},
        {
            "event": "purchase",
            "distinct_id": "visitor",
            "properties": {"$process_person_profile": False},
        },
    )
    pro = _cohort(
        live_server,
        name="pro",
        filters={
            "properties": {
                "type": "AND",
                "values": [{"key": "plan", "type": "person", "value": "pro"}],
            }
        },
    )
    buyers = _cohort(
        live_server,
        name="buyers",
        filters={
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
    )
    listed = _cohort(live_server, name="list", is_static=True, distinct_ids=["bob"])
    define(live_server, "for-pro", _targeting(pro))
    define(live_server, "for-buyers", _targeting(buyers))
    define(live_server, "for-list", _targeting(listed))
    define(live_server, "not-for-list", _targeting(listed, operator="not_in"))

    def enabled(distinct_id: str, **body: Any) -> dict[str, bool]:
        answer = flags(live_server, distinct_id=distinct_id, **body)["flags"]
        return {key: value["enabled"] for key, value in answer.items()}

    # ada bought anonymously, before she identified: she is a buyer.
    assert enabled("ada") == {
        "for-pro": True,
        "for-buyers": True,
        "for-list": False,
        "not-for-list": True,
    }
    assert enabled("bob") == {
        "for-pro": False,
        "for-buyers": False,
        "for-list": True,
        "not-for-list": False,
    }
    # A property cohort follows the request's properties at once...
    assert enabled("bob", person_properties={"plan": "pro"})["for-pro"]
    # ...and the anonymous buyer is in no cohort.
    assert enabled("visitor") == {
        "for-pro": False,
        "for-buyers": False,
        "for-list": False,
        "not-for-list": True,
    }

    with live_server.api() as api:
        definitions = api.get("/flags/definitions", params={"token": live_server.token})
    assert definitions.status_code == 200, definitions.text
    shipped = definitions.json()["cohorts"]
    assert set(shipped) == {str(pro)}  # behavioural and static ones need the server
    assert shipped[str(pro)]["values"][0]["key"] == "plan"


def test_an_unknown_cohort_matches_no_one(live_server: LiveServer) -> None:
    define(live_server, "ghost", _targeting(10**6))
    answer = httpx.post(
        live_server.url + "/flags/?v=2", json={"token": live_server.token, "distinct_id": "x"}
    )
    assert answer.status_code == 200 and not answer.json()["flags"]["ghost"]["enabled"]
