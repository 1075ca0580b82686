"""The default project and the credentials printed at first start.

The personal API key is shown once and stored only as a digest in the
database; ``credentials.json`` (readable by the owner only) keeps the
first-start credentials so that ``magpie init`` and ``magpie serve`` can print
them again without rotating anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from magpie.store.base import ApiKeyStore, ProjectStore

DEFAULT_PROJECT_NAME = "Default project"


@dataclass(frozen=True)
class Credentials:
    project_id: int
    project_token: str
    personal_api_key: str
    url: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def ensure_credentials(
    path: Path, projects: ProjectStore, api_keys: ApiKeyStore, url: str
) -> Credentials:
    saved = load_saved_credentials(path)
    if saved is not None:
        project_id, key = saved
        project = projects.get(project_id)
        if project is not None and api_keys.is_valid(key):
            return Credentials(project.id, project.api_token, key, url)
    existing = projects.all()
    project = existing[0] if existing else projects.create(DEFAULT_PROJECT_NAME)
    # The owner's key: every scope, every project (also those created later).
    issued = api_keys.create("created at first start")
    _save(path, {"project_id": project.id, "personal_api_key": issued.value})
    return Credentials(project.id, project.api_token, issued.value, url)


def load_saved_credentials(path: Path) -> tuple[int, str] | None:
    """(project id, personal API key) saved at first start, if readable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    project_id, key = data.get("project_id"), data.get("personal_api_key")
    if isinstance(project_id, int) and isinstance(key, str):
        return project_id, key
    return None


def _save(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
