"""Where the identity state lives between calls: in memory, or in a JSON file.

The file store is what makes a desktop app or CLI keep the same anonymous id
(and identified user) across restarts, like posthog-js keeps its cookie.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger("magpie_sdk")


class Storage(Protocol):
    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none (or it is unreadable)."""
        ...

    def save(self, data: Mapping[str, Any]) -> None:
        """Replace the saved state. Must not raise: failures are logged."""
        ...


class MemoryStorage:
    """State for this process only: a restart starts a new anonymous user."""

    def __init__(self) -> None:
        self._data: dict[str, Any] | None = None

    def load(self) -> dict[str, Any] | None:
        return None if self._data is None else json.loads(json.dumps(self._data))

    def save(self, data: Mapping[str, Any]) -> None:
        # A deep copy through JSON, so later mutation by the caller cannot leak in
        # and what is kept is exactly what the file store would keep.
        self._data = json.loads(json.dumps(dict(data)))


def default_state_path(api_key: str) -> Path:
    """``~/.magpie/<api_key>.json``: one file per project, so two apps using
    different projects on one machine do not share identities."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", api_key.strip()) or "default"
    return Path.home() / ".magpie" / f"{safe}.json"


class FileStorage:
    """A JSON file, replaced atomically on every save."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("could not read Magpie state file %s: %s", self.path, exc)
            return None
        try:
            data = json.loads(text)
        except ValueError as exc:
            logger.warning("ignoring corrupt Magpie state file %s: %s", self.path, exc)
            return None
        if not isinstance(data, dict):
            logger.warning("ignoring Magpie state file %s: not a JSON object", self.path)
            return None
        return data

    def save(self, data: Mapping[str, Any]) -> None:
        try:
            self._write_atomically(json.dumps(dict(data), indent=2, sort_keys=True))
        except (OSError, TypeError, ValueError) as exc:
            # The app keeps working with the in-memory state; only the next
            # restart would lose it.
            logger.error("could not save Magpie state to %s: %s", self.path, exc)

    def _write_atomically(self, text: str) -> None:
        # Write a temporary file in the same directory and rename it over the
        # old one: a crash or power cut mid-write leaves either the old or the
        # new file, never a truncated one that would lose the user's identity.
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # On POSIX the rename itself is durable only once the directory is synced.
    # Windows cannot open directories this way; there the rename has to do.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
