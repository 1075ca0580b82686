"""FlagSet.reaches: whom a flag's condition sets reach by their properties alone
(the blast radius), whatever the rollouts."""

from __future__ import annotations

from magpie.flags.cohorts import NoCohorts
from magpie.flags.evaluation import FlagSet
from tests.unit.test_flag_evaluation import NOW, flag, subject

PRO = {"key": "plan", "value": "pro", "type": "person"}


def _reaches(filters: dict, **fields: object) -> bool:
    probe = flag("probe", filters, id_=9)
    other = flag("other", {"groups": [{"properties": [PRO], "rollout_percentage": 100}]}, id_=2)
    return FlagSet([probe, other]).reaches(probe, subject(**fields), NoCohorts(), NOW)


def test_properties_decide_and_rollouts_do_not() -> None:
    none = {"groups": [{"properties": [PRO], "rollout_percentage": 0}]}
    assert _reaches(none, person_properties={"plan": "PRO"})
    assert not _reaches(none, person_properties={"plan": "free"})
    either = {"groups": [{"properties": [PRO]}, {"properties": [], "rollout_percentage": 1}]}
    assert _reaches(either, person_properties={"plan": "free"})
    assert not _reaches({"groups": []}, person_properties={"plan": "pro"})


def test_dependencies_and_groups() -> None:
    depends = {"key": "2", "type": "flag", "value": True, "operator": "flag_evaluates_to"}
    assert _reaches({"groups": [{"properties": [depends]}]}, person_properties={"plan": "pro"})
    assert not _reaches({"groups": [{"properties": [depends]}]}, person_properties={})
    missing = {**depends, "key": "404"}
    assert not _reaches({"groups": [{"properties": [missing]}]}, person_properties={})
    # A group condition without the group in the subject reaches no one.
    by_company = {"aggregation_group_type_index": 0, "groups": [{"properties": []}]}
    assert not _reaches(by_company)
    assert _reaches(by_company, groups={"company": "acme"}, group_types={0: "company"})
