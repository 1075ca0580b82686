"""The SDKs' small requests (/flags, /decide, the remote config) through the capture
process's front, which passes them on whole over its own keep-alive connections:
the same answers as the server gives, whatever the body's framing."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer, running_live_server


@pytest.fixture(scope="module")
def fronted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_live_server(
        tmp_path_factory.mktemp("front") / "data", capture_process=True
    ) as live:
        assert live.magpie.api_socket is not None  # the capture process is the public front
        with live.api() as api:
            made = api.post(
                f"/api/projects/{live.project_id}/feature_flags/",
                json={
                    "key": "pro-only",
                    "filters": {
                        "groups": [
                            {
                                "properties": [{"key": "plan", "value": "pro", "type": "person"}],
                                "rollout_percentage": 100,
                            }
                        ],
                        "payloads": {"true": json.dumps({"a": 1})},
                    },
                },
            )
            assert made.status_code == 201, made.text
        yield live


def test_flags_through_the_front(fronted: LiveServer) -> None:
    body = {"token": fronted.token, "distinct_id": "ada", "person_properties": {"plan": "pro"}}
    with httpx.Client(base_url=fronted.url) as client:
        for _ in range(50):  # one kept connection after another
            answer = client.post("/flags/?v=2", json=body)
            assert answer.status_code == 200, answer.text
            flag = answer.json()["flags"]["pro-only"]
            assert flag["enabled"] and flag["metadata"]["payload"] == '{"a": 1}'
            assert answer.headers["content-type"] == "application/json"
        gzipped = client.post(
            "/flags/?v=2",
            content=gzip.compress(json.dumps(body).encode()),
            headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
        )
        assert gzipped.json()["flags"]["pro-only"]["enabled"]
        legacy = client.post("/decide/", json=body)
        assert legacy.json()["featureFlags"] == ["pro-only"]
        config = client.get(f"/array/{fronted.token}/config")
        assert config.status_code == 200 and config.json()["hasFeatureFlags"] is True
        script = client.get(f"/array/{fronted.token}/config.js")
        assert script.headers["content-type"].startswith("application/javascript")
        # Errors cross with their status and body.
        missing = client.post("/flags/?v=2", json={"token": fronted.token})
        assert missing.status_code == 400 and missing.json()["code"] == "missing_distinct_id"
        unknown = client.get("/array/phc_nobody/config")
        assert unknown.status_code == 403
        assert client.head(f"/array/{fronted.token}/config").status_code in (200, 405)
        # A body of unknown length (chunked) goes through the general proxy.
        chunked = client.post(
            "/flags/?v=2",
            content=iter([json.dumps(body).encode()]),
            headers={"Content-Type": "application/json"},
        )
        assert chunked.status_code == 200 and chunked.json()["flags"]["pro-only"]["enabled"]


def test_cors_preflight_through_the_front(fronted: LiveServer) -> None:
    answer = httpx.options(
        f"{fronted.url}/flags/?v=2",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code in (200, 204)
    assert answer.headers.get("access-control-allow-origin") == "https://example.com"


def test_a_pipelined_request_after_a_kept_connection_closes(fronted: LiveServer) -> None:
    """Raw HTTP/1.1 with two requests on one client connection: both answered."""
    body = json.dumps({"token": fronted.token, "distinct_id": "ada"}).encode()
    request = (
        b"POST /flags/?v=2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    host, port = fronted.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request + request)
        received = b""
        while received.count(b"HTTP/1.1 200") < 2:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
