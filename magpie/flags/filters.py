"""Checking a flag's filters JSON before it is saved, with an error that says where.

Everything evaluation reads is checked here, so a saved flag never fails at
request time: operators exist and their values parse, rollouts are
percentages, variants add up to 100, overrides name a variant, payloads are
JSON, group indexes are group type indexes, dependencies name other flags of
the project without a cycle.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from magpie.errors import InvalidFlagFilters
from magpie.flags.evaluation import variants_of
from magpie.flags.operators import OPERATORS, as_number, compiled_pattern, date_bound, parse_semver
from magpie.store.model import FeatureFlag

KEY_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,400}$")
MAX_GROUPS = 100
MAX_PROPERTIES = 100
MAX_GROUP_TYPE_INDEX = 4  # PostHog projects have at most five group types
BUCKETING_IDENTIFIERS = ("distinct_id", "device_id")
_COHORT_OPERATORS = ("in", "not_in", "exact", None)
_NOW = datetime(2000, 1, 1, tzinfo=UTC)  # relative dates only need to parse


def _fail(path: str, message: str) -> InvalidFlagFilters:
    return InvalidFlagFilters(f"{path}: {message}", attr=path)


def check_key(key: object) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise InvalidFlagFilters(
            "a flag key is 1 to 400 letters, digits, hyphens (-) and underscores (_)", attr="key"
        )
    return key


def check_filters(
    filters: object, flag_id: int | None, project_flags: Mapping[int, FeatureFlag]
) -> dict[str, Any]:
    """``filters`` if it is a valid filters object for flag ``flag_id`` (None: a new
    flag) among ``project_flags``; otherwise ``InvalidFlagFilters`` naming the field."""
    if not isinstance(filters, dict):
        raise _fail("filters", "must be an object")
    variant_keys = _check_variants(filters.get("multivariate"))
    _check_group_index(
        filters.get("aggregation_group_type_index"), "filters.aggregation_group_type_index"
    )
    for name in ("groups", "super_groups"):
        groups = filters.get(name)
        if groups is None:
            continue
        if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
            raise _fail(f"filters.{name}", f"must be a list of at most {MAX_GROUPS} condition sets")
        for index, group in enumerate(groups):
            _check_condition(
                group, f"filters.{name}[{index}]", variant_keys, flag_id, project_flags
            )
    payloads = _check_payloads(filters.get("payloads"), variant_keys)
    _check_holdout(filters.get("holdout"))
    if filters.get("early_exit") not in (None, True, False):
        raise _fail("filters.early_exit", "must be true or false")
    if filters.get("feature_enrollment") not in (None, True, False):
        raise _fail("filters.feature_enrollment", "must be true or false")
    if filters.get("bucketing_identifier") not in (None, *BUCKETING_IDENTIFIERS):
        raise _fail("filters.bucketing_identifier", "must be distinct_id or device_id")
    checked = {**filters, "payloads": payloads}
    if flag_id is not None:
        _check_no_cycle(flag_id, checked, project_flags)
    return checked


def _check_variants(multivariate: object) -> set[str]:
    if multivariate is None:
        return set()
    path = "filters.multivariate"
    if not isinstance(multivariate, dict) or not isinstance(multivariate.get("variants"), list):
        raise _fail(path, 'must be {"variants": [{"key": ..., "rollout_percentage": ...}, ...]}')
    keys: set[str] = set()
    total = 0.0
    for index, variant in enumerate(variants_of({"multivariate": multivariate})):
        where = f"{path}.variants[{index}]"
        key = variant.get("key") if isinstance(variant, dict) else None
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise _fail(f"{where}.key", "a variant key is letters, digits, hyphens and underscores")
        if key in keys:
            raise _fail(f"{where}.key", f"variant {key!r} is listed twice")
        keys.add(key)
        total += _percentage(variant.get("rollout_percentage"), f"{where}.rollout_percentage")
    if keys and abs(total - 100) > 1e-9:
        raise _fail(path, f"the variants' rollout percentages add up to {total:g}, not 100")
    return keys


def _percentage(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise _fail(path, "must be a number from 0 to 100")
    return float(value)


def _check_group_index(value: object, path: str) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_GROUP_TYPE_INDEX
    ):
        raise _fail(path, f"must be a group type index from 0 to {MAX_GROUP_TYPE_INDEX}, or null")


def _check_condition(
    group: object,
    path: str,
    variant_keys: set[str],
    flag_id: int | None,
    project_flags: Mapping[int, FeatureFlag],
) -> None:
    if not isinstance(group, dict):
        raise _fail(path, "a condition set is an object with properties and rollout_percentage")
    if group.get("rollout_percentage") is not None:
        _percentage(group["rollout_percentage"], f"{path}.rollout_percentage")
    variant = group.get("variant")
    if variant not in (None, "") and variant not in variant_keys:
        raise _fail(f"{path}.variant", f"{variant!r} is not one of the flag's variants")
    if "aggregation_group_type_index" in group:
        _check_group_index(
            group["aggregation_group_type_index"], f"{path}.aggregation_group_type_index"
        )
    properties = group.get("properties") or []
    if not isinstance(properties, list) or len(properties) > MAX_PROPERTIES:
        raise _fail(f"{path}.properties", f"must be a list of at most {MAX_PROPERTIES} filters")
    for index, prop in enumerate(properties):
        _check_property(prop, f"{path}.properties[{index}]", flag_id, project_flags)


def _check_property(
    prop: object, path: str, flag_id: int | None, project_flags: Mapping[int, FeatureFlag]
) -> None:
    if not isinstance(prop, dict):
        raise _fail(path, "a property filter is an object with key, operator and value")
    kind = prop.get("type") or "person"
    checker = _PROPERTY_CHECKS.get(kind)
    if checker is None:
        raise _fail(f"{path}.type", "must be person, group, cohort or flag")
    if not isinstance(prop.get("key"), (str, int)) or isinstance(prop.get("key"), bool):
        raise _fail(f"{path}.key", "must be a property name")
    checker(prop, path, flag_id, project_flags)


def _check_person(prop: dict[str, Any], path: str, flag_id: Any, flags: Any) -> None:
    operator = prop.get("operator") or "exact"
    if operator not in OPERATORS:
        raise _fail(f"{path}.operator", f"unknown operator {str(operator)[:50]!r}")
    value = prop.get("value")
    check = _VALUE_CHECKS.get(operator)
    if check is not None and not check[0](value):
        raise _fail(f"{path}.value", check[1])


def _check_group(prop: dict[str, Any], path: str, flag_id: Any, flags: Any) -> None:
    _check_group_index(prop.get("group_type_index"), f"{path}.group_type_index")
    _check_person(prop, path, flag_id, flags)


def _check_cohort(prop: dict[str, Any], path: str, flag_id: Any, flags: Any) -> None:
    value = prop.get("value")
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.isdigit())
    ):
        raise _fail(f"{path}.value", "must be a cohort id")
    if prop.get("operator") not in _COHORT_OPERATORS:
        raise _fail(f"{path}.operator", "must be in or not_in")


def _check_dependency(
    prop: dict[str, Any], path: str, flag_id: int | None, flags: Mapping[int, FeatureFlag]
) -> None:
    key = prop.get("key")
    target = int(key) if isinstance(key, int) or (isinstance(key, str) and key.isdigit()) else None
    if target is None or target not in flags or flags[target].deleted:
        raise _fail(f"{path}.key", f"no flag of this project has id {str(key)[:50]!r}")
    if target == flag_id:
        raise _fail(f"{path}.key", "a flag cannot depend on itself")
    if prop.get("operator") not in (None, "flag_evaluates_to"):
        raise _fail(f"{path}.operator", "must be flag_evaluates_to")
    if not isinstance(prop.get("value"), (bool, str)):
        raise _fail(f"{path}.value", "must be true, false or a variant key")


_PROPERTY_CHECKS: dict[str, Callable[[dict[str, Any], str, Any, Any], None]] = {
    "person": _check_person,
    "group": _check_group,
    "cohort": _check_cohort,
    "flag": _check_dependency,
}


def _scalars(value: object, test: Callable[[Any], bool]) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(test(v) for v in values)


def _regex_ok(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 1000 and compiled_pattern(value) is not None


_NUMBER = "must be a number"
_PATTERN = "must be a valid regular expression (at most 1000 characters)"
_DATE = "must be a date (ISO 8601) or a relative date such as -7d, -2w, -1m, -1y"
_VERSION = "must be a version such as 1.2.3"
_SCALARS = "must be a string, number or boolean, or a list of them"


def _version_ok(value: object) -> bool:
    return isinstance(value, str) and parse_semver(value) is not None


def _range_ok(value: object) -> bool:
    return isinstance(value, str) and parse_semver(value.replace("*", "0").rstrip(".")) is not None


def _number_ok(value: object) -> bool:
    return as_number(value) is not None


def _date_ok(value: object) -> bool:
    return date_bound(value, _NOW) is not None


def _scalars_ok(value: object) -> bool:
    return _scalars(value, lambda s: isinstance(s, (str, int, float, bool)))


# operator → (whether a filter value suits it, what to say when it does not)
_VALUE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **{op: (_number_ok, _NUMBER) for op in ("gt", "gte", "lt", "lte")},
    **{op: (_regex_ok, _PATTERN) for op in ("regex", "not_regex")},
    **{op: (_date_ok, _DATE) for op in ("is_date_before", "is_date_after", "is_date_exact")},
    **{
        op: (_version_ok, _VERSION)
        for op in ("semver_eq", "semver_neq", "semver_gt", "semver_gte", "semver_lt", "semver_lte")
    },
    **{op: (_range_ok, _VERSION) for op in ("semver_tilde", "semver_caret", "semver_wildcard")},
    **{op: (_scalars_ok, _SCALARS) for op in ("exact", "is_not")},
}


def _check_payloads(payloads: object, variant_keys: set[str]) -> dict[str, str]:
    """Payloads as PostHog keeps them: JSON text per value ("true" or a variant key)."""
    if payloads is None:
        return {}
    if not isinstance(payloads, dict):
        raise _fail("filters.payloads", 'must be an object: {"true" or a variant key: payload}')
    checked: dict[str, str] = {}
    for key, payload in payloads.items():
        path = f"filters.payloads.{key}"
        if key != "true" and key not in variant_keys:
            raise _fail(path, 'payloads are for "true" or one of the variants')
        if payload is None or payload == "":
            continue
        if isinstance(payload, str):
            try:
                orjson.loads(payload)
            except orjson.JSONDecodeError:
                raise _fail(path, "is not valid JSON") from None
            checked[key] = payload
        else:
            checked[key] = orjson.dumps(payload).decode()
    return checked


def _check_holdout(holdout: object) -> None:
    if holdout is None:
        return
    if (
        not isinstance(holdout, dict)
        or isinstance(holdout.get("id"), bool)
        or not isinstance(holdout.get("id"), int)
    ):
        raise _fail("filters.holdout", 'must be {"id": N, "exclusion_percentage": 0-100}')
    _percentage(holdout.get("exclusion_percentage"), "filters.holdout.exclusion_percentage")


def dependencies(filters: Mapping[str, Any]) -> set[int]:
    found = set()
    for name in ("groups", "super_groups"):
        for group in filters.get(name) or []:
            for prop in group.get("properties") or []:
                if prop.get("type") == "flag" and str(prop.get("key", "")).isdigit():
                    found.add(int(prop["key"]))
    return found


def _check_no_cycle(
    flag_id: int, filters: Mapping[str, Any], project_flags: Mapping[int, FeatureFlag]
) -> None:
    pending = list(dependencies(filters))
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current == flag_id:
            raise _fail("filters", "these flag dependencies lead back to this flag")
        if current in seen or current not in project_flags:
            continue
        seen.add(current)
        pending.extend(dependencies(project_flags[current].filters))
