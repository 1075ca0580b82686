"""Evaluating a project's flags for one subject, as PostHog's server does.

For each flag: resolve whom it buckets (a person's distinct id, its device id,
its experience-continuity hash key, or a group's key), apply the holdout and
the early-access super group, then the condition groups in order, the first
match winning (compat §6.2, §6.3; compat-2 §10.1). A flag that matches no
condition says why, with PostHog's reason codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from magpie.flags.cohorts import CohortMembership
from magpie.flags.hashing import bucket, holdout_bucket, variant_bucket
from magpie.flags.operators import UnknownOperator, match_property
from magpie.flags.responses import FlagResult
from magpie.flags.subject import Subject
from magpie.store.model import FeatureFlag

CONDITION_MATCH = "condition_match"
NO_CONDITION_MATCH = "no_condition_match"
OUT_OF_ROLLOUT_BOUND = "out_of_rollout_bound"
NO_GROUP_TYPE = "no_group_type"
SUPER_CONDITION_VALUE = "super_condition_value"
HOLDOUT_CONDITION_VALUE = "holdout_condition_value"
MISSING_DEPENDENCY = "missing_dependency"
DEPENDENCY_CYCLE = "dependency_cycle"

# A flag that matches nothing reports the most telling reason any of its
# conditions gave (the first condition that gave it).
_PRIORITY = {NO_CONDITION_MATCH: 0, OUT_OF_ROLLOUT_BOUND: 1, NO_GROUP_TYPE: 2}
_DESCRIPTIONS = {
    NO_CONDITION_MATCH: "No matching condition set",
    OUT_OF_ROLLOUT_BOUND: "Out of rollout bound",
    NO_GROUP_TYPE: "No group type",
    SUPER_CONDITION_VALUE: "Super condition value",
    HOLDOUT_CONDITION_VALUE: "Holdout condition value",
    MISSING_DEPENDENCY: "A flag this flag depends on does not exist",
    DEPENDENCY_CYCLE: "The flags this flag depends on depend on it",
}


@dataclass(slots=True)
class Target:
    """What one condition is matched against and bucketed by (not frozen: made
    for every flag of every request, and a frozen dataclass is slower to make)."""

    properties: Mapping[str, Any]
    bucketing_value: str


class _Unevaluable(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class FlagSet:
    """A project's flag definitions, ready to evaluate (built once per change)."""

    def __init__(self, flags: Iterable[FeatureFlag]) -> None:
        live = [f for f in flags if not f.deleted]
        self.flags: tuple[FeatureFlag, ...] = tuple(sorted(live, key=lambda f: f.id))
        self.by_id = {f.id: f for f in self.flags}
        self.active = tuple(f for f in self.flags if f.active)
        self.continuity_keys = frozenset(
            f.key for f in self.active if f.ensure_experience_continuity
        )
        # What evaluation reads from the stores: nothing at all for flags that
        # only roll out, which are then evaluated from the request alone.
        self.reads_persons = any(_reads(f, group=False) for f in self.active)
        self.reads_groups = any(_reads(f, group=True) for f in self.active)

    def evaluate(
        self,
        subject: Subject,
        cohorts: CohortMembership,
        now: datetime,
        keys: Sequence[str] | None = None,
    ) -> list[FlagResult]:
        """Every active flag (or those named in ``keys``), in id order."""
        run = _Evaluation(self, subject, cohorts, now)
        wanted = set(keys) if keys else None
        return [run.result(f) for f in self.active if wanted is None or f.key in wanted]

    def reaches(
        self, flag: FeatureFlag, subject: Subject, cohorts: CohortMembership, now: datetime
    ) -> bool:
        """Whether ``subject`` matches every property of one of ``flag``'s condition
        sets, whatever the rollouts: whom a release condition reaches
        (``magpie/flags/blast_radius.py``). Only the properties are matched, so
        it skips what ``evaluate`` does beyond them."""
        return _Evaluation(self, subject, cohorts, now).reaches(flag)


