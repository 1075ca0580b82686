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


# -- the typed column ------------------------------------------------------------------
#
# Event properties are also kept in ClickHouse's JSON type (``properties_json``),
# which stores each path as a subcolumn of its own (Dynamic: the value's type is
# kept per row). The JSON type reads a dot in a key as a path separator, so the
# writer escapes keys (``store/clickhouse/typed.py``: % as %25, then . as %2E)
# and ``{"a.b": 1}`` and ``{"a": {"b": 1}}`` stay two paths. A path is read as a
# subcolumn (``properties_json."a%2Eb"``): ClickHouse then reads that subcolumn
# alone, where ``getSubcolumn()`` reads the whole column. An object at a path has
# no subcolumn of its own; it is the sub-object ``properties_json.^"a"``.

_NULL_TEXT = exp.cast(exp.Null(), exp.DataType.build("Nullable(String)", dialect="clickhouse"))


def escaped_key(key: str) -> str:
    """A key as the writer stores it in the JSON type: no dot, so never a path."""
    return key.replace("%", "%25").replace(".", "%2E")


def json_path(keys: list[str]) -> str:
    """The JSON type's path of ``keys``."""
    return ".".join(escaped_key(key) for key in keys)


def subcolumn(column: exp.Column, keys: list[str]) -> exp.Expr:
    """``table.column."path"``: the value at ``keys`` (Dynamic; NULL when missing)."""
    return exp.Column(
        this=exp.to_identifier(json_path(keys), quoted=True),
        table=exp.to_identifier(column.name, quoted=True),
        db=exp.to_identifier(column.table, quoted=True) if column.table else None,
    )


def sub_object(column: exp.Column, keys: list[str]) -> exp.Expr:
    """``table.column.^"path"``: the object at ``keys`` (an empty JSON when none)."""
    return exp.NestedJSONSelect(
        this=column.copy(),
        expression=exp.Column(this=exp.to_identifier(json_path(keys), quoted=True)),
    )


def _kind(value: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this="dynamicType", expressions=[value.copy()])


def _is(value: exp.Expr, kind: str) -> exp.Expr:
    return exp.EQ(this=_kind(value), expression=exp.Literal.string(kind))


def _element(value: exp.Expr, kind: str) -> exp.Expr:
    return exp.Anonymous(
        this="dynamicElement", expressions=[value.copy(), exp.Literal.string(kind)]
    )


def _to_string(value: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this="toString", expressions=[value.copy()])


def _double_text(value: exp.Expr) -> exp.Expr:
    """A Float64 as DuckDB's JSON text writes it: a whole number keeps ``.0``."""
    text = _to_string(value)
    whole = exp.Anonymous(
        this="match", expressions=[text.copy(), exp.Literal.string(_WHOLE_NUMBER)]
    )
    with_point = exp.Anonymous(this="concat", expressions=[text.copy(), exp.Literal.string(".0")])
    return exp.If(this=whole, true=with_point, false=text)


def typed_text(value: exp.Expr, obj: exp.Expr) -> exp.Expr:
    """The value at a path (``value``: its subcolumn, ``obj``: its sub-object) as the
    text ``json_text`` gives for the same JSON: NULL when missing or null, a string's
    text, numbers and booleans as their JSON text, objects and arrays as JSON."""
    has_object = exp.Not(
        this=exp.Anonymous(
            this="empty", expressions=[exp.Anonymous(this="JSONAllPaths", expressions=[obj.copy()])]
        )
    )
    json_of = exp.Anonymous(this="toJSONString", expressions=[obj.copy()])
    boolean = exp.If(
        this=_element(value, "Bool"),
        true=exp.Literal.string("true"),
        false=exp.Literal.string("false"),
    )
    is_array = exp.Anonymous(
        this="startsWith", expressions=[_kind(value), exp.Literal.string("Array")]
    )
    return exp.Anonymous(
        this="multiIf",
        expressions=[
            _is(value, "String"),
            _element(value, "String"),
            _is(value, "None"),
            exp.If(this=has_object, true=json_of, false=_NULL_TEXT.copy()),
            _is(value, "Bool"),
            boolean,
            _is(value, "Float64"),
            _double_text(_element(value, "Float64")),
            is_array,
            exp.Anonymous(this="toJSONString", expressions=[value.copy()]),
            _to_string(value),
        ],
    )


def typed_number(value: exp.Expr) -> exp.Expr:
    """The value at a path as a Float64: numbers as they are, strings that convert,
    NULL otherwise (a boolean is no number, as its text ``true`` never was)."""
    as_float = exp.Anonymous(
        this="accurateCastOrNull", expressions=[value.copy(), exp.Literal.string("Float64")]
    )
    numeric = exp.In(
        this=_kind(value),
        expressions=[exp.Literal.string(k) for k in ("Int64", "UInt64", "Float64")],
    )
    text = exp.Anonymous(
        this="accurateCastOrNull",
        expressions=[_element(value, "String"), exp.Literal.string("Float64")],
    )
    return exp.Anonymous(
        this="multiIf",
        expressions=[
            numeric,
            as_float,
            _is(value, "String"),
            text,
            exp.cast(exp.Null(), exp.DataType.build("Nullable(Float64)", dialect="clickhouse")),
        ],
    )
