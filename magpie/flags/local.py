"""The definitions server SDKs download to evaluate flags themselves (compat §6.6).

Flags as PostHog sends them, the project's group types, and the cohorts that
person properties alone decide (the SDKs evaluate those; a flag on any other
cohort is missing from ``cohorts``, and the SDK asks ``/flags`` instead).
Surveys' internal targeting flags are left out: only clients use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from magpie.flags.cohorts import CohortMembership
from magpie.store.model import FeatureFlag

CLIENT_ONLY_PREFIXES = ("survey-targeting-", "product-tour-targeting-")


def flag_definition(flag: FeatureFlag) -> dict[str, Any]:
    return {
        "id": flag.id,
        "team_id": flag.project_id,
        "key": flag.key,
        "name": flag.name,
        "filters": flag.filters,
        "deleted": False,
        "active": flag.active,
        "ensure_experience_continuity": flag.ensure_experience_continuity,
        "version": flag.version,
        "has_experiment": False,
        "bucketing_identifier": flag.filters.get("bucketing_identifier"),
    }


def cohort_ids(flags: Iterable[FeatureFlag]) -> set[int]:
    found = set()
    for flag in flags:
        for name in ("groups", "super_groups"):
            for group in flag.filters.get(name) or []:
                for prop in group.get("properties") or []:
                    value = prop.get("value")
                    if prop.get("type") == "cohort" and str(value).isdigit():
                        found.add(int(value))
    return found


def definitions(
    project_id: int,
    flags: Iterable[FeatureFlag],
    group_types: Mapping[int, str],
    cohorts: CohortMembership,
) -> dict[str, Any]:
    shipped = [f for f in flags if not f.key.startswith(CLIENT_ONLY_PREFIXES)]
    evaluable = {}
    for cohort_id in sorted(cohort_ids(shipped)):
        filters = cohorts.property_filters(project_id, cohort_id)
        if filters is not None:
            evaluable[str(cohort_id)] = filters
    return {
        "flags": [flag_definition(f) for f in shipped],
        "group_type_mapping": {str(index): name for index, name in sorted(group_types.items())},
        "cohorts": evaluable,
    }
