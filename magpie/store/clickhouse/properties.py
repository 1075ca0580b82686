"""Reading a property out of a JSON text column, with DuckDB's semantics.

``json_extract_string`` (DuckDB) gives NULL for a missing key or a JSON null,
a string's decoded text, and any other value as its JSON text, a double
always with a decimal point (``30.0``). ClickHouse's ``JSONExtractString``
gives '' for a missing key, so the same answer is put together from the
value's JSON type: both the query layer and the materialised columns of the
events table use this one expression, so a column and a lookup never differ.
"""

from __future__ import annotations

from sqlglot import exp

# A double whose JSON text ClickHouse writes without a decimal point (30.0 → "30").
_WHOLE_NUMBER = "^-?[0-9]+$"


def _call(name: str, column: exp.Expr, keys: list[str], *extra: exp.Expr) -> exp.Expr:
    return exp.Anonymous(
        this=name,
        expressions=[column.copy(), *(exp.Literal.string(k) for k in keys), *extra],
    )


def json_text(column: exp.Expr, keys: list[str]) -> exp.Expr:
    """``column``'s value at the path ``keys``, as text or NULL."""
    kind = _call("JSONType", column, keys)
    raw = _call("JSONExtractRaw", column, keys)
    whole_double = exp.and_(
        exp.EQ(this=kind.copy(), expression=exp.Literal.string("Double")),
        exp.Anonymous(this="match", expressions=[raw.copy(), exp.Literal.string(_WHOLE_NUMBER)]),
    )
    return exp.Anonymous(
        this="multiIf",
        expressions=[
            exp.EQ(this=kind, expression=exp.Literal.string("String")),
            _call("JSONExtractString", column, keys),
            exp.EQ(this=kind.copy(), expression=exp.Literal.string("Null")),
            exp.cast(exp.Null(), exp.DataType.build("Nullable(String)", dialect="clickhouse")),
            whole_double,
            exp.Anonymous(this="concat", expressions=[raw.copy(), exp.Literal.string(".0")]),
            raw,
        ],
    )
