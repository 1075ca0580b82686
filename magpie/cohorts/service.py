"""Cohorts as the API and feature flags use them: definitions checked before they
are saved, membership computed through the query layer and stored, and the
questions flags ask (is this person a member; can this cohort be evaluated
from person properties alone)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from magpie.clock import Clock
from magpie.cohorts.behaviour import ActionConditions
from magpie.cohorts.definition import parse_definition
from magpie.cohorts.membership import CohortLookup, membership_query
from magpie.cohorts.stored import StoredMembership
from magpie.errors import InvalidInput, MagpieError, NotFound
from magpie.query.context import ActionSource, QueryContext
from magpie.query.runner import QueryRunner
from magpie.store.base import CohortStore, ProjectStore
from magpie.store.model import Cohort

log = logging.getLogger(__name__)


class CohortService:
    def __init__(
        self,
        cohorts: CohortStore,
        projects: ProjectStore,
        runner: QueryRunner,
        clock: Clock,
        membership: StoredMembership | None = None,
        actions: ActionSource | None = None,
    ) -> None:
        self.store = cohorts
        # What flags read; told of every change made here.
        self.membership = membership or StoredMembership(cohorts)
        self._projects = projects
        self._runner = runner
        self._clock = clock
        # Where behavioural leaves that name an action find it.
        self._actions = actions
        # Membership writes take turns (the API's and the refresh's): DuckDB would
        # refuse the second of two transactions changing one cohort at once.
        self._writing = threading.Lock()

    # -- definitions ------------------------------------------------------------

    def check(self, project_id: int, cohort_id: int, filters: dict[str, Any]) -> None:
        """Refuse a definition that could not be computed (InvalidInput), before it is
        saved: bad fields, unknown kinds, missing or cyclic nested cohorts."""
        group = parse_definition(filters)
        context = self._context(project_id)
        membership_query(
            cohort_id,
            group,
            context.now_naive,
            context.dialect,
            self._lookup(project_id),
            _action_conditions(context),
        )

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
        self.membership.forget(project_id, cohort_id)
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

    def _context(self, project_id: int) -> QueryContext:
        project = self._projects.get(project_id)
        if project is None:
            raise NotFound(f"no project {project_id}")
        return QueryContext(project, self._runner, self._clock.now(), actions=self._actions)

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
        context = self._context(project_id)
        try:
            tree = membership_query(
                cohort_id,
                parse_definition(cohort.filters),
                context.now_naive,
                context.dialect,
                self._lookup(project_id),
                _action_conditions(context),
            )
            rows = context.run(context.compile(tree))
        except MagpieError as exc:
            self.store.record_failure(project_id, cohort_id, f"{exc.code}: {exc.message}")
            raise
        members = [_uuid(row[0]) for row in rows]
        with self._writing:
            stored = self.store.set_members(project_id, cohort_id, members, context.now)
            self.membership.forget(project_id, cohort_id)
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
            self.membership.forget(project_id, cohort_id)
        return self.get(project_id, cohort_id)

    # -- what feature flags ask -------------------------------------------------------

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        return self.membership.is_member(project_id, cohort_id, person_id)

    def person_property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        return self.membership.property_filters(project_id, cohort_id)

    def _lookup(self, project_id: int) -> CohortLookup:
        return lambda other_id: self.store.get(project_id, other_id)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _action_conditions(context: QueryContext) -> ActionConditions:
    """An action's condition as the query layer compiles it, read once per computation."""
    return lambda action_id: context.action(action_id).condition.copy()
