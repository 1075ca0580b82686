"""Evaluating flags: conditions, rollouts, variants, payloads, groups, dependencies, reasons."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from posthog.feature_flags import _hash as posthog_hash
from posthog.feature_flags import get_matching_variant

from magpie.flags.cohorts import NoCohorts
from magpie.flags.evaluation import FlagSet
from magpie.flags.responses import FlagResult
from magpie.flags.subject import Subject
from magpie.store.model import FeatureFlag

NOW = datetime(2026, 6, 15, tzinfo=UTC)
PERSON = uuid.UUID(int=7)


def flag(key: str, filters: dict[str, Any], id_: int = 1, **fields: Any) -> FeatureFlag:
    return FeatureFlag(
        id=id_,
        project_id=1,
        key=key,
        name=key,
        filters=filters,
        active=fields.pop("active", True),
        ensure_experience_continuity=fields.pop("continuity", False),
        version=1,
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


def subject(distinct_id: str = "user-1", **fields: Any) -> Subject:
    fields.setdefault("person_properties", {})
    return Subject(project_id=1, distinct_id=distinct_id, **fields)


def one(flags: list[FeatureFlag], who: Subject, cohorts: Any = None) -> FlagResult:
    results = FlagSet(flags).evaluate(who, cohorts or NoCohorts(), NOW)
    return results[-1] if len(flags) > 1 else results[0]


def everyone(rollout: float | None = None, **extra: Any) -> dict[str, Any]:
    return {"properties": [], "rollout_percentage": rollout, **extra}


def test_a_condition_without_properties_or_rollout_matches() -> None:
    result = one([flag("f", {"groups": [everyone()]})], subject())
    assert (result.enabled, result.reason_code, result.condition_index) == (
        True,
        "condition_match",
        0,
    )
    assert result.reason_description == "Matched condition set 1"


def test_rollout_follows_the_hash_with_its_boundary() -> None:
    # _hash("my-flag", "user-1") = 0.16342791562465697
    assert one([flag("my-flag", {"groups": [everyone(17)]})], subject()).enabled
    out = one([flag("my-flag", {"groups": [everyone(16)]})], subject())
    assert (out.enabled, out.reason_code) == (False, "out_of_rollout_bound")
    assert not one([flag("my-flag", {"groups": [everyone(0)]})], subject()).enabled


@pytest.mark.parametrize("rollout", [0, 10, 33.3, 50, 99, 100])
def test_rollouts_agree_with_posthog_for_many_ids(rollout: float) -> None:
    flags = FlagSet([flag("rollout", {"groups": [everyone(rollout)]})])
    for n in range(500):
        result = flags.evaluate(subject(f"id-{n}"), NoCohorts(), NOW)[0]
        assert result.enabled is (posthog_hash("rollout", f"id-{n}") <= rollout / 100)


VARIANTS = {
    "variants": [
        {"key": "control", "rollout_percentage": 33},
        {"key": "test", "rollout_percentage": 33},
        {"key": "third", "rollout_percentage": 34},
    ]
}


def test_variants_agree_with_posthog_for_many_ids() -> None:
    definition = {"groups": [everyone(100)], "multivariate": VARIANTS}
    flags = FlagSet([flag("mv", definition)])
    seen = set()
    for n in range(500):
        result = flags.evaluate(subject(f"id-{n}"), NoCohorts(), NOW)[0]
        expected = get_matching_variant({"key": "mv", "filters": definition}, f"id-{n}")
        assert result.variant == expected
        seen.add(result.variant)
    assert seen == {"control", "test", "third"}


def test_a_condition_may_force_a_variant_but_only_a_known_one() -> None:
    forced = {"groups": [everyone(100, variant="test")], "multivariate": VARIANTS}
    assert {one([flag("mv", forced)], subject(f"u{n}")).variant for n in range(30)} == {"test"}
    unknown = {"groups": [everyone(100, variant="nope")], "multivariate": VARIANTS}
    assert len({one([flag("mv", unknown)], subject(f"u{n}")).variant for n in range(30)}) > 1


def test_variants_that_do_not_add_up_leave_the_flag_on_without_one() -> None:
    short = {
        "groups": [everyone()],
        "multivariate": {"variants": [{"key": "a", "rollout_percentage": 0}]},
    }
    result = one([flag("f", short)], subject())
    assert (result.enabled, result.variant, result.value) == (True, None, True)


def test_payloads_for_the_value_given() -> None:
    boolean = {"groups": [everyone()], "payloads": {"true": '{"color": "blue"}'}}
    assert one([flag("f", boolean)], subject()).payload == '{"color": "blue"}'
    forced = {
        "groups": [everyone(variant="test")],
        "multivariate": VARIANTS,
        "payloads": {"test": '"t"', "control": '"c"'},
    }
    assert one([flag("f", forced)], subject()).payload == '"t"'
    off = {"groups": [everyone(0)], "payloads": {"true": "1"}}
    assert one([flag("f", off)], subject()).payload is None


def test_person_properties_decide_and_the_first_match_wins() -> None:
    definition = {
        "groups": [
            {"properties": [{"key": "plan", "value": "pro", "type": "person"}], "variant": "a"},
            {
                "properties": [{"key": "email", "operator": "icontains", "value": "@acme"}],
                "variant": "b",
            },
        ],
        "multivariate": {
            "variants": [
                {"key": "a", "rollout_percentage": 50},
                {"key": "b", "rollout_percentage": 50},
            ]
        },
    }
    pro = subject(person_properties={"plan": "pro", "email": "x@acme.com"})
    acme = subject(person_properties={"plan": "free", "email": "x@acme.com"})
    nobody = subject(person_properties={"plan": "free"})
    assert (
        one([flag("f", definition)], pro).variant,
        one([flag("f", definition)], pro).condition_index,
    ) == ("a", 0)
    assert (
        one([flag("f", definition)], acme).variant,
        one([flag("f", definition)], acme).condition_index,
    ) == ("b", 1)
    missed = one([flag("f", definition)], nobody)
    assert (missed.enabled, missed.reason_code, missed.condition_index) == (
        False,
        "no_condition_match",
        0,
    )


def test_the_most_telling_reason_is_reported() -> None:
    definition = {
        "groups": [
            {"properties": [{"key": "plan", "value": "pro"}]},
            {"properties": [{"key": "plan", "value": "free"}], "rollout_percentage": 0},
        ]
    }
    result = one([flag("f", definition)], subject(person_properties={"plan": "free"}))
    assert (result.reason_code, result.condition_index) == ("out_of_rollout_bound", 1)


def test_early_exit_stops_at_a_rollout_miss() -> None:
    groups = [everyone(0), everyone(100)]
    assert one([flag("f", {"groups": groups})], subject()).enabled
    stopped = one([flag("f", {"groups": groups, "early_exit": True})], subject())
    assert (stopped.enabled, stopped.reason_code) == (False, "out_of_rollout_bound")


COMPANY = {0: "company", 1: "project"}


def test_group_flags_bucket_by_the_group_key() -> None:
    definition = {
        "aggregation_group_type_index": 0,
        "groups": [
            {
                "properties": [
                    {
                        "key": "size",
                        "operator": "gt",
                        "value": 10,
                        "type": "group",
                        "group_type_index": 0,
                    }
                ],
                "rollout_percentage": 50,
            }
        ],
    }
    flags = FlagSet([flag("g", definition)])
    for n in range(200):
        who = subject(
            f"person-{n}",
            groups={"company": f"co-{n}"},
            group_properties={"company": {"size": 20}},
            group_types=COMPANY,
        )
        assert flags.evaluate(who, NoCohorts(), NOW)[0].enabled is (
            posthog_hash("g", f"co-{n}") <= 0.5
        )


def test_a_group_flag_without_its_group_says_so() -> None:
    definition = {"aggregation_group_type_index": 0, "groups": [everyone()]}
    for who in (subject(group_types=COMPANY), subject(groups={"company": "a"})):
        result = one([flag("g", definition)], who)
        assert (result.enabled, result.reason_code) == (False, "no_group_type")


def test_a_condition_may_aggregate_by_a_group_of_its_own() -> None:
    definition = {
        "groups": [
            {
                "properties": [{"key": "tier", "value": "gold", "type": "group"}],
                "aggregation_group_type_index": 0,
            },
            {"properties": [{"key": "plan", "value": "pro"}]},
        ]
    }
    gold = subject(
        groups={"company": "acme"},
        group_properties={"company": {"tier": "gold"}},
        group_types=COMPANY,
    )
    assert one([flag("m", definition)], gold).condition_index == 0
    pro_alone = subject(person_properties={"plan": "pro"}, group_types=COMPANY)
    assert one([flag("m", definition)], pro_alone).condition_index == 1
    neither = one([flag("m", definition)], subject(group_types=COMPANY))
    assert neither.reason_code == "no_group_type"


def dependency(on: int, value: Any) -> dict[str, Any]:
    return {
        "properties": [
            {"key": str(on), "type": "flag", "operator": "flag_evaluates_to", "value": value}
        ]
    }


def test_flag_dependencies() -> None:
    base = flag("base", {"groups": [everyone(variant="test")], "multivariate": VARIANTS}, id_=1)
    assert one([base, flag("on", {"groups": [dependency(1, True)]}, id_=2)], subject()).enabled
    assert one([base, flag("v", {"groups": [dependency(1, "test")]}, id_=2)], subject()).enabled
    assert not one(
        [base, flag("v", {"groups": [dependency(1, "control")]}, id_=2)], subject()
    ).enabled
    assert not one(
        [base, flag("off", {"groups": [dependency(1, False)]}, id_=2)], subject()
    ).enabled
    inactive = replace(base, active=False)
    assert one(
        [inactive, flag("off", {"groups": [dependency(1, False)]}, id_=2)], subject()
    ).enabled


def test_a_missing_dependency_or_a_cycle_turns_the_flag_off() -> None:
    missing = one([flag("d", {"groups": [dependency(99, True)]}, id_=2)], subject())
    assert (missing.enabled, missing.reason_code) == (False, "missing_dependency")
    a = flag("a", {"groups": [dependency(2, True)]}, id_=1)
    b = flag("b", {"groups": [dependency(1, True)]}, id_=2)
    results = FlagSet([a, b]).evaluate(subject(), NoCohorts(), NOW)
    assert [(r.enabled, r.reason_code) for r in results] == [
        (False, "dependency_cycle"),
        (False, "dependency_cycle"),
    ]


def test_holdout_comes_first() -> None:
    held = one(
        [flag("h", {"groups": [everyone()], "holdout": {"id": 42, "exclusion_percentage": 100}})],
        subject(),
    )
    assert (held.value, held.reason_code) == ("holdout-42", "holdout_condition_value")
    for n in range(200):
        result = one(
            [flag("h", {"groups": [everyone()], "holdout": {"id": 3, "exclusion_percentage": 30}})],
            subject(f"u{n}"),
        )
        held_out = posthog_hash("holdout", f"u{n}", separator="-") <= 0.3
        assert (result.variant == "holdout-3") is held_out


def test_early_access_super_groups() -> None:
    enrolled = {"$feature_enrollment/beta": True}
    definition = {
        "groups": [everyone(0)],
        "super_groups": [
            {
                "properties": [
                    {"key": "$feature_enrollment/beta", "value": ["true"], "operator": "exact"}
                ],
                "rollout_percentage": 100,
            }
        ],
    }
    result = one([flag("beta", definition)], subject(person_properties=enrolled))
    assert (result.enabled, result.reason_code) == (True, "super_condition_value")
    assert one([flag("beta", definition)], subject()).reason_code == "out_of_rollout_bound"
    newer = one(
        [flag("beta", {"groups": [], "feature_enrollment": True})],
        subject(person_properties=enrolled),
    )
    assert newer.reason_code == "super_condition_value"


def test_experience_continuity_buckets_by_the_hash_key() -> None:
    definition = {"groups": [everyone(50)], "multivariate": VARIANTS}
    continuous = flag("exp", definition, continuity=True)
    for n in range(100):
        anonymous = one([continuous], subject(f"anon-{n}"))
        stored = one([continuous], subject(f"user-{n}", hash_keys={"exp": f"anon-{n}"}))
        sent = one([continuous], subject(f"user-{n}", anon_distinct_id=f"anon-{n}"))
        assert anonymous.value == stored.value == sent.value


def test_device_bucketing() -> None:
    definition = {"groups": [everyone(50)], "bucketing_identifier": "device_id"}
    for n in range(100):
        a = one([flag("d", definition)], subject(f"a{n}", device_id=f"dev-{n}"))
        b = one([flag("d", definition)], subject(f"b{n}", device_id=f"dev-{n}"))
        assert a.value == b.value


class Cohorts:
    """Two cohorts: 1 by person property, 2 by stored membership (PERSON only)."""

    def exists(self, project_id: int, cohort_id: int) -> bool:
        return cohort_id in (1, 2)

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool:
        return cohort_id == 2 and person_id == PERSON

    def property_filters(self, project_id: int, cohort_id: int) -> dict[str, Any] | None:
        if cohort_id != 1:
            return None
        return {
            "type": "OR",
            "values": [
                {"type": "AND", "values": [{"key": "plan", "value": "pro", "type": "person"}]}
            ],
        }


def cohort(cohort_id: int, operator: str = "in") -> dict[str, Any]:
    return {
        "properties": [{"key": "id", "type": "cohort", "value": cohort_id, "operator": operator}]
    }


@pytest.mark.parametrize(
    ("condition", "who", "expected"),
    [
        (cohort(1), subject(person_properties={"plan": "pro"}), True),
        (cohort(1), subject(person_properties={"plan": "free"}), False),
        (cohort(1, "not_in"), subject(person_properties={"plan": "free"}), True),
        (cohort(2), subject(person_id=PERSON), True),
        (cohort(2), subject(person_id=uuid.UUID(int=8)), False),
        (cohort(2), subject(), False),  # no person: in no cohort
        (cohort(3), subject(person_id=PERSON), False),  # no such cohort
        (cohort(3, "not_in"), subject(person_id=PERSON), False),
    ],
)
def test_cohort_conditions(condition: dict[str, Any], who: Subject, expected: bool) -> None:
    assert one([flag("c", {"groups": [condition]})], who, Cohorts()).enabled is expected


def test_without_a_cohort_store_every_cohort_is_unknown() -> None:
    assert not one([flag("c", {"groups": [cohort(1)]})], subject(person_id=PERSON)).enabled


def test_only_the_keys_asked_for_and_never_inactive_flags() -> None:
    flags = [
        flag("a", {"groups": [everyone()]}, id_=1),
        flag("b", {"groups": [everyone()]}, id_=2),
        flag("c", {"groups": [everyone()]}, id_=3, active=False),
    ]
    assert [r.key for r in FlagSet(flags).evaluate(subject(), NoCohorts(), NOW)] == ["a", "b"]
    assert [r.key for r in FlagSet(flags).evaluate(subject(), NoCohorts(), NOW, ["b"])] == ["b"]


@pytest.mark.parametrize(
    ("filters", "persons", "groups"),
    [
        ({"groups": [everyone(50)]}, False, False),
        ({"groups": [{"properties": [{"key": "plan", "value": "pro"}]}]}, True, False),
        ({"groups": [cohort(1)]}, True, False),
        ({"aggregation_group_type_index": 0, "groups": [everyone(50)]}, False, True),
        ({"groups": [everyone(50, aggregation_group_type_index=1)]}, False, True),
        ({"groups": [], "feature_enrollment": True}, True, False),
    ],
)
def test_what_evaluation_reads_from_the_stores(
    filters: dict[str, Any], persons: bool, groups: bool
) -> None:
    flags = FlagSet([flag("f", filters)])
    assert (flags.reads_persons, flags.reads_groups) == (persons, groups)
