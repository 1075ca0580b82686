"""posthog-python (the official SDK) with Magpie's flags: remote evaluation through
/flags?v=4, local evaluation from /flags/definitions, and the two agreeing."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from posthog import Posthog

from tests.conftest import LiveServer
from tests.integration.test_posthog_python_sdk import SdkHarness, sdk  # noqa: F401 - fixture

pytestmark = pytest.mark.filterwarnings("ignore:`.*` is deprecated:DeprecationWarning")

VARIANTS = {
    "variants": [
        {"key": "control", "rollout_percentage": 34},
        {"key": "test", "rollout_percentage": 33},
        {"key": "third", "rollout_percentage": 33},
    ]
}
FLAGS: dict[str, dict[str, Any]] = {
    "rollout-10": {"groups": [{"properties": [], "rollout_percentage": 10}]},
    "rollout-50": {"groups": [{"properties": [], "rollout_percentage": 50}]},
    "rollout-75-5": {"groups": [{"properties": [], "rollout_percentage": 75.5}]},
    "variants": {
        "groups": [{"properties": [], "rollout_percentage": 100}],
        "multivariate": VARIANTS,
    },
    "variants-half": {
        "groups": [{"properties": [], "rollout_percentage": 50}],
        "multivariate": VARIANTS,
        "payloads": {"test": '{"copy": "B"}', "control": '{"copy": "A"}'},
    },
    "pro-plan": {
        "groups": [
            {
                "properties": [{"key": "plan", "value": "pro", "type": "person"}],
                "rollout_percentage": 100,
            }
        ],
        "payloads": {"true": '{"limit": 100}'},
    },
    "acme-staff": {
        "groups": [
            {
                "properties": [
                    {
                        "key": "email",
                        "operator": "icontains",
                        "value": "@acme.com",
                        "type": "person",
                    }
                ],
                "rollout_percentage": 60,
            }
        ]
    },
    "adults-or-pro": {
        "groups": [
            {
                "properties": [{"key": "age", "operator": "gte", "value": 18, "type": "person"}],
                "rollout_percentage": 40,
                "variant": "test",
            },
            {
                "properties": [{"key": "plan", "value": ["pro", "team"], "type": "person"}],
                "rollout_percentage": 100,
            },
        ],
        "multivariate": VARIANTS,
    },
    "big-companies": {
        "aggregation_group_type_index": 0,
        "groups": [
            {
                "properties": [
                    {
                        "key": "size",
                        "operator": "gt",
                        "value": 100,
                        "type": "group",
                        "group_type_index": 0,
                    }
                ],
                "rollout_percentage": 70,
            }
        ],
        "multivariate": VARIANTS,
    },
}


def define(live: LiveServer, key: str, filters: dict[str, Any], **fields: Any) -> None:
    with live.api() as api:
        made = api.post(
            f"/api/projects/{live.project_id}/feature_flags/",
            json={"key": key, "filters": filters, **fields},
        )
    assert made.status_code == 201, made.text


def make_company_type(live: LiveServer) -> None:
    """Group type 0 is "company", made the way SDKs make it."""
    sent = httpx.post(
        f"{live.url}/batch/",
        json={
            "api_key": live.token,
            "batch": [
                {
                    "event": "$groupidentify",
                    "distinct_id": "setup",
                    "properties": {
                        "$group_type": "company",
                        "$group_key": "acme",
                        "$group_set": {"size": 500},
                    },
                }
            ],
        },
    )
    assert sent.status_code == 200
    live.settle()


def test_remote_evaluation(sdk: SdkHarness) -> None:  # noqa: F811
    live = sdk.server
    make_company_type(live)
    for key in ("pro-plan", "variants-half", "big-companies"):
        define(live, key, FLAGS[key])
    define(live, "off", {"groups": [{"rollout_percentage": 0}]})
    httpx.post(
        f"{live.url}/batch/",
        json={
            "api_key": live.token,
            "batch": [
                {
                    "event": "$identify",
                    "distinct_id": "pro-user",
                    "properties": {"$set": {"plan": "pro"}},
                }
            ],
        },
    )
    live.settle()
    client = sdk.client()
    # stored person properties decide, without the SDK sending any
    assert client.feature_enabled("pro-plan", "pro-user") is True
    assert client.feature_enabled("pro-plan", "someone-else") is False
    assert client.feature_enabled("pro-plan", "someone-else", person_properties={"plan": "pro"})
    assert client.get_feature_flag_payload("pro-plan", "pro-user") == {"limit": 100}
    variant = client.get_feature_flag("variants-half", "pro-user")
    expected = {"control": {"copy": "A"}, "test": {"copy": "B"}}
    if variant:
        assert variant in ("control", "test", "third")
        assert client.get_feature_flag_payload("variants-half", "pro-user") == expected.get(variant)
    assert client.feature_enabled("off", "pro-user") is False
    # group flags by the groups passed; the stored company has 500 seats
    assert client.get_feature_flag("big-companies", "pro-user") is False
    grouped = [
        client.get_feature_flag("big-companies", f"u{n}", groups={"company": "acme"})
        for n in range(5)
    ]
    assert len(set(grouped)) == 1  # bucketed by the company, not the person
    everything = client.get_all_flags("pro-user", groups={"company": "acme"})
    assert set(everything) == {"pro-plan", "variants-half", "big-companies", "off"}
    assert everything["pro-plan"] is True and everything["off"] is False
    assert all(call.query == "v=4" for call in sdk.sent("/flags/"))
    sdk.finish()


def test_local_evaluation_with_etag(sdk: SdkHarness) -> None:  # noqa: F811
    live = sdk.server
    make_company_type(live)
    for key in ("pro-plan", "variants", "big-companies"):
        define(live, key, FLAGS[key])
    client = sdk.client(personal_api_key=live.credentials.personal_api_key)
    client.load_feature_flags()
    assert client.feature_enabled(
        "pro-plan", "x", person_properties={"plan": "pro"}, only_evaluate_locally=True
    )
    assert not client.feature_enabled(
        "pro-plan", "x", person_properties={"plan": "free"}, only_evaluate_locally=True
    )
    assert client.get_feature_flag_payload(
        "pro-plan",
        "x",
        match_value=True,
        person_properties={"plan": "pro"},
        only_evaluate_locally=True,
    ) == {"limit": 100}
    assert client.get_feature_flag("variants", "x", only_evaluate_locally=True) in (
        "control",
        "test",
        "third",
    )
    big = client.get_feature_flag(
        "big-companies",
        "x",
        groups={"company": "acme"},
        group_properties={"company": {"size": 1000}},
        only_evaluate_locally=True,
    )
    assert big is False or big in ("control", "test", "third")
    assert sdk.sent("/flags/") == []
    client.load_feature_flags()  # unchanged: 304
    definitions = sdk.sent("/flags/definitions")
    assert len(definitions) >= 2
    assert [r.status for r in definitions][-1] == 304
    assert definitions[-1].headers.get("if-none-match")
    sdk.finish()


def test_definitions_need_a_key_with_the_scope(live_server: LiveServer) -> None:
    url = f"{live_server.url}/flags/definitions?token={live_server.token}"
    assert httpx.get(url).status_code == 401
    assert (
        httpx.get(url, headers={"Authorization": f"Bearer {live_server.token}"}).status_code == 401
    )
    with live_server.api() as api:
        weak = api.post(
            "/api/personal_api_keys/", json={"label": "w", "scopes": ["insight:read"]}
        ).json()
        strong = api.post(
            "/api/personal_api_keys/", json={"label": "s", "scopes": ["feature_flag:read"]}
        ).json()
    assert httpx.get(url, headers={"Authorization": f"Bearer {weak['value']}"}).status_code == 403
    ok = httpx.get(url, headers={"Authorization": f"Bearer {strong['value']}"})
    assert ok.status_code == 200 and ok.json()["flags"] == [] and ok.headers["etag"]
    same = httpx.get(
        url,
        headers={"Authorization": f"Bearer {strong['value']}", "If-None-Match": ok.headers["etag"]},
    )
    assert same.status_code == 304
    legacy = httpx.get(
        f"{live_server.url}/api/feature_flag/local_evaluation/?token={live_server.token}&send_cohorts",
        headers={"Authorization": f"Bearer {strong['value']}"},
    )
    assert legacy.json() == ok.json()
    unknown = httpx.get(
        f"{live_server.url}/flags/definitions?token=phc_nope",
        headers={"Authorization": f"Bearer {strong['value']}"},
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize("ids", [1_000, pytest.param(10_000, marks=pytest.mark.slow, id="10000")])
def test_local_and_remote_evaluation_agree(live_server: LiveServer, ids: int) -> None:
    """posthog-python evaluating locally from Magpie's definitions and Magpie's /flags
    give every id the same value of every flag (10,000 ids: ``make test-slow``)."""
    make_company_type(live_server)
    for key, filters in FLAGS.items():
        define(live_server, key, filters)
    with live_server.api() as api:
        flag_ids = {
            f["key"]: f["id"]
            for f in api.get(f"/api/projects/{live_server.project_id}/feature_flags/").json()[
                "results"
            ]
        }
    # flags that depend on other flags, two deep
    depends = {
        "properties": [
            {
                "key": str(flag_ids["pro-plan"]),
                "type": "flag",
                "operator": "flag_evaluates_to",
                "value": True,
            }
        ],
        "rollout_percentage": 80,
    }
    define(live_server, "needs-pro-plan", {"groups": [depends]})
    with live_server.api() as api:
        needs = api.get(
            f"/api/projects/{live_server.project_id}/feature_flags/", params={"search": "needs-pro"}
        ).json()["results"][0]["id"]
    define(
        live_server,
        "needs-variant",
        {
            "groups": [
                {
                    "properties": [
                        {
                            "key": str(needs),
                            "type": "flag",
                            "operator": "flag_evaluates_to",
                            "value": True,
                        },
                        {
                            "key": str(flag_ids["variants"]),
                            "type": "flag",
                            "operator": "flag_evaluates_to",
                            "value": "test",
                        },
                    ]
                }
            ]
        },
    )
    client = Posthog(
        live_server.token,
        host=live_server.url,
        personal_api_key=live_server.credentials.personal_api_key,
        send=False,
    )
    client.load_feature_flags()
    rng = random.Random(16)
    disagreements = []
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        for n in range(ids):
            distinct_id = f"user-{n}-{rng.random()}"
            person = {
                "plan": rng.choice(["free", "pro", "team", "Pro"]),
                "email": rng.choice([f"u{n}@acme.com", f"u{n}@ACME.COM", f"u{n}@other.io"]),
                "age": rng.randint(10, 40),
            }
            groups = {"company": f"co-{rng.randint(0, 500)}"}
            group_properties = {"company": {"size": rng.randint(1, 300)}}
            local = client.get_all_flags(
                distinct_id,
                person_properties=person,
                groups=groups,
                group_properties=group_properties,
                only_evaluate_locally=True,
            )
            remote = http.post(
                "/flags/?v=4",
                json={
                    "token": live_server.token,
                    "distinct_id": distinct_id,
                    "person_properties": person,
                    "groups": groups,
                    "group_properties": group_properties,
                },
            ).json()["flags"]
            values = {
                k: (f["variant"] or True) if f["enabled"] else False for k, f in remote.items()
            }
            if local != values:
                disagreements.append((distinct_id, person, groups, group_properties, local, values))
    client.shutdown()
    assert disagreements == []
