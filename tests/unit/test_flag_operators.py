"""Property operators of flag conditions, table-driven: (filter, properties, matches)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from magpie.flags.operators import OPERATORS, UnknownOperator, match_property

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def f(operator: str, value: Any = None, key: str = "p") -> dict[str, Any]:
    return {"key": key, "operator": operator, "value": value, "type": "person"}


CASES: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    # exact / is_not: case-insensitive text, lists are "any of", booleans alike
    (f("exact", "Chrome"), {"p": "chrome"}, True),
    (f("exact", ["firefox", "chrome"]), {"p": "CHROME"}, True),
    (f("exact", ["firefox"]), {"p": "chrome"}, False),
    (f("exact", 5), {"p": "5"}, True),
    (f("exact", "5"), {"p": 5}, True),
    (f("exact", ["true"]), {"p": True}, True),
    (f("exact", True), {"p": "True"}, True),
    (f("exact", False), {"p": "yes"}, True),  # booleans compare as booleans; "yes" is not true
    (f("exact", "x"), {}, False),
    (f(None, "x"), {"p": "X"}, True),  # no operator means exact
    (f("is_not", "x"), {"p": "y"}, True),
    (f("is_not", "x"), {"p": "X"}, False),
    (f("is_not", "x"), {}, True),
    # set / not set
    (f("is_set"), {"p": None}, True),
    (f("is_set"), {}, False),
    (f("is_not_set"), {}, True),
    (f("is_not_set"), {"p": 1}, False),
    # text
    (f("icontains", "ACME"), {"p": "team@acme.com"}, True),
    (f("icontains", "acme"), {"p": "team@other.com"}, False),
    (f("icontains", "x"), {}, False),
    (f("not_icontains", "acme"), {"p": "x@ACME.com"}, False),
    (f("not_icontains", "acme"), {}, True),
    (f("starts_with", "Te"), {"p": "team"}, True),
    (f("not_starts_with", "te"), {"p": "steam"}, True),
    (f("ends_with", ".COM"), {"p": "a.com"}, True),
    (f("not_ends_with", ".com"), {"p": "a.org"}, True),
    # regex: Python search, invalid patterns match nothing
    (f("regex", r"^user-\d+$"), {"p": "user-12"}, True),
    (f("regex", r"^user-\d+$"), {"p": "admin"}, False),
    (f("regex", "(unclosed"), {"p": "(unclosed"}, False),
    (f("not_regex", "(unclosed"), {"p": "x"}, False),
    (f("not_regex", "^a"), {"p": "ba"}, True),
    (f("not_regex", "^a"), {}, True),
    # numbers compare only as numbers
    (f("gt", 10), {"p": 11}, True),
    (f("gt", "10"), {"p": "11.5"}, True),
    (f("gt", 10), {"p": 10}, False),
    (f("gte", 10), {"p": 10}, True),
    (f("lt", 10), {"p": 9}, True),
    (f("lte", 10), {"p": 10.0}, True),
    (f("gt", 10), {"p": "eleven"}, False),
    (f("gt", 10), {"p": True}, False),
    (f("lt", 10), {}, False),
    # dates: absolute or relative to now
    (f("is_date_before", "2026-01-01"), {"p": "2025-12-31T23:00:00Z"}, True),
    (f("is_date_before", "2026-01-01"), {"p": "2026-02-01"}, False),
    (f("is_date_after", "-7d"), {"p": "2026-06-14T00:00:00Z"}, True),
    (f("is_date_after", "-7d"), {"p": "2026-06-01T00:00:00Z"}, False),
    (f("is_date_after", "-1m"), {"p": "2026-05-20"}, True),
    (f("is_date_before", "-1y"), {"p": "2025-06-01"}, True),
    (f("is_date_after", "-2h"), {"p": "2026-06-15T11:00:00+00:00"}, True),
    (f("is_date_before", "2026-01-01"), {"p": "not a date"}, False),
    (f("is_date_exact", "2026-06-15"), {"p": "2026-06-15T08:00:00Z"}, True),
    # semantic versions
    (f("semver_gt", "1.2.3"), {"p": "1.10.0"}, True),
    (f("semver_eq", "1.2"), {"p": "v1.2.0"}, True),
    (f("semver_neq", "1.2.0"), {"p": "1.2.1"}, True),
    (f("semver_gte", "1.2.3"), {"p": "1.2.3-beta"}, True),
    (f("semver_lt", "2.0.0"), {"p": "1.99.99"}, True),
    (f("semver_lte", "2.0.0"), {"p": "2.0.1"}, False),
    (f("semver_tilde", "1.2.3"), {"p": "1.2.9"}, True),
    (f("semver_tilde", "1.2.3"), {"p": "1.3.0"}, False),
    (f("semver_caret", "1.2.3"), {"p": "1.9.0"}, True),
    (f("semver_caret", "0.2.3"), {"p": "0.3.0"}, False),
    (f("semver_wildcard", "1.2.*"), {"p": "1.2.7"}, True),
    (f("semver_wildcard", "1.*"), {"p": "2.0.0"}, False),
    (f("semver_gt", "1.0.0"), {"p": "01.2.0"}, False),
]


@pytest.mark.parametrize(("condition", "properties", "expected"), CASES)
def test_operator(condition: dict[str, Any], properties: dict[str, Any], expected: bool) -> None:
    assert match_property(condition, properties, NOW) is expected


def test_every_operator_has_a_case() -> None:
    covered = {(c.get("operator") or "exact") for c, _, _ in CASES}
    assert covered == set(OPERATORS)


def test_an_unknown_operator_is_refused() -> None:
    with pytest.raises(UnknownOperator):
        match_property(f("almost"), {"p": 1}, NOW)
