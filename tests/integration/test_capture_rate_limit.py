"""The capture rate limit over real HTTP, with capture in the server process and in its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, running_live_server

# A refill of one event every 1,000 s: nothing refills while the test runs.
RATE = 0.001
BURST = 10


@pytest.fixture(params=[False, True], ids=["in-process", "capture-process"])
def limited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    with running_live_server(
        tmp_path / "data",
        capture_process=request.param,
        capture_rate_limit_events_per_second=RATE,
        capture_rate_limit_burst_events=BURST,
    ) as live:
        yield live


def batch(live: LiveServer, name: str, count: int) -> dict[str, object]:
    events = [
        {"event": name, "distinct_id": f"d{i}", "uuid": str(uuid.uuid4())} for i in range(count)
    ]
    return {"api_key": live.token, "batch": events}


def test_over_the_limit_is_429_with_retry_after_and_nothing_is_stored(limited: LiveServer) -> None:
    with httpx.Client(base_url=limited.url, timeout=30) as http:
        assert http.post("/batch/", json=batch(limited, "within", 6)).status_code == 200
        assert http.post("/e/", json=batch(limited, "within", 4)).status_code == 200
        refused = http.post("/batch/", json=batch(limited, "over", 1))
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited" and refused.json()["status"] == 429
        assert int(refused.headers["retry-after"]) >= 1
        v1 = http.post(
            "/i/v1/analytics/events",
            json={"batch": batch(limited, "over", 1)["batch"]},
            headers={"Authorization": f"Bearer {limited.token}"},
        )
        assert v1.status_code == 429 and "retry-after" in v1.headers
    assert len(limited.events(event="within")) == 10
    assert limited.events(event="over") == []


def test_invalid_requests_and_unknown_tokens_take_nothing(limited: LiveServer) -> None:
    with httpx.Client(base_url=limited.url, timeout=30) as http:
        unknown = {**batch(limited, "x", 50), "api_key": "phc_nobody"}
        assert http.post("/batch/", json=unknown).status_code == 403
        invalid = batch(limited, "x", 50)
        invalid["batch"].append({"event": [], "distinct_id": "d"})  # type: ignore[union-attr]
        assert http.post("/batch/", json=invalid).status_code == 400
        assert http.post("/batch/", json=batch(limited, "still-within", BURST)).status_code == 200
    assert len(limited.events(event="still-within")) == BURST
