"""The API while PostgreSQL is down: 503 ``service_unavailable`` with Retry-After
(clients and load balancers try again), never a 500, and answers again by
itself once PostgreSQL is back."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx

from tests.conftest import running_live_server
from tests.queue_nats.conftest import PrivatePostgres


def _wait_for(api: httpx.Client, path: str, status: int, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def test_the_api_answers_503_while_postgresql_is_down(
    tmp_path: Path, private_postgres: PrivatePostgres, chdb_dsn: str
) -> None:
    with running_live_server(
        tmp_path / "data",
        events_url=f"{chdb_dsn}?database=t_{secrets.token_hex(6)}",
        database_url=private_postgres.url,
    ) as live:
        persons = f"/api/projects/{live.project_id}/persons/"
        with live.api() as api:
            assert api.get(persons).status_code == 200
            private_postgres.stop("immediate")
            down = api.get(persons)
            assert down.status_code == 503, down.text
            assert down.json()["code"] == "service_unavailable"
            assert down.headers["Retry-After"] == "5"
            private_postgres.start()
            back = _wait_for(api, persons, 200)
            assert back.status_code == 200, back.text
