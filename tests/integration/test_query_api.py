"""POST /api/projects/{id}/query/ over HTTP, and project settings."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.both_modes


def test_query_api(live_server: LiveServer) -> None:
    httpx.post(
        live_server.url + "/batch/",
        json={
            "api_key": live_server.token,
            "batch": [
                {
                    "event": "$pageview",
                    "distinct_id": f"u{i}",
                    "properties": {"$browser": "Chrome" if i % 2 else "Safari"},
                }
                for i in range(6)
            ],
        },
    )
    live_server.settle()
    url = f"/api/projects/{live_server.project_id}/query/"
    with live_server.api() as api:
        result = api.post(
            url,
            json={
                "query": {
                    "kind": "HogQLQuery",
                    "query": "SELECT properties.$browser, count() FROM events"
                    " GROUP BY 1 ORDER BY 1",
                }
            },
        )
        assert result.status_code == 200, result.text
        body = result.json()
        assert body["columns"] == ["$browser", "count()"]
        assert body["results"] == [["Chrome", 3], ["Safari", 3]]
        assert set(body) >= {"columns", "types", "results", "hogql", "timings"}

        trends = api.post(
            url,
            json={
                "query": {
                    "kind": "TrendsQuery",
                    "series": [{"event": "$pageview", "math": "dau"}],
                    "dateRange": {"date_from": "-1d"},
                }
            },
        ).json()
        assert sum(trends["results"][0]["data"]) == 6

        bad = api.post(url, json={"query": {"kind": "HogQLQuery", "query": "SELECT x FROM nope"}})
        assert bad.status_code == 400
        assert bad.json()["code"] == "unknown_table" and "nope" in bad.json()["detail"]
        unknown_kind = api.post(url, json={"query": {"kind": "MagicQuery"}})
        assert unknown_kind.status_code == 400 and unknown_kind.json()["attr"] == "kind"
        invalid = api.post(url, json={"query": {"kind": "TrendsQuery", "series": []}})
        assert invalid.status_code == 400 and invalid.json()["code"] == "invalid_input"
        not_json = api.post(url, content=b"{", headers={"Content-Type": "application/json"})
        assert not_json.status_code == 400

    refused = httpx.post(
        live_server.url + url,
        json={"query": {"kind": "HogQLQuery", "query": "SELECT 1"}},
        headers={"Authorization": f"Bearer {live_server.token}"},
    )
    assert refused.status_code == 401


def test_project_settings(live_server: LiveServer) -> None:
    url = f"/api/projects/{live_server.project_id}/"
    with live_server.api() as api:
        assert api.get("/api/projects/").json()["results"][0]["id"] == live_server.project_id
        changed = api.patch(
            url,
            json={
                "timezone": "Europe/Paris",
                "test_account_filters": [
                    {
                        "key": "email",
                        "value": "@example.com",
                        "operator": "not_icontains",
                        "type": "person",
                    }
                ],
            },
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["timezone"] == "Europe/Paris"
        assert api.get(url).json()["test_account_filters"][0]["key"] == "email"
        bad_zone = api.patch(url, json={"timezone": "Mars/Olympus"})
        assert bad_zone.status_code == 400 and bad_zone.json()["attr"] == "timezone"
        rules = [{"regex": "/item/[0-9]+", "alias": "/item/:id"}]
        cleaned = api.patch(url, json={"path_cleaning_filters": rules})
        assert cleaned.status_code == 200, cleaned.text
        assert api.get(url).json()["path_cleaning_filters"] == [{**rules[0], "order": None}]
        bad_rule = api.patch(url, json={"path_cleaning_filters": [{"regex": "(["}]})
        assert bad_rule.status_code == 400
        assert bad_rule.json()["attr"].startswith("path_cleaning_filters")
        unknown_field = api.patch(url, json={"api_token": "phc_mine"})
        assert unknown_field.status_code == 400
