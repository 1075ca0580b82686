"""Insight SQL as HogQL templates.

A query's shape is written once as HogQL text with no values in it, and
parsed once; its variable parts (conditions, the actor, period expressions)
are sqlglot expressions put in place of the template's upper-case slot
names. Nothing a user sent ever passes through text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import sqlglot
from sqlglot import exp

from magpie.query.hogql.dialect import HogQL


@functools.lru_cache(maxsize=64)
def _parsed(template: str) -> exp.Query:
    tree = sqlglot.parse_one(template, read=HogQL)
    assert isinstance(tree, exp.Query)
    return tree


def fill(template: str, **slots: exp.Expr) -> exp.Query:
    """The template's tree with every bare column named like a slot replaced by it."""
    missing = set(slots)

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name in slots:
            missing.discard(node.name)
            return slots[node.name].copy()
        return node

    tree = _parsed(template).copy().transform(swap, copy=False)
    assert not missing, f"slots not in the template: {sorted(missing)}"
    assert isinstance(tree, exp.Query)
    return tree


def fill_named(template: str, slots: Mapping[str, exp.Expr | None]) -> exp.Query:
    """``fill`` with those of ``slots`` the template names (a kind's templates share
    one set of slots and each uses some). A named slot must be set."""
    named = set(re.findall(r"\b[A-Z][A-Z_]*\b", template))
    found = {k: v for k, v in slots.items() if k in named}
    missing = sorted(k for k, v in found.items() if v is None)
    assert not missing, f"slots the template needs are unset: {missing}"
    return fill(template, **{k: v for k, v in found.items() if v is not None})
