"""Cohorts as the API and feature flags use them: definitions checked before they
are saved, membership computed through the query layer and stored, and the
questions flags ask (is this person a member; can this cohort be evaluated
from person properties alone)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

from magpie.clock import Clock
from magpie.cohorts.definition import is_person_properties_only, parse_definition
from magpie.cohorts.membership import CohortLookup, membership_query
from magpie.errors import InvalidInput, MagpieError, NotFound
from magpie.query.context import QueryContext
from magpie.query.runner import QueryRunner
from magpie.store.base import CohortStore, ProjectStore
from magpie.store.model import Cohort

log = logging.getLogger(__name__)

# Membership lookups for flags are answered from memory: a cohort's members are
# read once and kept this long (another process may have computed it since)...
MEMBERS_KEPT_SECONDS = 30.0
# ...unless it has more members than this, which are looked up in the store;
# and all cohorts together keep at most this many (the oldest read go first).
MEMBERS_KEPT_AT_MOST = 200_000
MEMBERS_KEPT_IN_ALL = 1_000_000


class CohortService:
    def __init__(
        self, cohorts: CohortStore, projects: ProjectStore, runner: QueryRunner, clock: Clock
    ) -> None:
        self.store = cohorts
        self._projects = projects
        self._runner = runner
        self._clock = clock
        # Membership writes take turns (the API's and the refresh's): DuckDB would
        # refuse the second of two transactions changing one cohort at once.
        self._writing = threading.Lock()
        # (project, cohort) → (when read, its members, or None: look them up in the store)
        self._kept: dict[tuple[int, int], tuple[float, frozenset[uuid.UUID] | None]] = {}
        self._keeping = threading.Lock()

    # -- definitions ------------------------------------------------------------

    def check(self, project_id: int, cohort_id: int, filters: dict[str, Any]) -> None:
        """Refuse a definition that could not be computed (InvalidInput), before it is
        saved: bad fields, unknown kinds, missing or cyclic nested cohorts."""
        group = parse_definition(filters)
        now = self._clock.now().astimezone(UTC).replace(tzinfo=None)
        membership_query(cohort_id, group, now, self._runner.dialect, self._lookup(project_id))

    def create(
        self,
        project_id: int,
        name: str,
        description: str,
        filters: dict[str, Any],
        *,
        is_static: bool = False,
    ) -> Cohort:
        if not is_static:
            self.check(project_id, 0, filters)  # no cohort has id 0: none can be reached
        made = self.store.create(project_id, name, description, filters, is_static=is_static)
        return made if is_static else self._first_computation(made)

    def update(self, project_id: int, cohort_id: int, **changes: Any) -> Cohort:
        current = self.get(project_id, cohort_id)
        if "filters" in changes and not current.is_static:
            self.check(project_id, cohort_id, changes["filters"])
        updated = self.store.update(project_id, cohort_id, **changes)
        self._kept.pop((project_id, cohort_id), None)
        if updated is None:
            raise NotFound(f"no cohort {cohort_id}")
        if "filters" in changes and not updated.is_static:
            return self._first_computation(updated)
        return updated

    def _first_computation(self, cohort: Cohort) -> Cohort:
        """Membership of a definition just saved. The definition was checked, so a
        failure here is the engine's (a timeout, a memory limit): the cohort stays
        saved with the failure recorded, and the next refresh tries again."""
        try:
            return self.recompute(cohort.project_id, cohort.id)
        except MagpieError as exc:
            log.warning("cohort %s could not be computed: %s", cohort.id, exc.message)
            return self.get(cohort.project_id, cohort.id)

    def get(self, project_id: int, cohort_id: int) -> Cohort:
        found = self.store.get(project_id, cohort_id)
        if found is None or found.deleted:
            raise NotFound(f"no cohort {cohort_id}")
        return found

    # -- membership ---------------------------------------------------------------

    def recompute(self, project_id: int, cohort_id: int) -> Cohort:
        """Compute the membership now and store it; a static cohort is left as it is."""
        cohort = self.get(project_id, cohort_id)
        if cohort.is_static:
            return cohort
        project = self._projects.get(project_id)
        if project is None:
            raise NotFound(f"no project {project_id}")
        context = QueryContext(project, self._runner, self._clock.now())
        try:
            tree = membership_query(
                cohort_id,
                parse_definition(cohort.filters),
                context.now_naive,
                context.dialect,
                self._lookup(project_id),
            )
            rows = context.run(context.compile(tree))
        except MagpieError as exc:
            self.store.record_failure(project_id, cohort_id, f"{exc.code}: {exc.message}")
            raise
        members = [_uuid(row[0]) for row in rows]
        with self._writing:
            stored = self.store.set_members(project_id, cohort_id, members, context.now)
            self._kept.pop((project_id, cohort_id), None)
        if stored is None:
            raise NotFound(f"no cohort {cohort_id}")
        return stored

    def refresh_all(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """Recompute every project's computed cohorts (until ``stopping()``); returns how
        many failed (each is recorded on its cohort and logged, and the others go on)."""
        failed = 0
        for cohort in self.store.computed():
            if stopping():
                break
            try:
                self.recompute(cohort.project_id, cohort.id)
            except MagpieError as exc:
                failed += 1
                log.warning("cohort %s could not be computed: %s", cohort.id, exc.message)
        return failed

    def add_static_members(
        self, project_id: int, cohort_id: int, distinct_ids: Sequence[str]
    ) -> Cohort:
        cohort = self.get(project_id, cohort_id)
        if not cohort.is_static:
            raise InvalidInput(
                "only a static cohort takes a list of persons; this one is computed",
                attr="is_static",
            )
        with self._writing:
            self.store.add_static_members(project_id, cohort_id, distinct_ids, self._clock.now())
            self._kept.pop((project_id, cohort_id), None)
        return self.get(project_id, cohort_id)

    # -- what feature flags ask -------------------------------------------------------

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        """From the stored membership (as fresh as its last computation), kept in
        memory for a while: a flag evaluation asks this many times a second."""
        members = self._members(project_id, cohort_id)
        if members is None:
            return self.store.is_member(project_id, cohort_id, person_id)
        return person_id in members

    def _members(self, project_id: int, cohort_id: int) -> frozenset[uuid.UUID] | None:
        key = (project_id, cohort_id)
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < MEMBERS_KEPT_SECONDS:
            return kept[1]
        cohort = self.store.get(project_id, cohort_id)
        members: frozenset[uuid.UUID] | None = frozenset()
        if cohort is not None and not cohort.deleted:
            if (cohort.count or 0) > MEMBERS_KEPT_AT_MOST:
                members = None
            else:
                limit = MEMBERS_KEPT_AT_MOST + 1
                members = frozenset(self.store.members(project_id, cohort_id, limit=limit))
        self._keep(key, now, members)
        return members

    def _keep(self, key: tuple[int, int], now: float, members: frozenset[uuid.UUID] | None) -> None:
        with self._keeping:
            self._kept.pop(key, None)
            self._kept[key] = (now, members)  # last in the order: the newest
            total = sum(len(m) for _, m in self._kept.values() if m)
            while total > MEMBERS_KEPT_IN_ALL and len(self._kept) > 1:
                dropped = self._kept.pop(next(iter(self._kept)))[1]
                total -= len(dropped) if dropped else 0

    def person_property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        """The cohort's ``filters.properties`` when membership follows from person
        properties alone (so an SDK can evaluate it locally), else None."""
        cohort = self.store.get(project_id, cohort_id)
        if cohort is None or cohort.deleted or cohort.is_static:
            return None
        try:
            group = parse_definition(cohort.filters)
        except MagpieError:
            return None
        if not is_person_properties_only(group):
            return None
        return dict(cohort.filters["properties"])

    def _lookup(self, project_id: int) -> CohortLookup:
        return lambda other_id: self.store.get(project_id, other_id)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
