"""Evaluating a project's flags for one subject, as PostHog's server does.

For each flag: resolve whom it buckets (a person's distinct id, its device id,
its experience-continuity hash key, or a group's key), apply the holdout and
the early-access super group, then the condition groups in order, the first
match winning (compat §6.2, §6.3; compat-2 §10.1). A flag that matches no
condition says why, with PostHog's reason codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from magpie.flags.cohorts import CohortMembership
from magpie.flags.hashing import bucket, holdout_bucket, variant_bucket
from magpie.flags.operators import UnknownOperator, property_test
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


# A property filter of a condition, compiled: the evaluation (for cohorts, flag
# dependencies and now) and the target's properties → whether it holds.
_Predicate = Callable[["_Evaluation", Mapping[str, Any]], bool]


class _Condition:
    """One condition set, compiled: its filters as predicates, its rollout as a
    fraction, its variant override if it names one of the flag's variants."""

    __slots__ = ("group", "override", "predicates", "rollout")

    def __init__(
        self, condition: Mapping[str, Any], group: Any, variants: Sequence[tuple[str, float]]
    ) -> None:
        self.group = group
        self.predicates = tuple(_predicate(p) for p in condition.get("properties") or [])
        rollout = condition.get("rollout_percentage")
        self.rollout: float | None = None if rollout is None else rollout / 100
        override = condition.get("variant")
        known = override and any(key == override for key, _ in variants)
        self.override = str(override) if known else None


class _Flag:
    """A flag's filters compiled once per flag-set version, so a request does not
    read the filters JSON again. Its results are shared too: a flag has few
    distinct answers (a variant, a reason, a condition index), each made once."""

    __slots__ = (
        "by_device",
        "conditions",
        "continuity",
        "depends",
        "early_exit",
        "enrollment_key",
        "flag",
        "group",
        "holdout",
        "key",
        "payloads",
        "results",
        "super_condition",
        "variants",
    )

    def __init__(self, flag: FeatureFlag) -> None:
        filters = flag.filters
        self.flag = flag
        self.key = flag.key
        self.group = filters.get("aggregation_group_type_index")
        self.by_device = filters.get("bucketing_identifier") == "device_id"
        self.continuity = flag.ensure_experience_continuity
        # Each variant with the running total of the rollouts up to it, summed as
        # the SDKs sum them (so a boundary falls on the same side).
        variants: list[tuple[str, float]] = []
        cumulative = 0.0
        for variant in variants_of(filters):
            cumulative += variant.get("rollout_percentage", 0) / 100
            variants.append((str(variant["key"]), cumulative))
        self.variants = tuple(variants)
        self.conditions = tuple(
            _Condition(c, c.get("aggregation_group_type_index", self.group), self.variants)
            for c in filters.get("groups") or []
        )
        self.holdout = _holdout_of(filters)
        self.enrollment_key = (
            f"$feature_enrollment/{flag.key}" if filters.get("feature_enrollment") is True else None
        )
        super_groups = filters.get("super_groups") or []
        self.super_condition = (
            _Condition(super_groups[0], self.group, self.variants) if super_groups else None
        )
        self.early_exit = bool(filters.get("early_exit"))
        self.payloads = filters.get("payloads") or {}
        self.depends = any(
            prop.get("type") == "flag"
            for name in ("groups", "super_groups")
            for condition in filters.get(name) or []
            for prop in condition.get("properties") or []
        )
        self.results: dict[tuple[Any, ...], FlagResult] = {}

    def on(
        self, variant: str | None, reason: str, index: int | None, *, payload: bool = True
    ) -> FlagResult:
        found = self.results.get((True, variant, reason, index, payload))
        if found is None:
            found = _on(self.flag, variant, reason, index, payload=payload)
            self.results[(True, variant, reason, index, payload)] = found
        return found

    def off(self, reason: str, index: int | None = None) -> FlagResult:
        found = self.results.get((False, reason, index))
        if found is None:
            found = _off(self.flag, reason, index)
            self.results[(False, reason, index)] = found
        return found

    def variant(self, override: str | None, target: Target) -> str | None:
        if override is not None:
            return override
        if not self.variants:
            return None
        position = variant_bucket(self.key, target.bucketing_value)
        for key, cumulative in self.variants:
            if position < cumulative:
                return key
        return None


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
        self.compiled = {f.id: _Flag(f) for f in self.flags}
        self._active = tuple(self.compiled[f.id] for f in self.active)
        # cohort id → (the property filters it was compiled from, the compiled group)
        self.cohort_groups: dict[int, tuple[Mapping[str, Any], _Predicate]] = {}

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
        # A flag that depends on no other flag skips result()'s bookkeeping (a
        # flag that depends on it evaluates it again, to the same answer).
        return [
            run.result(f) if f.depends else run.independent(f)
            for f in self._active
            if wanted is None or f.key in wanted
        ]

    def reaches(
        self, flag: FeatureFlag, subject: Subject, cohorts: CohortMembership, now: datetime
    ) -> bool:
        """Whether ``subject`` matches every property of one of ``flag``'s condition
        sets, whatever the rollouts: whom a release condition reaches
        (``magpie/flags/blast_radius.py``). Only the properties are matched, so
        it skips what ``evaluate`` does beyond them."""
        return _Evaluation(self, subject, cohorts, now).reaches(self._compiled(flag))

    def _compiled(self, flag: FeatureFlag) -> _Flag:
        found = self.compiled.get(flag.id)
        return found if found is not None and found.flag is flag else _Flag(flag)


