"""/api/projects/{id}/actions/ over real HTTP on both modes: saving, listing,
changing and soft-deleting actions, the errors bad steps get, the scopes, and a
query naming an action through the query API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.integration.tenants import new_key

pytestmark = pytest.mark.both_modes

PRICING = {"event": "$pageview", "url": "/pricing", "url_matching": "contains"}


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    batch = [
        {"event": "$pageview", "distinct_id": "ada", "properties": {"$current_url": "/pricing"}},
        {"event": "$pageview", "distinct_id": "bob", "properties": {"$current_url": "/docs"}},
        {"event": "signed up", "distinct_id": "ada", "properties": {}},
    ]
    response = httpx.post(
        live_server.url + "/batch/", json={"api_key": live_server.token, "batch": batch}
    )
    response.raise_for_status()
    live_server.settle()
    with live_server.api() as client:
        client.base_url = f"{live_server.url}/api/projects/{live_server.project_id}"
        yield client


def _made(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/actions/", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_read_list_change_and_delete(api: httpx.Client) -> None:
    made = _made(api, name="Saw pricing", description="d", steps=[PRICING], tags=["web"])
    assert made["name"] == "Saw pricing" and made["description"] == "d"
    assert made["tags"] == ["web"] and made["deleted"] is False and made["created_at"]
    [step] = made["steps"]
    # Stored with every field of PostHog's step shape, unset ones null.
    assert step["event"] == "$pageview" and step["url"] == "/pricing"
    assert step["url_matching"] == "contains" and step["tag_name"] is None
    assert api.get(f"/actions/{made['id']}/").json() == made
    other = _made(api, name="Any event", steps=[{}])
    listed = api.get("/actions/").json()
    assert [a["id"] for a in listed["results"]] == [other["id"], made["id"]]
    assert listed["next"] is None
    first_page = api.get("/actions/", params={"limit": 1}).json()
    assert [a["id"] for a in first_page["results"]] == [other["id"]] and first_page["next"]

    changed = api.patch(f"/actions/{made['id']}/", json={"name": "Pricing", "steps": [{}, PRICING]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Pricing" and len(changed.json()["steps"]) == 2
    assert changed.json()["tags"] == ["web"]

    assert api.delete(f"/actions/{made['id']}/").status_code == 204
    assert api.get(f"/actions/{made['id']}/").status_code == 404
    assert [a["id"] for a in api.get("/actions/").json()["results"]] == [other["id"]]
    deleted = api.patch(f"/actions/{other['id']}/", json={"deleted": True})
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert api.get("/actions/").json()["results"] == []


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("no name", {"steps": []}, "invalid_input", "name"),
    ("empty name", {"name": "", "steps": []}, "invalid_input", "name"),
    ("steps not a list", {"name": "a", "steps": {"event": "x"}}, "invalid_input", "steps"),
    ("a step not an object", {"name": "a", "steps": ["x"]}, "invalid_action_steps", "steps.0"),
    (
        "unknown url matching",
        {"name": "a", "steps": [{"url": "x", "url_matching": "glob"}]},
        "invalid_action_steps",
        "steps.0.url_matching",
    ),
    (
        "a bad regex",
        {"name": "a", "steps": [{"url": "(", "url_matching": "regex"}]},
        "invalid_action_steps",
        "steps.0.url",
    ),
    (
        "a selector with a pseudo-class",
        {"name": "a", "steps": [{}, {"selector": "button.cta:hover"}]},
        "invalid_action_steps",
        "steps.1.selector",
    ),
    (
        "a selector with a sibling",
        {"name": "a", "steps": [{"selector": "h1 + button"}]},
        "invalid_action_steps",
        "steps.0.selector",
    ),
    (
        "a regex on text",
        {"name": "a", "steps": [{"text": "Buy.*", "text_matching": "regex"}]},
        "invalid_action_steps",
        "steps.0.text_matching",
    ),
    (
        "a regex on href",
        {"name": "a", "steps": [{"href": "/a.*", "href_matching": "regex"}]},
        "invalid_action_steps",
        "steps.0.href_matching",
    ),
    (
        "a bad property filter",
        {"name": "a", "steps": [{"properties": [{"key": "k", "type": "nope"}]}]},
        "invalid_action_steps",
        "steps.0.properties",
    ),
    (
        "an event that is not text",
        {"name": "a", "steps": [{"event": 5}]},
        "invalid_action_steps",
        "steps.0.event",
    ),
    ("tags not text", {"name": "a", "steps": [], "tags": [1]}, "invalid_input", "tags"),
]


@pytest.mark.parametrize(("case", "body", "code", "attr"), BAD, ids=[b[0] for b in BAD])
def test_bad_actions_are_refused_with_a_code(
    api: httpx.Client, case: str, body: dict[str, Any], code: str, attr: str
) -> None:
    response = api.post("/actions/", json=body)
    assert response.status_code == 400, response.text
    assert (response.json()["code"], response.json()["attr"]) == (code, attr)
    saved = _made(api, name="ok", steps=[PRICING])
    if code == "invalid_action_steps":  # the same steps are refused in a change
        changed = api.patch(f"/actions/{saved['id']}/", json={"steps": body["steps"]})
        assert changed.status_code == 400 and changed.json()["code"] == code
    assert api.get(f"/actions/{saved['id']}/").json()["steps"] == saved["steps"]


def test_missing_actions_and_scopes(api: httpx.Client, live_server: LiveServer) -> None:
    assert api.get("/actions/999999/").status_code == 404
    assert api.patch("/actions/999999/", json={"name": "x"}).status_code == 404
    made = _made(api, name="Saw pricing", steps=[PRICING])
    with live_server.api() as owner:
        reader = new_key(owner, label="reader", scopes=["action:read"])
        other = new_key(owner, label="other", scopes=["cohort:write"])
    base = api.base_url
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {reader}"}) as client:
        assert client.get(f"/actions/{made['id']}/").status_code == 200
        refused = client.post("/actions/", json={"name": "x", "steps": []})
        assert refused.status_code == 403
        assert "action:write" in refused.json()["detail"]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {other}"}) as client:
        assert client.get("/actions/").status_code == 403


def test_a_query_names_an_action(api: httpx.Client) -> None:
    made = _made(api, name="Saw pricing", steps=[PRICING, {"event": "signed up"}])

    def trends(node: dict[str, Any]) -> httpx.Response:
        query = {"kind": "TrendsQuery", "series": [node], "dateRange": {"date_from": "-1d"}}
        return api.post("/query/", json={"query": query})

    answer = trends({"kind": "ActionsNode", "id": made["id"]})
    assert answer.status_code == 200, answer.text
    [series] = answer.json()["results"]
    assert series["count"] == 2 and series["label"] == "Saw pricing"
    assert series["action"]["id"] == made["id"] and series["action"]["type"] == "actions"
    api.delete(f"/actions/{made['id']}/")
    refused = trends({"kind": "ActionsNode", "id": made["id"]})
    assert refused.status_code == 400 and refused.json()["code"] == "unknown_action"
