"""Cohorts as flag evaluation sees them, answered by the cohort service.

A cohort that person properties alone decide is evaluated on the spot against
the subject's properties (stored ones with the request's merged over them), as
the SDKs do when they evaluate locally; any other cohort (static, behavioural,
nested) is answered from its stored membership, which holds persons only and
is as fresh as its last computation (``magpie/cohorts/refresh.py``; the
service keeps a cohort's members in memory for 30 seconds).
"""

from __future__ import annotations

import uuid
from typing import Any

from magpie.cohorts.service import CohortService


class StoredCohorts:
    def __init__(self, service: CohortService) -> None:
        self._service = service

    def exists(self, project_id: int, cohort_id: int) -> bool:
        found = self._service.store.get(project_id, cohort_id)
        return found is not None and not found.deleted

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        return self._service.is_member(project_id, cohort_id, person_id)

    def property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        return self._service.person_property_filters(project_id, cohort_id)
