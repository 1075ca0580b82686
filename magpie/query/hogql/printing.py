"""Constructs the compiler generates itself, per target dialect.

Everything else is printed by sqlglot's dialects; these are the few shapes
(reading a JSON property) where engines disagree on functions, kept in one
table so that a second engine is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from magpie.store.columns import json_pointer


def _duckdb_property(column: exp.Expr, keys: list[str]) -> exp.Expr:
    return exp.Anonymous(
        this="json_extract_string", expressions=[column, exp.Literal.string(json_pointer(keys))]
    )


def _clickhouse_property(column: exp.Expr, keys: list[str]) -> exp.Expr:
    return exp.Anonymous(
        this="JSONExtractString", expressions=[column, *(exp.Literal.string(k) for k in keys)]
    )


PROPERTY_ACCESS: dict[str, Callable[[exp.Expr, list[str]], exp.Expr]] = {
    "duckdb": _duckdb_property,
    "clickhouse": _clickhouse_property,
}


def property_access(column: exp.Expr, keys: list[str], dialect: str = "duckdb") -> exp.Expr:
    return PROPERTY_ACCESS[dialect](column, keys)
