"""Remote evaluation over HTTP: /flags (v=2, v=4, legacy) and /decide with flags
defined through the API and persons and groups made by ingestion."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from magpie.flags.hashing import bucket
from tests.conftest import LiveServer

PRO = {"properties": [{"key": "plan", "value": "pro", "type": "person"}], "rollout_percentage": 100}
VARIANTS = {
    "variants": [
        {"key": "control", "rollout_percentage": 50},
        {"key": "test", "rollout_percentage": 50},
    ]
}


def define(live: LiveServer, key: str, filters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    with live.api() as api:
        made = api.post(
            f"/api/projects/{live.project_id}/feature_flags/",
            json={"key": key, "filters": filters, **fields},
        )
    assert made.status_code == 201, made.text
    return dict(made.json())


def capture(live: LiveServer, *events: dict[str, Any]) -> None:
    sent = httpx.post(f"{live.url}/batch/", json={"api_key": live.token, "batch": list(events)})
    assert sent.status_code == 200, sent.text
    live.settle()


def flags(live: LiveServer, path: str = "/flags/?v=2", **body: Any) -> dict[str, Any]:
    response = httpx.post(live.url + path, json={"token": live.token, **body})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_person_properties_from_the_store_and_the_request(live_server: LiveServer) -> None:
    define(
        live_server,
        "pro-only",
        {"groups": [PRO]},
    )
    capture(
        live_server,
        {"event": "$identify", "distinct_id": "ada", "properties": {"$set": {"plan": "pro"}}},
    )
    ada = flags(live_server, distinct_id="ada")["flags"]["pro-only"]
    assert ada["enabled"] and ada["reason"] == {
        "code": "condition_match",
        "condition_index": 0,
        "description": "Matched condition set 1",
    }
    assert ada["metadata"]["id"] and ada["metadata"]["version"] == 1
    # The request's person_properties win over the stored ones.
    overridden = flags(live_server, distinct_id="ada", person_properties={"plan": "free"})
    assert not overridden["flags"]["pro-only"]["enabled"]
    # An anonymous visitor has only what the client sends.
    anonymous = flags(live_server, distinct_id="visitor")["flags"]["pro-only"]
    assert (anonymous["enabled"], anonymous["reason"]["code"]) == (False, "no_condition_match")
    sent = flags(live_server, distinct_id="visitor", person_properties={"plan": "pro"})
    assert sent["flags"]["pro-only"]["enabled"]
    # ...and with only_use_override_person_properties the store is not asked.
    only = flags(
        live_server, "/flags/?v=2&only_use_override_person_properties=true", distinct_id="ada"
    )
    assert not only["flags"]["pro-only"]["enabled"]


def test_every_response_version(live_server: LiveServer) -> None:
    define(
        live_server,
        "mv",
        {
            "groups": [{"rollout_percentage": 100, "variant": "test"}],
            "multivariate": VARIANTS,
            "payloads": {"test": '{"n": 1}'},
        },
    )
    define(live_server, "off", {"groups": [{"rollout_percentage": 0}]})
    detailed = flags(live_server, "/flags/?v=4", distinct_id="u")["flags"]
    assert (detailed["mv"]["variant"], detailed["mv"]["metadata"]["payload"]) == (
        "test",
        '{"n": 1}',
    )
    assert (detailed["off"]["enabled"], detailed["off"]["reason"]["code"]) == (
        False,
        "out_of_rollout_bound",
    )
    legacy = flags(live_server, "/flags/", distinct_id="u")
    assert legacy["featureFlags"] == {"mv": "test", "off": False}
    assert legacy["featureFlagPayloads"] == {"mv": '{"n": 1}'}
    assert flags(live_server, "/decide/", distinct_id="u")["featureFlags"] == ["mv"]
    decide = flags(live_server, "/decide/?v=2", distinct_id="u")
    assert decide["featureFlags"] == {"mv": "test"} and decide["hasFeatureFlags"] is True
    only = flags(live_server, "/flags/?v=2", distinct_id="u", flag_keys_to_evaluate=["off"])
    assert list(only["flags"]) == ["off"]
    assert flags(live_server, "/flags/?v=2", distinct_id="u", disable_flags=True)["flags"] == {}
    config = httpx.get(f"{live_server.url}/array/{live_server.token}/config").json()
    assert config["hasFeatureFlags"] is True


def test_a_distinct_id_is_needed(live_server: LiveServer) -> None:
    define(live_server, "f", {"groups": [{}]})
    response = httpx.post(f"{live_server.url}/flags/?v=2", json={"token": live_server.token})
    assert response.status_code == 400 and response.json()["code"] == "missing_distinct_id"


def test_group_flags(live_server: LiveServer) -> None:
    capture(
        live_server,
        {
            "event": "$groupidentify",
            "distinct_id": "ada",
            "properties": {
                "$group_type": "company",
                "$group_key": "acme",
                "$group_set": {"seats": 50},
            },
        },
    )
    define(
        live_server,
        "big-companies",
        {
            "aggregation_group_type_index": 0,
            "groups": [
                {
                    "properties": [
                        {
                            "key": "seats",
                            "operator": "gte",
                            "value": 10,
                            "type": "group",
                            "group_type_index": 0,
                        }
                    ],
                    "rollout_percentage": 100,
                }
            ],
        },
    )
    assert flags(live_server, distinct_id="ada", groups={"company": "acme"})["flags"][
        "big-companies"
    ]["enabled"]
    small = flags(live_server, distinct_id="ada", groups={"company": "tiny"})["flags"][
        "big-companies"
    ]
    assert small["reason"]["code"] == "no_condition_match"
    told = flags(
        live_server,
        distinct_id="ada",
        groups={"company": "tiny"},
        group_properties={"company": {"seats": 11}},
    )
    assert told["flags"]["big-companies"]["enabled"]
    none = flags(live_server, distinct_id="ada")["flags"]["big-companies"]
    assert (none["enabled"], none["reason"]["code"]) == (False, "no_group_type")


def test_experience_continuity_keeps_the_anonymous_variant(live_server: LiveServer) -> None:
    define(
        live_server,
        "exp",
        {"groups": [{"rollout_percentage": 100}], "multivariate": VARIANTS},
        ensure_experience_continuity=True,
    )
    # ids whose variants differ, so keeping the variant is not luck
    anon, user = next(
        (f"anon-{n}", f"user-{n}")
        for n in range(100)
        if (bucket("exp", f"anon-{n}", "variant") < 0.5)
        != (bucket("exp", f"user-{n}", "variant") < 0.5)
    )
    before = flags(live_server, distinct_id=anon)["flags"]["exp"]["variant"]
    # identify: posthog-js asks /flags with the anonymous id once, before ingestion ran
    during = flags(live_server, distinct_id=user, **{"$anon_distinct_id": anon})["flags"]["exp"][
        "variant"
    ]
    capture(
        live_server,
        {"event": "$identify", "distinct_id": user, "properties": {"$anon_distinct_id": anon}},
    )
    after = flags(live_server, distinct_id=user)["flags"]["exp"]["variant"]
    assert before == during == after
    without = define(
        live_server,
        "no-continuity",
        {"groups": [{"rollout_percentage": 100}], "multivariate": VARIANTS},
    )
    assert without["ensure_experience_continuity"] is False


def test_changes_are_seen_at_once(live_server: LiveServer) -> None:
    made = define(live_server, "toggle", {"groups": [{"rollout_percentage": 100}]})
    assert flags(live_server, distinct_id="u")["flags"]["toggle"]["enabled"]
    with live_server.api() as api:
        api.patch(
            f"/api/projects/{live_server.project_id}/feature_flags/{made['id']}/",
            json={"active": False},
        )
    assert flags(live_server, distinct_id="u")["flags"] == {}
    with live_server.api() as api:
        api.patch(
            f"/api/projects/{live_server.project_id}/feature_flags/{made['id']}/",
            json={"active": True, "filters": {"groups": [{"rollout_percentage": 0}]}},
        )
    assert not flags(live_server, distinct_id="u")["flags"]["toggle"]["enabled"]


@pytest.mark.parametrize("path", ["/flags/?v=2", "/decide/?v=3"])
def test_flag_dependencies_over_http(live_server: LiveServer, path: str) -> None:
    base = define(live_server, "base", {"groups": [PRO]})
    define(
        live_server,
        "child",
        {
            "groups": [
                {
                    "properties": [
                        {
                            "key": str(base["id"]),
                            "type": "flag",
                            "operator": "flag_evaluates_to",
                            "value": True,
                        }
                    ]
                }
            ]
        },
    )
    on = flags(live_server, path, distinct_id="x", person_properties={"plan": "pro"})
    off = flags(live_server, path, distinct_id="x")
    if path.startswith("/flags"):
        assert on["flags"]["child"]["enabled"] and not off["flags"]["child"]["enabled"]
    else:
        assert on["featureFlags"]["child"] is True and off["featureFlags"]["child"] is False


def test_stored_changes_are_seen_once_ingested(live_server: LiveServer) -> None:
    """What /flags reads of persons and groups is kept in memory: each ingestion
    commit that changes a person or a group must still be seen by the next request."""
    define(live_server, "pro-only", {"groups": [PRO]})
    define(
        live_server,
        "big-companies",
        {
            "aggregation_group_type_index": 0,
            "groups": [
                {
                    "properties": [
                        {
                            "key": "seats",
                            "operator": "gte",
                            "value": 10,
                            "type": "group",
                            "group_type_index": 0,
                        }
                    ],
                    "rollout_percentage": 100,
                }
            ],
        },
    )

    def answer(distinct_id: str) -> tuple[bool, str]:
        got = flags(live_server, distinct_id=distinct_id, groups={"company": "acme"})["flags"]
        return got["pro-only"]["enabled"], got["big-companies"]["reason"]["code"]

    assert answer("grace") == (False, "no_group_type")  # no person, no group type yet
    capture(
        live_server,
        {"event": "$identify", "distinct_id": "grace", "properties": {"$set": {"plan": "pro"}}},
        {
            "event": "$groupidentify",
            "distinct_id": "grace",
            "properties": {
                "$group_type": "company",
                "$group_key": "acme",
                "$group_set": {"seats": 5},
            },
        },
    )
    assert answer("grace") == (True, "no_condition_match")
    capture(
        live_server,
        {"event": "$set", "distinct_id": "grace", "properties": {"$set": {"plan": "free"}}},
        {
            "event": "$groupidentify",
            "distinct_id": "grace",
            "properties": {
                "$group_type": "company",
                "$group_key": "acme",
                "$group_set": {"seats": 50},
            },
        },
    )
    assert answer("grace") == (False, "condition_match")
    # An id that joins the person later has the person's properties at once.
    assert answer("grace-phone") == (False, "condition_match")
    capture(
        live_server,
        {"event": "$set", "distinct_id": "grace", "properties": {"$set": {"plan": "pro"}}},
        {
            "event": "$create_alias",
            "distinct_id": "grace",
            "properties": {"alias": "grace-phone"},
        },
    )
    assert answer("grace-phone") == (True, "condition_match")
    assert answer("grace") == (True, "condition_match")


def test_a_person_read_with_the_whole_project_then_changed(live_server: LiveServer) -> None:
    """The first request reads every id of the project at once; a person changed
    after that is read again."""
    define(live_server, "pro-only", {"groups": [PRO]})
    capture(
        live_server,
        {"event": "$identify", "distinct_id": "linus", "properties": {"$set": {"plan": "pro"}}},
    )
    assert flags(live_server, distinct_id="linus")["flags"]["pro-only"]["enabled"]
    assert not flags(live_server, distinct_id="nobody")["flags"]["pro-only"]["enabled"]
    capture(
        live_server,
        {"event": "$set", "distinct_id": "linus", "properties": {"$set": {"plan": "free"}}},
        {"event": "$identify", "distinct_id": "nobody", "properties": {"$set": {"plan": "pro"}}},
    )
    assert not flags(live_server, distinct_id="linus")["flags"]["pro-only"]["enabled"]
    assert flags(live_server, distinct_id="nobody")["flags"]["pro-only"]["enabled"]
