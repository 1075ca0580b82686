"""What the SDKs fetch on load: remote config, /flags and /decide."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from tests.conftest import LiveServer


def test_config_js_defines_the_remote_config(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/array/{live_server.token}/config.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    script = response.text
    assert "window._POSTHOG_REMOTE_CONFIG" in script
    config = json.loads(script.split("{config: ", 1)[1].rsplit(", siteApps", 1)[0])
    assert config["token"] == live_server.token
    assert config["analytics"]["endpoint"] == "/i/v0/e/"
    assert config["sessionRecording"] is False
    # Absent, not false: posthog-js loads the surveys bundle whenever the key exists.
    assert "surveys" not in config


def test_config_json(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/array/{live_server.token}/config")
    assert response.status_code == 200 and response.json()["token"] == live_server.token
    unknown = httpx.get(f"{live_server.url}/array/phc_nope/config")
    assert unknown.status_code == 403 and unknown.json()["code"] == "ingest_key_unknown"


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/flags/?v=2", "detailed"),
        ("/flags/?v=4", "detailed"),
        ("/flags/", "values"),
        ("/decide/?v=3", "values"),
        ("/decide/", "list"),
    ],
)
def test_flags_shapes(live_server: LiveServer, path: str, shape: str) -> None:
    body = gzip.compress(json.dumps({"token": live_server.token, "distinct_id": "u"}).encode())
    response = httpx.post(
        live_server.url + path,
        content=body,
        headers={"Content-Type": "text/plain", "Origin": "https://a.example"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["errorsWhileComputingFlags"] is False and answer["requestId"]
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    if shape == "detailed":
        assert answer["flags"] == {}
    elif shape == "values":
        assert answer["featureFlags"] == {} and answer["featureFlagPayloads"] == {}
    else:
        assert answer["featureFlags"] == []
    if path.startswith("/decide"):
        assert answer["supportedCompression"] == ["gzip", "gzip-js"]


def test_flags_errors(live_server: LiveServer) -> None:
    no_token = httpx.post(live_server.url + "/flags/?v=2", json={"distinct_id": "u"})
    assert no_token.status_code == 401 and no_token.json()["code"] == "ingest_key_required"
    bad = httpx.post(live_server.url + "/flags/?v=2", content=b"{nope")
    assert bad.status_code == 400 and bad.json()["code"] == "request_parsing_error"