class _Evaluation:
    """One request's evaluation: dependencies are evaluated once and shared."""

    def __init__(
        self, flags: FlagSet, subject: Subject, cohorts: CohortMembership, now: datetime
    ) -> None:
        self.flags = flags
        self.subject = subject
        self.cohorts = cohorts
        self.now = now
        self.done: dict[int, FlagResult] = {}
        self.running: set[int] = set()
        # The target of every person flag bucketed by the distinct id (most flags).
        self.by_distinct_id = Target(subject.person_properties, subject.distinct_id)

    def result(self, flag: FeatureFlag) -> FlagResult:
        found = self.done.get(flag.id)
        if found is not None:
            return found
        if flag.id in self.running:
            raise _Unevaluable(DEPENDENCY_CYCLE)
        self.running.add(flag.id)
        try:
            found = self._evaluate(flag)
        except _Unevaluable as problem:
            found = _off(flag, problem.reason)
        finally:
            self.running.discard(flag.id)
        self.done[flag.id] = found
        return found

    def reaches(self, flag: FeatureFlag) -> bool:
        flag_group = flag.filters.get("aggregation_group_type_index")
        for condition in flag.filters.get("groups") or []:
            target = self._target(flag, condition.get("aggregation_group_type_index", flag_group))
            if target is None:
                continue
            try:
                if all(
                    self._matches(p, target.properties) for p in condition.get("properties") or []
                ):
                    return True
            except _Unevaluable:
                return False  # a missing dependency or a cycle: /flags turns the flag off
        return False

    def _evaluate(self, flag: FeatureFlag) -> FlagResult:
        filters = flag.filters
        flag_group = filters.get("aggregation_group_type_index")
        target = self._target(flag, flag_group)
        if target is None:
            return _off(flag, NO_GROUP_TYPE)
        holdout = _holdout(filters, target.bucketing_value)
        if holdout is not None:
            return _on(flag, holdout, HOLDOUT_CONDITION_VALUE, None, payload=False)
        enrolled = self._super_condition(flag, target)
        if enrolled is not None:
            return enrolled
        reason, reason_index = NO_CONDITION_MATCH, None
        for index, condition in enumerate(filters.get("groups") or []):
            group = condition.get("aggregation_group_type_index", flag_group)
            here = target if group == flag_group else self._target(flag, group)
            outcome = NO_GROUP_TYPE if here is None else self._condition(flag, condition, here)
            if outcome == CONDITION_MATCH and here is not None:
                return _on(flag, _variant(flag, condition, here), CONDITION_MATCH, index)
            if reason_index is None or _PRIORITY[outcome] > _PRIORITY[reason]:
                reason, reason_index = outcome, index
            if outcome == OUT_OF_ROLLOUT_BOUND and filters.get("early_exit"):
                break
        return _off(flag, reason, reason_index)

    def _target(self, flag: FeatureFlag, group_index: Any) -> Target | None:
        subject = self.subject
        if group_index is None:
            bucketing = self._person_bucketing(flag)
            if bucketing is subject.distinct_id:
                return self.by_distinct_id
            return Target(subject.person_properties, bucketing)
        type_name = subject.group_types.get(group_index) if isinstance(group_index, int) else None
        if type_name is None or type_name not in subject.groups:
            return None
        key = subject.groups[type_name]
        properties = {**subject.group_properties.get(type_name, {}), "$group_key": key}
        return Target(properties, key)

    def _person_bucketing(self, flag: FeatureFlag) -> str:
        subject = self.subject
        identifier = flag.filters.get("bucketing_identifier")
        if identifier == "device_id" and subject.device_id:
            return subject.device_id
        if flag.ensure_experience_continuity:
            return (
                subject.hash_keys.get(flag.key) or subject.anon_distinct_id or subject.distinct_id
            )
        return subject.distinct_id

    def _super_condition(self, flag: FeatureFlag, target: Target) -> FlagResult | None:
        """Early access: an enrolled person has the flag whatever its conditions say."""
        filters = flag.filters
        if filters.get("feature_enrollment") is True:
            enrollment_key = f"$feature_enrollment/{flag.key}"
            if target.properties.get(enrollment_key) in (True, "true"):
                return _on(flag, _variant(flag, {}, target), SUPER_CONDITION_VALUE, 0)
            return None
        super_groups = filters.get("super_groups") or []
        if super_groups and self._condition(flag, super_groups[0], target) == CONDITION_MATCH:
            return _on(flag, _variant(flag, super_groups[0], target), SUPER_CONDITION_VALUE, 0)
        return None

    def _condition(self, flag: FeatureFlag, condition: Mapping[str, Any], target: Target) -> str:
        for prop in condition.get("properties") or []:
            if not self._matches(prop, target.properties):
                return NO_CONDITION_MATCH
        rollout = condition.get("rollout_percentage")
        if rollout is not None and bucket(flag.key, target.bucketing_value) > rollout / 100:
            return OUT_OF_ROLLOUT_BOUND
        return CONDITION_MATCH

    def _matches(self, prop: Mapping[str, Any], properties: Mapping[str, Any]) -> bool:
        kind = prop.get("type") or "person"
        if kind == "cohort":
            return self._in_cohort(prop)
        if kind == "flag":
            return self._dependency(prop)
        if kind in ("person", "group"):
            try:
                return match_property(prop, properties, self.now) != bool(prop.get("negation"))
            except UnknownOperator:
                return False
        return False

    def _in_cohort(self, prop: Mapping[str, Any]) -> bool:
        cohort_id = _cohort_id(prop.get("value"))
        project_id = self.subject.project_id
        if cohort_id is None or not self.cohorts.exists(project_id, cohort_id):
            return False  # an unknown cohort is matched by no one, "in" or "not in"
        filters = self.cohorts.property_filters(project_id, cohort_id)
        if filters is not None:
            member = self._property_group(filters, self.subject.person_properties)
        elif self.subject.person_id is None:
            member = False  # only persons are in cohorts
        else:
            member = self.cohorts.is_member(project_id, cohort_id, self.subject.person_id)
        wanted = prop.get("operator") != "not_in"
        return (member == wanted) != bool(prop.get("negation"))

    def _property_group(self, group: Mapping[str, Any], properties: Mapping[str, Any]) -> bool:
        values = group.get("values") or []
        if not values:
            return True
        results = (
            self._property_group(v, properties) if "values" in v else self._matches(v, properties)
            for v in values
        )
        return any(results) if group.get("type") == "OR" else all(results)

    def _dependency(self, prop: Mapping[str, Any]) -> bool:
        flag_id = _cohort_id(prop.get("key"))
        flag = self.flags.by_id.get(flag_id) if flag_id is not None else None
        if flag is None:
            raise _Unevaluable(MISSING_DEPENDENCY)
        if not flag.active:
            value: bool | str = False
        else:
            result = self.result(flag)
            if result.reason_code in (MISSING_DEPENDENCY, DEPENDENCY_CYCLE):
                raise _Unevaluable(result.reason_code)
            value = result.value
        expected = prop.get("value")
        if isinstance(value, str):
            return expected is True or expected == value  # variants are case-sensitive
        return isinstance(expected, bool) and expected == value


