"""/api/projects/{id}/feature_flags/: PostHog's shape, filters checked with clear
errors, keys unique per project, soft delete, versions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

ROLLOUT = {"groups": [{"properties": [], "rollout_percentage": 30}]}


def base(live_server: LiveServer) -> str:
    return f"/api/projects/{live_server.project_id}/feature_flags"


def create(api: httpx.Client, url: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"{url}/", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_read_change_and_delete(live_server: LiveServer) -> None:
    url = base(live_server)
    with live_server.api() as api:
        made = create(api, url, key="new-checkout", name="New checkout", filters=ROLLOUT)
        assert made["key"] == "new-checkout" and made["filters"]["groups"] == ROLLOUT["groups"]
        assert (made["active"], made["deleted"], made["version"]) == (True, False, 1)
        assert made["is_simple_flag"] and made["rollout_percentage"] == 30
        assert made["ensure_experience_continuity"] is False
        assert made["created_by"]["email"].startswith("personal API key")
        assert api.get(f"{url}/{made['id']}/").json() == made

        changed = api.patch(f"{url}/{made['id']}/", json={"active": False, "name": "Off"}).json()
        assert (changed["active"], changed["name"], changed["version"]) == (False, "Off", 2)
        listed = api.get(f"{url}/").json()
        assert listed["count"] == 1 and [f["id"] for f in listed["results"]] == [made["id"]]
        assert api.get(f"{url}/", params={"active": "true"}).json()["results"] == []
        assert len(api.get(f"{url}/", params={"search": "CHECK"}).json()["results"]) == 1

        assert api.patch(f"{url}/{made['id']}/", json={"deleted": True}).json()["deleted"]
        assert api.get(f"{url}/{made['id']}/").status_code == 404
        assert api.get(f"{url}/").json()["results"] == []
        again = create(api, url, key="new-checkout")  # the key is free again
        assert api.delete(f"{url}/{again['id']}/").status_code == 204
        assert api.get(f"{url}/{again['id']}/").status_code == 404


def test_versions_say_who_changed_what(live_server: LiveServer) -> None:
    url = base(live_server)
    with live_server.api() as api:
        made = create(api, url, key="f", filters=ROLLOUT)
        api.patch(
            f"{url}/{made['id']}/", json={"filters": {"groups": [{"rollout_percentage": 60}]}}
        )
        versions = api.get(f"{url}/{made['id']}/versions/").json()["results"]
        assert [v["version"] for v in versions] == [2, 1]
        assert versions[0]["state"]["filters"]["groups"][0]["rollout_percentage"] == 60
        assert versions[1]["state"]["filters"]["groups"][0]["rollout_percentage"] == 30
        assert all(v["changed_by"] and v["changed_at"].endswith("Z") for v in versions)


def test_a_key_is_unique_per_project(live_server: LiveServer) -> None:
    url = base(live_server)
    with live_server.api() as api:
        create(api, url, key="once")
        taken = api.post(f"{url}/", json={"key": "once"})
        assert taken.status_code == 400
        assert (taken.json()["code"], taken.json()["attr"]) == ("unique", "key")
        other = create(api, url, key="other")
        renamed = api.patch(f"{url}/{other['id']}/", json={"key": "once"})
        assert (renamed.status_code, renamed.json()["code"]) == (400, "unique")


BAD_FILTERS = [
    ([], "filters"),
    ({"groups": {}}, "filters.groups"),
    ({"groups": [{"rollout_percentage": 101}]}, "filters.groups[0].rollout_percentage"),
    (
        {"groups": [{"properties": [{"key": "a", "operator": "sort_of"}]}]},
        "filters.groups[0].properties[0].operator",
    ),
    (
        {"groups": [{"properties": [{"key": "a", "operator": "gt", "value": "many"}]}]},
        "filters.groups[0].properties[0].value",
    ),
    (
        {"groups": [{"properties": [{"key": "a", "operator": "regex", "value": "(open"}]}]},
        "filters.groups[0].properties[0].value",
    ),
    (
        {"groups": [{"properties": [{"key": "a", "operator": "is_date_after", "value": "soon"}]}]},
        "filters.groups[0].properties[0].value",
    ),
    (
        {"groups": [{"properties": [{"key": "a", "type": "planet"}]}]},
        "filters.groups[0].properties[0].type",
    ),
    (
        {"groups": [{"properties": [{"key": "id", "type": "cohort", "value": "x"}]}]},
        "filters.groups[0].properties[0].value",
    ),
    (
        {"groups": [{"properties": [{"key": "999", "type": "flag", "value": True}]}]},
        "filters.groups[0].properties[0].key",
    ),
    (
        {"multivariate": {"variants": [{"key": "a", "rollout_percentage": 60}]}},
        "filters.multivariate",
    ),
    (
        {
            "multivariate": {
                "variants": [
                    {"key": "a", "rollout_percentage": 50},
                    {"key": "a", "rollout_percentage": 50},
                ]
            }
        },
        "filters.multivariate.variants[1].key",
    ),
    ({"groups": [{"variant": "nope"}]}, "filters.groups[0].variant"),
    ({"payloads": {"true": "{not json"}}, "filters.payloads.true"),
    ({"payloads": {"other": "1"}}, "filters.payloads.other"),
    ({"aggregation_group_type_index": 9}, "filters.aggregation_group_type_index"),
    ({"holdout": {"id": 1, "exclusion_percentage": 200}}, "filters.holdout.exclusion_percentage"),
    ({"bucketing_identifier": "ip"}, "filters.bucketing_identifier"),
]


@pytest.mark.parametrize(("filters", "attr"), BAD_FILTERS)
def test_filters_are_checked_with_an_error_that_says_where(
    live_server: LiveServer, filters: Any, attr: str
) -> None:
    with live_server.api() as api:
        refused = api.post(f"{base(live_server)}/", json={"key": "k", "filters": filters})
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert (body["attr"], body["type"]) == (attr, "validation_error")
    assert body["code"] in ("invalid_flag_filters", "invalid_input")


def test_bad_keys_and_dependency_cycles(live_server: LiveServer) -> None:
    url = base(live_server)
    with live_server.api() as api:
        for key in ("", "has space", "x" * 401, 5):
            assert api.post(f"{url}/", json={"key": key}).status_code == 400
        a = create(api, url, key="a")
        b = create(
            api,
            url,
            key="b",
            filters={
                "groups": [{"properties": [{"key": str(a["id"]), "type": "flag", "value": True}]}]
            },
        )
        cycle = {"groups": [{"properties": [{"key": str(b["id"]), "type": "flag", "value": True}]}]}
        refused = api.patch(f"{url}/{a['id']}/", json={"filters": cycle})
        assert refused.status_code == 400 and "back to this flag" in refused.json()["detail"]
        itself = {
            "groups": [{"properties": [{"key": str(a["id"]), "type": "flag", "value": True}]}]
        }
        assert api.patch(f"{url}/{a['id']}/", json={"filters": itself}).status_code == 400


def test_payloads_are_kept_as_json_text(live_server: LiveServer) -> None:
    with live_server.api() as api:
        made = create(
            api,
            base(live_server),
            key="p",
            filters={"groups": [{}], "payloads": {"true": {"a": 1}}},
        )
    assert made["filters"]["payloads"] == {"true": '{"a":1}'}


def test_another_project_s_flags_are_not_found(live_server: LiveServer) -> None:
    with live_server.api() as api:
        made = create(api, base(live_server), key="mine")
        other = api.post("/api/projects/", json={"name": "other"}).json()["id"]
        assert api.get(f"/api/projects/{other}/feature_flags/{made['id']}/").status_code == 404
        assert api.get(f"/api/projects/{other}/feature_flags/").json()["results"] == []


def test_usage_from_feature_flag_called_events(live_server: LiveServer) -> None:
    url = base(live_server)
    with live_server.api() as api:
        made = create(api, url, key="checkout", filters=ROLLOUT)
        batch = [
            {
                "event": "$feature_flag_called",
                "distinct_id": who,
                "properties": {"$feature_flag": "checkout", "$feature_flag_response": value},
            }
            for who, value in (("a", True), ("a", True), ("b", False), ("c", True))
        ]
        assert (
            httpx.post(
                f"{live_server.url}/batch/", json={"api_key": live_server.token, "batch": batch}
            ).status_code
            == 200
        )
        live_server.settle()
        usage = api.get(f"{url}/{made['id']}/usage/").json()
    assert usage["total_calls"] == 4
    assert usage["results"] == [
        {"value": "true", "calls": 3, "distinct_ids": 2},
        {"value": "false", "calls": 1, "distinct_ids": 1},
    ]
