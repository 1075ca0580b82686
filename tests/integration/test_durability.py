"""A 200 from capture means the events are durable: kill -9 loses none, and a
restart stores each acknowledged event exactly once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx

from tests.conftest import ROOT, ServerProcess, spawn_server


def stored_uuid_counts(data_dir: Path) -> dict[str, int]:
    with duckdb.connect(str(data_dir / "magpie.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT CAST(uuid AS VARCHAR), count(*) FROM events GROUP BY 1"
        ).fetchall()
    return {uuid: count for uuid, count in rows}


def acked_uuids(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def wait_until_ingested(server: ServerProcess, timeout: float = 60) -> None:
    headers = {"Authorization": f"Bearer {server.credentials['personal_api_key']}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(server.url + "/api/ingestion/status/", headers=headers).json()
        if status["queue"]["lag_bytes"] == 0:
            return
        time.sleep(0.1)
    raise AssertionError("ingestion did not catch up")


def test_kill_9_under_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    acked_file = tmp_path / "acked.txt"
    acked_file.touch()
    kills = 0
    for _round in range(2):
        server = spawn_server(data_dir)
        load = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.load_writer",
                server.url,
                str(server.credentials["project_token"]),
                str(acked_file),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert load.stdout is not None and load.stdout.readline().strip() == "started"
        # Let acknowledged events pile up in the queue and in the store, then kill.
        deadline = time.monotonic() + 20
        while len(acked_uuids(acked_file)) < 2000 * (_round + 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        server.kill()
        kills += 1
        load.wait(timeout=30)

    acked = acked_uuids(acked_file)
    assert len(acked) >= 4000 and kills == 2
    server = spawn_server(data_dir)
    wait_until_ingested(server)
    assert server.terminate() == 0

    counts = stored_uuid_counts(data_dir)
    missing = [u for u in acked if u not in counts]
    assert missing == [], f"{len(missing)} acknowledged events were lost"
    duplicated = {u: c for u, c in counts.items() if c != 1}
    assert duplicated == {}


def test_sigterm_drains_the_queue_before_exiting(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = spawn_server(data_dir)
    token = server.credentials["project_token"]
    sent = []
    with httpx.Client(base_url=server.url) as client:
        for batch in range(20):
            events = [
                {
                    "event": "drain",
                    "distinct_id": "d",
                    "uuid": f"00000000-0000-4000-8000-{batch:06d}{i:06d}",
                }
                for i in range(200)
            ]
            assert (
                client.post("/batch/", json={"api_key": token, "batch": events}).status_code == 200
            )
            sent += [e["uuid"] for e in events]
    assert server.terminate() == 0
    counts = stored_uuid_counts(data_dir)
    assert sorted(counts) == sorted(sent)
    assert set(counts.values()) == {1}


def test_the_capture_process_ends_with_a_killed_server(tmp_path: Path) -> None:
    server = spawn_server(tmp_path / "data")
    children = _children(server.process.pid)
    assert children, "magpie serve should run a capture process on this machine"
    server.kill()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)]


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid) and "python" in fields.get("Name", ""):
            found.append(int(status.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state
