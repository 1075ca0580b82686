"""Trends formulas: a small arithmetic language over series letters (``A/B*100``).

A formula is parsed and checked once, then evaluated for every bucket. Python's
own parser does the parsing, but only numbers, letters, parentheses, unary
signs and ``+ - * / % **`` are accepted, and its size is bounded before any
arithmetic runs, so a formula cannot exhaust memory, the stack or the CPU.
Every failure is an :class:`InvalidFormula` (400 ``invalid_formula``).
"""

from __future__ import annotations

import ast
import math
import operator as op
from collections.abc import Callable, Collection
from dataclasses import dataclass

from magpie.query.errors import InvalidFormula

MAX_LENGTH = 1_000
MAX_DEPTH = 100
ATTR = "trendsFilter"

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: op.add,
    ast.Sub: op.sub,
    ast.Mult: op.mul,
    ast.Div: op.truediv,
    ast.Mod: op.mod,
    # math.pow gives a float or raises; ** on floats may give a complex number.
    ast.Pow: math.pow,
}
_OPERATORS = "series letters, numbers, parentheses and + - * / % **"


@dataclass(frozen=True)
class Formula:
    text: str
    tree: ast.expr

    def evaluate(self, variables: dict[str, float]) -> float:
        """The formula's value; x/0, x%0 and 0**-n are 0, as PostHog has it."""
        try:
            value = _walk(self.tree, variables)
        except OverflowError:
            raise InvalidFormula(
                f"the formula {_shown(self.text)} gives a number too large to show", attr=ATTR
            ) from None
        except ValueError:
            raise InvalidFormula(
                f"the formula {_shown(self.text)} has no real value for these numbers "
                "(a negative number to a fractional power?)",
                attr=ATTR,
            ) from None
        if not math.isfinite(value):
            raise InvalidFormula(
                f"the formula {_shown(self.text)} gives a number too large to show", attr=ATTR
            )
        return value


def parse_formula(text: str, letters: Collection[str]) -> Formula:
    """Check ``text`` once: its length, syntax, depth, operators and letters."""
    if len(text) > MAX_LENGTH:
        raise InvalidFormula(f"a formula has at most {MAX_LENGTH} characters", attr=ATTR)
    try:
        tree = ast.parse(text.upper(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # ValueError: a NUL byte; RecursionError/MemoryError: nesting the parser refuses.
        raise InvalidFormula(f"cannot parse the formula {_shown(text)}", attr=ATTR) from None
    _check(tree, text, set(letters))
    return Formula(text, tree)


def _check(tree: ast.expr, text: str, letters: set[str]) -> None:
    """Iterative, so a deep tree is refused instead of overflowing the stack."""
    pending: list[tuple[ast.AST, int]] = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise InvalidFormula(f"a formula nests at most {MAX_DEPTH} levels deep", attr=ATTR)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise _unsupported(text)
            _number(node.value, text)
        elif isinstance(node, ast.Name):
            if node.id not in letters:
                raise InvalidFormula(
                    f"the formula uses {node.id}, which is not a series", attr=ATTR
                )
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            pending.append((node.operand, depth + 1))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            pending.extend(((node.left, depth + 1), (node.right, depth + 1)))
        else:
            raise _unsupported(text)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:80] + "…")


def _unsupported(text: str) -> InvalidFormula:
    return InvalidFormula(f"the formula {_shown(text)} may use only {_OPERATORS}", attr=ATTR)


def _number(value: int | float, text: str) -> float:
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidFormula(f"the formula {_shown(text)} has a number too large", attr=ATTR)
    return number


def _walk(node: ast.expr, variables: dict[str, float]) -> float:
    # Depth is bounded by _check, so recursion is safe here.
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)
        return float(node.value)
    if isinstance(node, ast.Name):
        return variables[node.id]
    if isinstance(node, ast.UnaryOp):
        value = _walk(node.operand, variables)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.BinOp)
    left, right = _walk(node.left, variables), _walk(node.right, variables)
    if isinstance(node.op, ast.Div | ast.Mod) and right == 0:
        return 0.0
    if isinstance(node.op, ast.Pow) and left == 0 and right < 0:
        return 0.0
    result = _BINARY[type(node.op)](left, right)
    if not math.isfinite(result):
        raise OverflowError
    return result


def evaluate_formula(text: str, variables: dict[str, float]) -> float:
    """Parse and evaluate in one go (for one set of values)."""
    return parse_formula(text, variables).evaluate(variables)
