"""Reading a property out of a VARIANT column, with the semantics JSON text had.

Properties used to be JSON text read with ``json_extract_string``: NULL for a
missing key or a JSON null, a string's text, any other value as its JSON text
(``30``, ``30.0``, ``true``, a double in JSON's spelling such as
``100000000000000000000.0``, an object or array as compact JSON). The same
answers come from a VARIANT like this:

- ``variant_extract`` key by key: DuckDB pushes it down into the scan, so a
  property shredded into a column of its own is read from that column alone.
  (``variant_extract_string`` gives the right text but is not pushed down: it
  decodes every row's whole object.)
- the value cast to VARCHAR: the right text for strings, integers and
  booleans, and for most doubles;
- only where that text could differ (it begins with ``{`` or ``[``, or has an
  exponent ``e+``/``e-``) and the value is not a string: its JSON text. The
  guard is a few byte compares per row, where asking every row for its type
  would cost ten times the read.

As a number (``toFloat``, math properties, ``gt``/``lt``), the value is cast
straight to DOUBLE, which reads the typed column with no text in between;
booleans are the exception (JSON text ``true`` was never a number, the
VARIANT cast would make it 1).

Both the query dialect and the insert path (materialised columns) use these,
so a column and a lookup never differ.
"""

from __future__ import annotations

from sqlglot import exp

_BOOLEANS = ("BOOL_TRUE", "BOOL_FALSE")


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _string(value: str) -> exp.Expr:
    return exp.Literal.string(value)


def value_at(column: exp.Expr, keys: list[str]) -> exp.Expr:
    """The VARIANT at ``keys`` (NULL when missing), in the form DuckDB pushes down."""
    value = column.copy()
    for key in keys:
        value = _call("variant_extract", value, _string(key))
    return value


def _cast(value: exp.Expr, to: str) -> exp.Expr:
    return exp.Cast(this=value, to=exp.DataType.build(to))


def variant_text(value: exp.Expr) -> exp.Expr:
    """A VARIANT value as the text ``json_extract_string`` gave for it."""
    text = _cast(value.copy(), "VARCHAR")
    may_differ = exp.or_(
        exp.StartsWith(this=text.copy(), expression=_string("{")),
        exp.StartsWith(this=text.copy(), expression=_string("[")),
        _call("contains", text.copy(), _string("e+")),
        _call("contains", text.copy(), _string("e-")),
    )
    not_string = exp.NEQ(this=_call("variant_type", value.copy()), expression=_string("VARCHAR"))
    as_json = _cast(_cast(value.copy(), "JSON"), "VARCHAR")
    return exp.Case(
        ifs=[exp.If(this=exp.and_(exp.paren(may_differ), not_string), true=as_json)],
        default=text,
    )


def variant_number(value: exp.Expr) -> exp.Expr:
    """A VARIANT value as a DOUBLE, NULL where its text would not convert."""
    number = exp.TryCast(this=value.copy(), to=exp.DataType.build("DOUBLE"))
    maybe_boolean = exp.and_(
        exp.In(this=number.copy(), expressions=[exp.Literal.number(0), exp.Literal.number(1)]),
        exp.In(
            this=_call("variant_type", value.copy()),
            expressions=[_string(t) for t in _BOOLEANS],
        ),
    )
    return exp.Case(ifs=[exp.If(this=maybe_boolean, true=exp.Null())], default=number)


def property_text(column: exp.Expr, keys: list[str]) -> exp.Expr:
    return variant_text(value_at(column, keys))


def property_number(column: exp.Expr, keys: list[str]) -> exp.Expr:
    return variant_number(value_at(column, keys))


def whole_json(column: exp.Expr) -> exp.Expr:
    """The whole object as JSON text (keys in DuckDB's sorted order)."""
    return _cast(column, "JSON")