class _Evaluation:
    """One request's evaluation: dependencies are evaluated once and shared."""

    __slots__ = (
        "by_distinct_id",
        "cohorts",
        "done",
        "flags",
        "groups",
        "now",
        "running",
        "subject",
    )

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
        self.groups: dict[Any, Target | None] = {}  # group type index → its target

    def result(self, flag: _Flag) -> FlagResult:
        flag_id = flag.flag.id
        found = self.done.get(flag_id)
        if found is not None:
            return found
        if flag_id in self.running:
            raise _Unevaluable(DEPENDENCY_CYCLE)
        self.running.add(flag_id)
        try:
            found = self.evaluate(flag)
        except _Unevaluable as problem:
            found = flag.off(problem.reason)
        finally:
            self.running.discard(flag_id)
        self.done[flag_id] = found
        return found

    def independent(self, flag: _Flag) -> FlagResult:
        try:
            return self.evaluate(flag)
        except _Unevaluable as problem:
            return flag.off(problem.reason)

    def reaches(self, flag: _Flag) -> bool:
        for condition in flag.conditions:
            target = self._target(flag, condition.group)
            if target is None:
                continue
            try:
                if all(p(self, target.properties) for p in condition.predicates):
                    return True
            except _Unevaluable:
                return False  # a missing dependency or a cycle: /flags turns the flag off
        return False

    def evaluate(self, flag: _Flag) -> FlagResult:
        flag_group = flag.group
        target = self._target(flag, flag_group)
        if target is None:
            return flag.off(NO_GROUP_TYPE)
        if flag.holdout is not None:
            holdout = _in_holdout(flag.holdout, target.bucketing_value)
            if holdout is not None:
                return flag.on(holdout, HOLDOUT_CONDITION_VALUE, None, payload=False)
        if flag.enrollment_key is not None or flag.super_condition is not None:
            enrolled = self._super_condition(flag, target)
            if enrolled is not None:
                return enrolled
        reason, reason_index = NO_CONDITION_MATCH, None
        for index, condition in enumerate(flag.conditions):
            group = condition.group
            here = target if group == flag_group else self._target(flag, group)
            outcome = NO_GROUP_TYPE if here is None else self._condition(flag, condition, here)
            if outcome == CONDITION_MATCH and here is not None:
                return flag.on(flag.variant(condition.override, here), CONDITION_MATCH, index)
            if reason_index is None or _PRIORITY[outcome] > _PRIORITY[reason]:
                reason, reason_index = outcome, index
            if outcome == OUT_OF_ROLLOUT_BOUND and flag.early_exit:
                break
        return flag.off(reason, reason_index)

    def _target(self, flag: _Flag, group_index: Any) -> Target | None:
        if group_index is None:
            subject = self.subject
            if flag.by_device and subject.device_id:
                bucketing = subject.device_id
            elif flag.continuity:
                bucketing = (
                    subject.hash_keys.get(flag.key)
                    or subject.anon_distinct_id
                    or subject.distinct_id
                )
            else:
                return self.by_distinct_id
            if bucketing is subject.distinct_id:
                return self.by_distinct_id
            return Target(subject.person_properties, bucketing)
        try:
            return self.groups[group_index]
        except KeyError:
            target = self.groups[group_index] = self._group_target(group_index)
            return target
        except TypeError:  # not a group type index at all (an unhashable one)
            return None

    def _group_target(self, group_index: Any) -> Target | None:
        subject = self.subject
        type_name = subject.group_types.get(group_index) if isinstance(group_index, int) else None
        if type_name is None or type_name not in subject.groups:
            return None
        key = subject.groups[type_name]
        properties = {**subject.group_properties.get(type_name, {}), "$group_key": key}
        return Target(properties, key)

    def _super_condition(self, flag: _Flag, target: Target) -> FlagResult | None:
        """Early access: an enrolled person has the flag whatever its conditions say."""
        if flag.enrollment_key is not None:
            if target.properties.get(flag.enrollment_key) in (True, "true"):
                return flag.on(flag.variant(None, target), SUPER_CONDITION_VALUE, 0)
            return None
        condition = flag.super_condition
        if condition is not None and self._condition(flag, condition, target) == CONDITION_MATCH:
            return flag.on(flag.variant(condition.override, target), SUPER_CONDITION_VALUE, 0)
        return None

    def _condition(self, flag: _Flag, condition: _Condition, target: Target) -> str:
        properties = target.properties
        for predicate in condition.predicates:
            if not predicate(self, properties):
                return NO_CONDITION_MATCH
        rollout = condition.rollout
        if rollout is not None and bucket(flag.key, target.bucketing_value) > rollout:
            return OUT_OF_ROLLOUT_BOUND
        return CONDITION_MATCH

    def in_cohort(self, cohort_id: int | None) -> bool | None:
        """Whether the subject is in the cohort; None for an unknown cohort (or a
        value that is not a cohort id), which no one matches, "in" or "not in"."""
        project_id = self.subject.project_id
        if cohort_id is None or not self.cohorts.exists(project_id, cohort_id):
            return None
        filters = self.cohorts.property_filters(project_id, cohort_id)
        if filters is not None:
            return self._cohort_group(cohort_id, filters)(self, self.subject.person_properties)
        if self.subject.person_id is None:
            return False  # only persons are in cohorts
        return self.cohorts.is_member(project_id, cohort_id, self.subject.person_id)

    def _cohort_group(self, cohort_id: int, filters: Mapping[str, Any]) -> _Predicate:
        """The cohort's property filters compiled, again only when they change."""
        kept = self.flags.cohort_groups.get(cohort_id)
        if kept is not None and kept[0] is filters:
            return kept[1]
        compiled = _property_group(filters)
        self.flags.cohort_groups[cohort_id] = (filters, compiled)
        return compiled

    def dependency(self, flag_id: int | None, expected: Any) -> bool:
        flag = self.flags.by_id.get(flag_id) if flag_id is not None else None
        if flag is None:
            raise _Unevaluable(MISSING_DEPENDENCY)
        if not flag.active:
            value: bool | str = False
        else:
            result = self.result(self.flags._compiled(flag))
            if result.reason_code in (MISSING_DEPENDENCY, DEPENDENCY_CYCLE):
                raise _Unevaluable(result.reason_code)
            value = result.value
        if isinstance(value, str):
            return expected is True or expected == value  # variants are case-sensitive
        return isinstance(expected, bool) and expected == value


