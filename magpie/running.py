"""Where the server that holds a data folder answers, for the CLI to find it.

One process at a time can open a data folder; while a server has it, the CLI
talks to that server instead. The server writes its address and pid into the
folder when it starts listening and removes the file when it stops; a file
whose process is gone (after a kill -9) is stale and ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

_NAME = "server.json"


def announce(data_dir: Path, url: str) -> None:
    path = data_dir / _NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    os.replace(tmp, path)


def withdraw(data_dir: Path) -> None:
    path = data_dir / _NAME
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def running_server(data_dir: Path) -> str | None:
    """The URL of the live server holding ``data_dir``, if there is one."""
    try:
        found = json.loads((data_dir / _NAME).read_text())
        url, pid = found["url"], int(found["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return str(url)
