"""What flag evaluation needs to know about cohorts, and nothing more.

Cohorts are their own feature; flags only ask whether a person is in one
(``{"type": "cohort", "key": "id", "value": N}`` in a condition) and, for
local evaluation, which cohorts can be decided from person properties alone.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol


class CohortMembership(Protocol):
    def exists(self, project_id: int, cohort_id: int) -> bool:
        """Whether the project has this cohort (and it is not deleted)."""
        ...

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        """Whether the person is in the cohort, as its stored membership says."""
        ...

    def property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        """The cohort's filters when person properties alone decide membership
        (``{"type": "OR", "values": [...]}``), so they can be evaluated on the
        spot and shipped to SDKs for local evaluation; None for static and
        behavioural cohorts, which only stored membership answers."""
        ...


class NoCohorts:
    """Used while no cohort store is wired in: every cohort is unknown."""

    def exists(self, project_id: int, cohort_id: int) -> bool:
        return False

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        return False

    def property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        return None
