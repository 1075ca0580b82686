"""Capture in a process of its own (what `magpie serve` does on two cores or more)
behaves exactly like capture in the server process."""

from __future__ import annotations

import gzip
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, running_live_server


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_live_server(
        tmp_path_factory.mktemp("pool") / "data", capture_process=True
    ) as live:
        assert live.magpie.gateway is not None
        yield live


def test_events_are_decoded_in_the_pool(pooled: LiveServer) -> None:
    body = {
        "api_key": pooled.token,
        "batch": [
            {"event": "pooled", "distinct_id": "p", "properties": {"n": i}} for i in range(50)
        ],
    }
    response = httpx.post(
        pooled.url + "/e/",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200 and response.json() == {"status": 1}
    assert sorted(e["properties"]["n"] for e in pooled.events(event="pooled")) == list(range(50))


@pytest.mark.parametrize(
    ("body", "status", "code", "attr"),
    [
        (b"{", 400, "request_parsing_error", None),
        (
            json.dumps({"batch": [{"event": "x", "distinct_id": "d"}]}).encode(),
            401,
            "ingest_key_required",
            None,
        ),
        (
            json.dumps(
                {"api_key": "phc_nope", "batch": [{"event": "x", "distinct_id": "d"}]}
            ).encode(),
            403,
            "ingest_key_unknown",
            None,
        ),
        (b"TOKEN", 400, "missing_event_name", "event"),
    ],
)
def test_errors_cross_the_process_boundary_intact(
    pooled: LiveServer, body: bytes, status: int, code: str, attr: str | None
) -> None:
    if body == b"TOKEN":
        body = json.dumps({"api_key": pooled.token, "batch": [{"distinct_id": "d"}]}).encode()
    response = httpx.post(pooled.url + "/batch/", content=body)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_v1_results_from_the_pool(pooled: LiveServer) -> None:
    body = {
        "created_at": "2026-01-01T00:00:00Z",
        "batch": [
            {
                "event": "v1",
                "uuid": "0190f000-0000-7000-8000-00000000000a",
                "distinct_id": "a",
                "timestamp": "2026-01-01T00:00:00Z",
                "options": {},
                "properties": {},
            },
            {
                "event": "",
                "uuid": "0190f000-0000-7000-8000-00000000000b",
                "distinct_id": "a",
                "timestamp": "2026-01-01T00:00:00Z",
                "options": {},
                "properties": {},
            },
        ],
    }
    response = httpx.post(
        pooled.url + "/i/v1/analytics/events",
        json=body,
        headers={"Authorization": f"Bearer {pooled.token}"},
    )
    results = response.json()["results"]
    assert results["0190f000-0000-7000-8000-00000000000a"] == {"result": "ok"}
    assert results["0190f000-0000-7000-8000-00000000000b"]["result"] == "drop"


def test_quota_limits_reach_the_capture_process(pooled: LiveServer) -> None:
    base = f"/api/projects/{pooled.project_id}/billing"
    with pooled.api() as api:
        pooled.settle()
        used = api.get(f"{base}/usage/").json()["events"]["total"]
        assert api.put(f"{base}/quota/", json={"max_events": used + 1}).status_code == 200
        body = {"api_key": pooled.token, "batch": [{"event": "q", "distinct_id": "d"}]}
        assert httpx.post(pooled.url + "/batch/", json=body).json() == {"status": 1}
        pooled.settle()
        deadline = time.monotonic() + 10
        answer = {}
        while time.monotonic() < deadline:
            answer = httpx.post(pooled.url + "/batch/", json=body).json()
            if answer.get("quota_limited"):
                break
        assert answer == {"status": 1, "quota_limited": ["events"]}
        assert api.put(f"{base}/quota/", json={"max_events": None}).status_code == 200


def test_a_dead_capture_process_is_replaced(tmp_path: Path) -> None:
    with running_live_server(tmp_path / "d", capture_process=True) as live:
        gateway = live.magpie.gateway
        assert gateway is not None
        first = gateway._process
        assert first is not None
        first.kill()
        first.wait(10)
        body = {"api_key": live.token, "batch": [{"event": "after", "distinct_id": "d"}]}
        deadline = time.monotonic() + 20
        status = 0
        while time.monotonic() < deadline:
            try:
                status = httpx.post(live.url + "/batch/", json=body).status_code
            except httpx.TransportError:
                # The capture process is the public front: until its replacement
                # listens, connections are refused (SDKs retry those, as a 503).
                status = 0
            if status == 200:
                break
        assert status == 200
        replacement = gateway._process
        assert replacement is not None and replacement is not first
        assert replacement.poll() is None
        assert [e["event"] for e in live.events(event="after")][:1] == ["after"]


def test_the_capture_process_loads_none_of_the_servers_heavy_libraries(
    pooled: LiveServer,
) -> None:
    # It is started as `python -m magpie.capture.process`; what that imports
    # is what the process holds in memory for as long as the server runs.
    gateway = pooled.magpie.gateway
    assert gateway is not None and gateway._process is not None
    command = gateway._process.args
    assert isinstance(command, list) and command[1:3] == ["-m", "magpie.capture.process"]
    probe = (
        "import sys; import magpie.capture.process; "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run(
        [command[0], "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    # (It serves the public address with uvicorn and starlette, loaded only then.)
    for heavy in ("duckdb", "pyarrow", "sqlglot", "uvicorn", "starlette", "numpy"):
        assert f"'{heavy}'" not in loaded
    assert "'magpie'" in loaded
