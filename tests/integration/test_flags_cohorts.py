"""Flags that target cohorts, with the cohort service behind them: static and
behavioural cohorts from stored membership (persons only), property cohorts
evaluated on the spot and shipped to SDKs for local evaluation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from posthog import Posthog

from tests.conftest import LiveServer

pytestmark = pytest.mark.filterwarnings("ignore:`.*` is deprecated:DeprecationWarning")


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


def in_cohort(cohort_id: int, operator: str = "in") -> dict[str, Any]:
    return {
        "groups": [
            {
                "properties": [
                    {"key": "id", "type": "cohort", "value": cohort_id, "operator": operator}
                ],
                "rollout_percentage": 100,
            }
        ]
    }


def setup(live: LiveServer) -> httpx.Client:
    batch = [
        {"event": "$identify", "distinct_id": "ada", "properties": {"$set": {"plan": "pro"}}},
        {"event": "purchase", "distinct_id": "bob", "properties": {"$set": {"plan": "free"}}},
        {
            "event": "purchase",
            "distinct_id": "visitor",
            "properties": {"$process_person_profile": False},
        },
    ]
    assert (
        httpx.post(f"{live.url}/batch/", json={"api_key": live.token, "batch": batch}).status_code
        == 200
    )
    live.settle()
    return httpx.Client(
        base_url=f"{live.url}/api/projects/{live.project_id}",
        headers={"Authorization": f"Bearer {live.credentials.personal_api_key}"},
        timeout=30,
    )


def enabled(live: LiveServer, distinct_id: str, **body: Any) -> dict[str, bool]:
    answer = httpx.post(
        f"{live.url}/flags/?v=2", json={"token": live.token, "distinct_id": distinct_id, **body}
    )
    return {k: f["enabled"] for k, f in answer.json()["flags"].items()}


def test_flags_on_static_behavioural_and_property_cohorts(live_server: LiveServer) -> None:
    with setup(live_server) as api:
        static = api.post(
            "/cohorts/", json={"name": "Beta", "is_static": True, "distinct_ids": ["bob"]}
        ).json()
        buyers = api.post("/cohorts/", json={"name": "Buyers", "filters": BOUGHT}).json()
        pro = api.post("/cohorts/", json={"name": "Pro", "filters": PRO}).json()
        for key, cohort, operator in (
            ("beta", static, "in"),
            ("buyers", buyers, "in"),
            ("pro", pro, "in"),
            ("not-pro", pro, "not_in"),
        ):
            made = api.post(
                "/feature_flags/", json={"key": key, "filters": in_cohort(cohort["id"], operator)}
            )
            assert made.status_code == 201, made.text
        missing = api.post("/feature_flags/", json={"key": "ghost", "filters": in_cohort(987654)})
        assert missing.status_code == 201
    assert enabled(live_server, "ada") == {
        "beta": False,
        "buyers": False,
        "pro": True,
        "not-pro": False,
        "ghost": False,
    }
    assert enabled(live_server, "bob") == {
        "beta": True,
        "buyers": True,
        "pro": False,
        "not-pro": True,
        "ghost": False,
    }
    # The anonymous buyer did the event but is in no stored cohort; a property
    # cohort follows the properties its client sends, as local evaluation does.
    visitor = enabled(live_server, "visitor", person_properties={"plan": "pro"})
    assert visitor == {
        "beta": False,
        "buyers": False,
        "pro": True,
        "not-pro": False,
        "ghost": False,
    }


def test_property_cohorts_are_shipped_for_local_evaluation(live_server: LiveServer) -> None:
    with setup(live_server) as api:
        pro = api.post("/cohorts/", json={"name": "Pro", "filters": PRO}).json()
        static = api.post(
            "/cohorts/", json={"name": "Beta", "is_static": True, "distinct_ids": ["bob"]}
        ).json()
        api.post("/feature_flags/", json={"key": "pro", "filters": in_cohort(pro["id"])})
        api.post("/feature_flags/", json={"key": "beta", "filters": in_cohort(static["id"])})
    definitions = httpx.get(
        f"{live_server.url}/flags/definitions",
        params={"token": live_server.token},
        headers={"Authorization": f"Bearer {live_server.credentials.personal_api_key}"},
    ).json()
    assert set(definitions["cohorts"]) == {str(pro["id"])}  # a static cohort needs the server
    client = Posthog(
        live_server.token,
        host=live_server.url,
        personal_api_key=live_server.credentials.personal_api_key,
        send=False,
    )
    try:
        client.load_feature_flags()
        local = client.get_feature_flag(
            "pro", "someone", person_properties={"plan": "pro"}, only_evaluate_locally=True
        )
        assert local is True
        assert (
            client.get_feature_flag(
                "pro", "someone", person_properties={"plan": "free"}, only_evaluate_locally=True
            )
            is False
        )
        # the static cohort falls back to /flags, which knows bob is in it
        assert client.get_feature_flag("beta", "bob") is True
    finally:
        client.shutdown()
