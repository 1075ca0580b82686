"""The CLI in cluster mode: ``magpie init`` honours the backend URLs, and a bad URL
stops it with a message that names the setting, before anything is opened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from tests.conftest import ROOT, spawn_server


def magpie(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "magpie.cli", *args],
        cwd=ROOT,
        env={**os.environ, "MAGPIE_LOG_LEVEL": "warning", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_creates_the_project_in_postgresql(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    url = new_database()
    env = {"MAGPIE_DATABASE_URL": url, "MAGPIE_EVENTS_URL": f"chdb://{tmp_path / 'ch'}"}
    done = magpie("init", "--data-dir", str(tmp_path / "data"), env=env)
    assert done.returncode == 0, done.stderr
    credentials = json.loads(done.stdout.splitlines()[0])
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT id, api_token FROM projects").fetchall()
    assert rows == [(credentials["project_id"], credentials["project_token"])]
    # Nothing of the events is in the data folder: no DuckDB file.
    assert not (tmp_path / "data" / "magpie.duckdb").exists()


def test_a_bad_url_is_a_usage_error(tmp_path: Path) -> None:
    env = {"MAGPIE_EVENTS_URL": f"chdb://{tmp_path / 'ch'}"}
    done = magpie("init", "--data-dir", str(tmp_path / "data"), env=env)
    assert done.returncode == 2
    assert "MAGPIE_DATABASE_URL" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_serve_runs_every_role_in_one_process_tree(
    tmp_path: Path, new_database: Callable[[], str]
) -> None:
    """``magpie serve`` with the URLs: capture in its own process, a worker, the loader
    and the API; an event sent over HTTP comes back from ClickHouse with its person."""
    env = {
        "MAGPIE_DATABASE_URL": new_database(),
        "MAGPIE_EVENTS_URL": f"chdb://{tmp_path / 'ch'}",
        "MAGPIE_CAPTURE_PROCESS": "true",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        server = spawn_server(tmp_path / "data")
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value
    try:
        token, key = server.credentials["project_token"], server.credentials["personal_api_key"]
        project = server.credentials["project_id"]
        sent = httpx.post(
            server.url + "/batch/",
            json={
                "api_key": token,
                "batch": [
                    {"event": "$identify", "distinct_id": "ada", "properties": {"$set": {"n": 1}}}
                ],
            },
        )
        assert sent.status_code == 200
        found: list[dict[str, object]] = []
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as api:
            for _ in range(600):  # until the loader has put it in ClickHouse
                found = api.get(f"/api/projects/{project}/events/").json()["results"]
                if found:
                    break
                time.sleep(0.05)
            persons = api.get(f"/api/projects/{project}/persons/").json()["results"]
        assert [e["event"] for e in found] == ["$identify"]
        assert [p["properties"]["n"] for p in persons] == [1]
        assert found[0]["person_id"] == persons[0]["uuid"]
        assert server.terminate() == 0
    finally:
        if server.process.poll() is None:
            server.kill()


def test_a_role_apart_needs_the_nats_queue(tmp_path: Path) -> None:
    env = {"MAGPIE_DATABASE_URL": "postgresql://h:5432/db", "MAGPIE_EVENTS_URL": "chdb:///x"}
    done = magpie("worker", "--data-dir", str(tmp_path / "data"), env=env)
    assert done.returncode == 2 and "MAGPIE_QUEUE_URL" in done.stderr
    assert not (tmp_path / "data").exists()
