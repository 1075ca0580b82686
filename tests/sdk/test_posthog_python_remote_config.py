"""posthog-python's ``get_remote_config_payload`` against Magpie: it asks
``/api/projects/@current/feature_flags/<key>/remote_config?token=<project token>``
with a personal API key, and gets the flag's ``"true"`` payload as JSON.

Also ``@current`` itself, which every project route takes: resolved from
``?token=``, else from the one project the key reaches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from posthog import Posthog

from tests.conftest import LiveServer
from tests.integration.tenants import new_key

pytestmark = pytest.mark.both_modes

CONFIG = {"theme": "dark", "limits": {"seats": 5}, "regions": ["eu", "us"]}
REMOTE_CONFIG = {"groups": [{"properties": [], "rollout_percentage": 100}]}


def make_flag(live: LiveServer, key: str, filters: dict[str, Any], **fields: Any) -> int:
    with live.api() as api:
        made = api.post(
            f"/api/projects/{live.project_id}/feature_flags/",
            json={"key": key, "filters": filters, **fields},
        )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


@pytest.fixture
def sdk_for(live_server: LiveServer) -> Iterator[Any]:
    """posthog-python clients for the server, given a personal API key (and the
    project token, the server's own unless told), shut down after the test."""
    clients: list[Posthog] = []

    def make(personal_api_key: str, token: str | None = None) -> Posthog:
        client = Posthog(
            token or live_server.token,
            host=live_server.url,
            secret_key=personal_api_key,
            enable_local_evaluation=False,
            sync_mode=True,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown()


def remote_config(
    live: LiveServer, key: str, *, path_key: str | None = None, **params: str
) -> httpx.Response:
    """The request posthog-python makes, sent by hand to read the status and error."""
    with live.api() as api:
        return api.get(
            f"/api/projects/@current/feature_flags/{path_key or key}/remote_config",
            params={"token": live.token, **params},
        )


def test_payloads_reach_the_sdk_as_json(live_server: LiveServer, sdk_for: Any) -> None:
    make_flag(live_server, "checkout-config", {**REMOTE_CONFIG, "payloads": {"true": CONFIG}})
    make_flag(live_server, "max-upload", {**REMOTE_CONFIG, "payloads": {"true": "25"}})
    make_flag(live_server, "greeting", {**REMOTE_CONFIG, "payloads": {"true": '"hello"'}})
    make_flag(live_server, "no-payload", REMOTE_CONFIG)
    make_flag(
        live_server,
        "switched-off",
        {**REMOTE_CONFIG, "payloads": {"true": CONFIG}},
        active=False,
    )
    make_flag(
        live_server,
        "copy-test",
        {
            **REMOTE_CONFIG,
            "multivariate": {
                "variants": [
                    {"key": "a", "rollout_percentage": 50},
                    {"key": "b", "rollout_percentage": 50},
                ]
            },
            "payloads": {"a": '{"copy": "A"}', "b": '{"copy": "B"}'},
        },
    )
    client = sdk_for(live_server.credentials.personal_api_key)

    assert client.get_remote_config_payload("checkout-config") == CONFIG
    assert client.get_remote_config_payload("max-upload") == 25
    assert client.get_remote_config_payload("greeting") == "hello"
    assert client.get_remote_config_payload("no-payload") is None
    assert client.get_remote_config_payload("switched-off") is None
    # A variant's payload depends on who is bucketed; a remote config has no one.
    assert client.get_remote_config_payload("copy-test") is None

    answered = remote_config(live_server, "no-payload")
    assert answered.status_code == 200
    assert answered.headers["content-type"] == "application/json"
    assert answered.content == b"null"


def test_a_stored_payload_that_is_not_json_is_answered_as_a_string(
    live_server: LiveServer, sdk_for: Any
) -> None:
    flag_id = make_flag(live_server, "legacy-banner", REMOTE_CONFIG)
    # The API refuses such a payload now; one saved before (or written into the
    # store directly) is still served, as the text it is.
    stored = live_server.magpie.stores.feature_flags
    stored.update(
        live_server.project_id,
        flag_id,
        "test",
        filters={**REMOTE_CONFIG, "payloads": {"true": "Welcome {back"}},
    )
    live_server.magpie.flag_definitions.invalidate(live_server.project_id)

    assert (
        sdk_for(live_server.credentials.personal_api_key).get_remote_config_payload("legacy-banner")
        == "Welcome {back"
    )
    answered = remote_config(live_server, "legacy-banner")
    assert answered.status_code == 200
    assert answered.json() == "Welcome {back"


def test_flags_are_named_by_key_or_id_with_or_without_a_slash(live_server: LiveServer) -> None:
    flag_id = make_flag(live_server, "by-id", {**REMOTE_CONFIG, "payloads": {"true": '{"n": 1}'}})
    # A key of digits names its own flag, even where it is another flag's id.
    make_flag(live_server, str(flag_id), {**REMOTE_CONFIG, "payloads": {"true": '{"n": 2}'}})
    other = make_flag(live_server, "other", {**REMOTE_CONFIG, "payloads": {"true": '{"n": 3}'}})

    assert remote_config(live_server, "by-id").json() == {"n": 1}
    assert remote_config(live_server, str(flag_id)).json() == {"n": 2}
    assert remote_config(live_server, str(other)).json() == {"n": 3}
    with live_server.api() as api:
        numbered = api.get(
            f"/api/projects/{live_server.project_id}/feature_flags/by-id/remote_config/"
        )
    assert numbered.status_code == 200
    assert numbered.json() == {"n": 1}


def test_unknown_and_deleted_flags_answer_404(live_server: LiveServer, sdk_for: Any) -> None:
    flag_id = make_flag(live_server, "gone", {**REMOTE_CONFIG, "payloads": {"true": "1"}})
    with live_server.api() as api:
        deleted = api.delete(f"/api/projects/{live_server.project_id}/feature_flags/{flag_id}/")
    assert deleted.status_code == 204

    for asked in ("gone", str(flag_id), "never-made", "99999999", "not a key!"):
        answered = remote_config(live_server, asked)
        assert answered.status_code == 404, asked
        assert answered.json()["code"] == "not_found"
        assert set(answered.json()) == {"type", "code", "detail", "attr"}
    assert (
        sdk_for(live_server.credentials.personal_api_key).get_remote_config_payload("gone") is None
    )


def test_a_bad_key_or_a_missing_scope_is_refused(live_server: LiveServer, sdk_for: Any) -> None:
    make_flag(live_server, "secret-config", {**REMOTE_CONFIG, "payloads": {"true": CONFIG}})
    url = f"{live_server.url}/api/projects/@current/feature_flags/secret-config/remote_config"

    bad = httpx.get(
        url, params={"token": live_server.token}, headers={"Authorization": "Bearer phx_nope"}
    )
    assert bad.status_code == 401
    assert bad.json()["code"] == "not_authenticated"
    assert sdk_for("phx_nope").get_remote_config_payload("secret-config") is None

    with live_server.api() as owner:
        insights_only = new_key(owner, label="insights", scopes=["insight:read"])
    refused = httpx.get(
        url,
        params={"token": live_server.token},
        headers={"Authorization": f"Bearer {insights_only}"},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"

    with live_server.api() as owner:
        reader = new_key(owner, label="flags", scopes=["feature_flag:read"])
    assert sdk_for(reader).get_remote_config_payload("secret-config") == CONFIG


def test_current_project_from_the_token_or_the_key(live_server: LiveServer, sdk_for: Any) -> None:
    make_flag(live_server, "shared-key", {**REMOTE_CONFIG, "payloads": {"true": '{"of": "a"}'}})
    owner_key = live_server.credentials.personal_api_key

    # One project on the server: the owner's key (every project) names it.
    with live_server.api() as owner:
        alone = owner.get("/api/projects/@current/")
        assert alone.status_code == 200
        assert alone.json()["id"] == live_server.project_id
        created = owner.post("/api/projects/", json={"name": "Project B"})
        assert created.status_code == 201, created.text
        b = created.json()
        made = owner.post(
            f"/api/projects/{b['id']}/feature_flags/",
            json={
                "key": "shared-key",
                "filters": {**REMOTE_CONFIG, "payloads": {"true": '{"of": "b"}'}},
            },
        )
        assert made.status_code == 201, made.text
        key_b = new_key(owner, label="b", scoped_teams=[b["id"]])

        # Two projects: without a token the owner's key names neither.
        ambiguous = owner.get("/api/projects/@current/feature_flags/shared-key/remote_config")
        assert ambiguous.status_code == 400
        assert ambiguous.json()["code"] == "current_project_unknown"
        assert ambiguous.json()["attr"] == "token"
        assert owner.get("/api/projects/@current/").status_code == 400
        # ... and the token picks one, on any project route.
        by_token = owner.get("/api/projects/@current/", params={"token": b["api_token"]})
        assert by_token.status_code == 200
        assert by_token.json()["id"] == b["id"]
        # It is the project as it is now, not as it was when the token was first seen.
        renamed = owner.patch(
            "/api/projects/@current/", params={"token": b["api_token"]}, json={"name": "B2"}
        )
        assert renamed.status_code == 200, renamed.text
        again = owner.get("/api/projects/@current/", params={"token": b["api_token"]})
        assert again.json()["name"] == "B2"

    assert sdk_for(owner_key).get_remote_config_payload("shared-key") == {"of": "a"}
    assert sdk_for(owner_key, token=b["api_token"]).get_remote_config_payload("shared-key") == {
        "of": "b"
    }
    assert sdk_for(key_b, token=b["api_token"]).get_remote_config_payload("shared-key") == {
        "of": "b"
    }

    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {key_b}"}, timeout=10
    ) as scoped:
        # A key that reaches one project names it without a token.
        untold = scoped.get("/api/projects/@current/feature_flags/shared-key/remote_config")
        assert untold.status_code == 200
        assert untold.json() == {"of": "b"}
        # A project the key cannot reach is one that does not exist, by token or by id.
        for params in ({"token": live_server.token}, {"token": "phc_no_such_project"}):
            hidden = scoped.get(
                "/api/projects/@current/feature_flags/shared-key/remote_config", params=params
            )
            assert hidden.status_code == 404, params
            assert hidden.json()["code"] == "not_found"
        by_id = scoped.get(
            f"/api/projects/{live_server.project_id}/feature_flags/shared-key/remote_config"
        )
        assert by_id.status_code == 404
    assert sdk_for(key_b).get_remote_config_payload("shared-key") is None


def test_is_remote_configuration_is_kept_and_changed(live_server: LiveServer) -> None:
    base = f"/api/projects/{live_server.project_id}/feature_flags/"
    with live_server.api() as api:
        made = api.post(
            base,
            json={
                "key": "feature-config",
                "is_remote_configuration": True,
                "filters": {**REMOTE_CONFIG, "payloads": {"true": '{"on": true}'}},
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["is_remote_configuration"] is True
        plain = api.post(base, json={"key": "plain"}).json()
        assert plain["is_remote_configuration"] is False

        flag_id = made.json()["id"]
        changed = api.patch(f"{base}{flag_id}/", json={"is_remote_configuration": False})
        assert changed.status_code == 200
        assert changed.json()["is_remote_configuration"] is False
        assert api.get(f"{base}{flag_id}/").json()["is_remote_configuration"] is False
        refused = api.patch(f"{base}{flag_id}/", json={"is_remote_configuration": "yes"})
        assert refused.status_code == 400
        assert refused.json()["attr"] == "is_remote_configuration"
    # The payload is served whether or not the flag says it is a remote config.
    assert remote_config(live_server, "feature-config").json() == {"on": True}
