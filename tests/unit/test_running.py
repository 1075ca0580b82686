"""The CLI finds the server of its own data folder, never another one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from magpie import running


def test_a_live_server_is_found_and_a_gone_one_is_not(tmp_path: Path) -> None:
    assert running.running_server(tmp_path) is None
    running.announce(tmp_path, "http://127.0.0.1:1234")
    assert running.running_server(tmp_path) == "http://127.0.0.1:1234"
    running.withdraw(tmp_path)
    assert running.running_server(tmp_path) is None
    # A file left by a process that died (kill -9) is stale.
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / "server.json").write_text(
        json.dumps({"url": "http://127.0.0.1:1", "pid": int(gone.stdout)})
    )
    assert running.running_server(tmp_path) is None
    (tmp_path / "server.json").write_text("not json")
    assert running.running_server(tmp_path) is None
