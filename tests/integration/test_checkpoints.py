"""Reads must not leave transactions open, or DuckDB can never checkpoint its log
(it grows without bound) and shutdown fails."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer


def test_checkpoints_run_while_serving(live_server: LiveServer) -> None:
    for batch in range(3):
        response = httpx.post(
            live_server.url + "/batch/",
            json={
                "api_key": live_server.token,
                "batch": [{"event": "e", "distinct_id": f"u{batch}-{i}"} for i in range(20)],
            },
        )
        assert response.status_code == 200
        live_server.settle()
        with live_server.api() as api:
            assert api.get(f"/api/projects/{live_server.project_id}/persons/").status_code == 200
        live_server.magpie.db.checkpoint()
