"""Project token → project, cached for the capture hot path, over any project store."""

from __future__ import annotations

import time

from magpie.store.base import ProjectStore
from magpie.store.model import Project


class TokenDirectory:
    """Project token → project, cached for the capture hot path.

    Unknown tokens are remembered briefly so that a misconfigured client
    sending thousands of requests costs one lookup per interval.
    """

    NEGATIVE_TTL = 5.0

    def __init__(self, projects: ProjectStore) -> None:
        self._projects = projects
        self._known: dict[str, Project] = {}
        self._unknown: dict[str, float] = {}

    def kept(self, token: str) -> Project | None:
        """The project of a token already resolved, without asking the store."""
        return self._known.get(token)

    def resolve(self, token: str) -> Project | None:
        project = self._known.get(token)
        if project is not None:
            return project
        missed_at = self._unknown.get(token)
        if missed_at is not None and time.monotonic() - missed_at < self.NEGATIVE_TTL:
            return None
        project = self._projects.by_token(token)
        if project is None:
            if len(self._unknown) > 10_000:
                self._unknown.clear()
            self._unknown[token] = time.monotonic()
        else:
            self._known[token] = project
        return project

    def project_id(self, token: str) -> int | None:
        project = self.resolve(token)
        return None if project is None else project.id

    def forget_misses(self) -> None:
        self._unknown.clear()