def _reads(flag: FeatureFlag, *, group: bool) -> bool:
    """Whether the flag needs the stored person (its properties, for cohorts), or
    the stored groups (their types even to bucket, their properties)."""
    filters = flag.filters
    flag_group = filters.get("aggregation_group_type_index")
    if group and flag_group is not None:
        return True
    if not group and (filters.get("feature_enrollment") or filters.get("super_groups")):
        return True
    for condition in filters.get("groups") or []:
        by_group = condition.get("aggregation_group_type_index", flag_group) is not None
        if by_group and group:
            return True
        if not by_group and not group and condition.get("properties"):
            return True
    return False


def _cohort_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _holdout(filters: Mapping[str, Any], bucketing_value: str) -> str | None:
    holdout = filters.get("holdout")
    if not isinstance(holdout, Mapping):
        return None
    percentage, holdout_id = holdout.get("exclusion_percentage"), holdout.get("id")
    if percentage is None or holdout_id is None:
        return None
    share = min(max(float(percentage), 0.0), 100.0)
    if share != 100.0 and holdout_bucket(bucketing_value) > share / 100:
        return None
    return f"holdout-{holdout_id}"


def variants_of(filters: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((filters.get("multivariate") or {}).get("variants") or [])


def _variant(flag: FeatureFlag, condition: Mapping[str, Any], target: Target) -> str | None:
    variants = variants_of(flag.filters)
    override = condition.get("variant")
    if override and any(v.get("key") == override for v in variants):
        return str(override)
    position = variant_bucket(flag.key, target.bucketing_value)
    cumulative = 0.0
    for variant in variants:
        cumulative += variant.get("rollout_percentage", 0) / 100
        if position < cumulative:
            return str(variant["key"])
    return None


def _on(
    flag: FeatureFlag,
    variant: str | None,
    reason: str,
    index: int | None,
    *,
    payload: bool = True,
) -> FlagResult:
    payloads = flag.filters.get("payloads") or {}
    description = (
        f"Matched condition set {index + 1}"
        if reason == CONDITION_MATCH and index is not None
        else _DESCRIPTIONS[reason]
    )
    return FlagResult(
        key=flag.key,
        enabled=True,
        variant=variant,
        payload=payloads.get(variant or "true") if payload else None,
        reason_code=reason,
        reason_description=description,
        condition_index=index,
        flag_id=flag.id,
        version=flag.version,
    )


def _off(flag: FeatureFlag, reason: str, index: int | None = None) -> FlagResult:
    return FlagResult(
        key=flag.key,
        enabled=False,
        reason_code=reason,
        reason_description=_DESCRIPTIONS[reason],
        condition_index=index,
        flag_id=flag.id,
        version=flag.version,
    )
