"""The definitions server SDKs download to evaluate flags themselves (compat §6.6).

Flags as PostHog sends them, the project's group types, and the cohorts that
person properties alone decide (the SDKs evaluate those; a flag on any other
cohort is missing from ``cohorts``, and the SDK asks ``/flags`` instead).
Surveys' internal targeting flags are left out: only clients use them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from magpie.flags.cohorts import CohortMembership
from magpie.flags.filters import dependencies
from magpie.store.model import FeatureFlag

CLIENT_ONLY_PREFIXES = ("survey-targeting-", "product-tour-targeting-")


def flag_definition(flag: FeatureFlag, by_id: Mapping[int, FeatureFlag]) -> dict[str, Any]:
    return {
        "id": flag.id,
        "team_id": flag.project_id,
        "key": flag.key,
        "name": flag.name,
        "filters": _with_dependency_chains(flag.filters, by_id),
        "deleted": False,
        "active": flag.active,
        "ensure_experience_continuity": flag.ensure_experience_continuity,
        "version": flag.version,
        "has_experiment": False,
        "bucketing_identifier": flag.filters.get("bucketing_identifier"),
    }


def _with_dependency_chains(
    filters: dict[str, Any], by_id: Mapping[int, FeatureFlag]
) -> dict[str, Any]:
    """Flag dependencies as the SDKs read them: the ``key`` is the flag's key (the
    stored filter names its id) and ``dependency_chain`` lists the flags to
    evaluate first, the one depended on last; empty for a cycle, as PostHog
    sends it. Flags that depend on nothing are sent as stored."""
    if not dependencies(filters):
        return filters
    copied = copy.deepcopy(filters)
    for name in ("groups", "super_groups"):
        for group in copied.get(name) or []:
            for prop in group.get("properties") or []:
                if prop.get("type") != "flag" or not str(prop.get("key", "")).isdigit():
                    continue
                target = by_id.get(int(prop["key"]))
                if target is not None:
                    prop["key"] = target.key
                    prop["dependency_chain"] = _chain(target, by_id)
    return copied


def _chain(flag: FeatureFlag, by_id: Mapping[int, FeatureFlag]) -> list[str]:
    """The keys of ``flag``'s dependencies, deepest first, then its own; [] on a cycle."""
    order: list[str] = []
    visiting: set[int] = set()

    def visit(current: FeatureFlag) -> bool:
        if current.key in order:
            return True
        if current.id in visiting:
            return False
        visiting.add(current.id)
        for dependency_id in sorted(dependencies(current.filters)):
            dependency = by_id.get(dependency_id)
            if dependency is not None and not visit(dependency):
                return False
        visiting.discard(current.id)
        order.append(current.key)
        return True

    return order if visit(flag) else []


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
    flags = list(flags)
    shipped = [f for f in flags if not f.key.startswith(CLIENT_ONLY_PREFIXES)]
    evaluable = {}
    for cohort_id in sorted(cohort_ids(shipped)):
        filters = cohorts.property_filters(project_id, cohort_id)
        if filters is not None:
            evaluable[str(cohort_id)] = filters
    by_id = {f.id: f for f in flags}
    return {
        "flags": [flag_definition(f, by_id) for f in shipped],
        "group_type_mapping": {str(index): name for index, name in sorted(group_types.items())},
        "cohorts": evaluable,
    }
