"""Trends formulas: arithmetic over series letters, and every way to misuse it."""

from __future__ import annotations

import pytest

from magpie.query.errors import InvalidFormula
from magpie.query.formula import MAX_DEPTH, MAX_LENGTH, evaluate_formula, parse_formula


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("A/B", 2.0),
        ("(A-B)*100/A", 50.0),
        ("a + b", 6.0),
        ("-A + +B", -2.0),
        ("A % 3", 1.0),
        ("A ** 2", 16.0),
        ("2 ** -1", 0.5),
        ("A/0", 0.0),
        ("A % 0", 0.0),
        ("0 ** -1", 0.0),
        ("1e3 * A", 4000.0),
    ],
)
def test_arithmetic(formula: str, expected: float) -> None:
    assert evaluate_formula(formula, {"A": 4.0, "B": 2.0}) == expected


@pytest.mark.parametrize(
    "formula",
    [
        "10**400",  # OverflowError from float pow
        "A**B",  # with large series values
        "2**10000",
        "1" + "0" * 400,  # an integer literal no float can hold
        "1e999",  # infinity as a literal
        "1e308 * 10",  # infinity from a product
        "(-8) ** 0.5",  # a complex number
        "(A-B-100) ** 0.5",
        "(" * 300 + "A" + ")" * 300,  # nesting the parser refuses
        "-" * 900 + "A",  # nesting the evaluator refuses
        "+".join(["A"] * 600),  # longer than MAX_LENGTH
        "A\x00",
        "A if B else 1",
        "abs(A)",
        "A < B",
        "'A'",
        "True",
        "1j",
        "C",
        "A B",
        "",
    ],
)
def test_refused_with_invalid_formula(formula: str) -> None:
    with pytest.raises(InvalidFormula) as raised:
        evaluate_formula(formula, {"A": 1000.0, "B": 1000.0})
    assert raised.value.code == "invalid_formula" and raised.value.status == 400
    assert raised.value.attr == "trendsFilter"


def test_checked_once_evaluated_many_times() -> None:
    formula = parse_formula("A*B", ["A", "B"])
    assert [formula.evaluate({"A": n, "B": 2.0}) for n in (1.0, 2.0, 3.0)] == [2.0, 4.0, 6.0]


def test_limits() -> None:
    assert evaluate_formula("A" + " " * (MAX_LENGTH - 1), {"A": 1.0}) == 1.0
    assert evaluate_formula("+".join(["A"] * MAX_DEPTH), {"A": 1.0}) == MAX_DEPTH
    with pytest.raises(InvalidFormula, match="nests"):
        evaluate_formula("+".join(["A"] * (MAX_DEPTH + 2)), {"A": 1.0})