# -- compiling property filters -----------------------------------------------------


def _predicate(prop: Mapping[str, Any]) -> _Predicate:
    kind = prop.get("type") or "person"
    compile_kind = _PREDICATES.get(kind)
    return _never if compile_kind is None else compile_kind(prop)


def _never(run: _Evaluation, properties: Mapping[str, Any]) -> bool:
    return False


def _property_predicate(prop: Mapping[str, Any]) -> _Predicate:
    try:
        test = property_test(prop)
    except UnknownOperator:
        return _never
    negation = bool(prop.get("negation"))
    return lambda run, properties: test(properties, run.now) != negation


def _cohort_predicate(prop: Mapping[str, Any]) -> _Predicate:
    cohort_id = _cohort_id(prop.get("value"))
    wanted = prop.get("operator") != "not_in"
    negation = bool(prop.get("negation"))

    def match(run: _Evaluation, properties: Mapping[str, Any]) -> bool:
        member = run.in_cohort(cohort_id)
        return member is not None and (member == wanted) != negation

    return match


def _dependency_predicate(prop: Mapping[str, Any]) -> _Predicate:
    flag_id = _cohort_id(prop.get("key"))
    expected = prop.get("value")
    return lambda run, properties: run.dependency(flag_id, expected)


_PREDICATES: dict[str, Callable[[Mapping[str, Any]], _Predicate]] = {
    "person": _property_predicate,
    "group": _property_predicate,
    "cohort": _cohort_predicate,
    "flag": _dependency_predicate,
}


def _property_group(group: Mapping[str, Any]) -> _Predicate:
    """A cohort's ``{"type": "AND"|"OR", "values": [...]}``, nested groups included."""
    parts = tuple(
        _property_group(v) if "values" in v else _predicate(v) for v in group.get("values") or []
    )
    if not parts:
        return lambda run, properties: True
    if group.get("type") == "OR":
        return lambda run, properties: any(p(run, properties) for p in parts)
    return lambda run, properties: all(p(run, properties) for p in parts)


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


def _holdout_of(filters: Mapping[str, Any]) -> tuple[float, str] | None:
    """The holdout's share as a fraction and the value it gives, if the flag has one."""
    holdout = filters.get("holdout")
    if not isinstance(holdout, Mapping):
        return None
    percentage, holdout_id = holdout.get("exclusion_percentage"), holdout.get("id")
    if percentage is None or holdout_id is None:
        return None
    share = min(max(float(percentage), 0.0), 100.0)
    return share, f"holdout-{holdout_id}"


def _in_holdout(holdout: tuple[float, str], bucketing_value: str) -> str | None:
    share, value = holdout
    if share != 100.0 and holdout_bucket(bucketing_value) > share / 100:
        return None
    return value


def variants_of(filters: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((filters.get("multivariate") or {}).get("variants") or [])


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
