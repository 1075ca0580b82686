"""What a dialect supplies: one engine's physical side of the logical catalog.

The compiler builds sqlglot trees over the logical tables
(``magpie/query/catalog.py``) and asks the dialect for everything that depends
on how an engine stores and spells things: the project-scoped subquery that
replaces each logical table, how a JSON property is read (and which ones have
a column of their own), how a bound value is written, the functions the
engines disagree on, and the time arithmetic the time-zone code needs. The
dialect then names the sqlglot dialect that prints the tree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Protocol

from sqlglot import exp

from magpie.query.catalog import Json, LogicalTable
from magpie.store.columns import json_pointer

# A node type → its engine-specific form (None: keep the node as it is).
Transform = Callable[[exp.Expr], exp.Expr | None]
# Used columns of a logical table (its subquery's column names) → that subquery.
TableBuilder = Callable[[frozenset[str], int], exp.Select]


class Dialect(Protocol):
    name: str  # the engine's name ("duckdb", "clickhouse")
    sqlglot: str  # the sqlglot dialect that prints for it

    def table(self, table: LogicalTable, used: frozenset[str], project_id: int) -> exp.Select:
        """The subquery that replaces ``table``, filtered on the project; ``used``
        names the subquery columns the query reads (joins are added for those only)."""
        ...

    def property(self, table: LogicalTable, alias: str, field: Json, keys: list[str]) -> exp.Expr:
        """``alias.field.keys…`` as text: NULL when missing or JSON null, numbers and
        booleans as their JSON text, objects and arrays as JSON. Every column of
        ``alias`` the expression reads is passed to ``table`` in ``used``, so a
        dialect may read a property from a column its subquery extracts."""
        ...

    def placeholder(self, name: str, value: Any) -> exp.Expr:
        """Where a bound value goes in the printed SQL (never the value itself)."""
        ...

    def finish(self, tree: exp.Expr) -> exp.Expr:
        """The engine's forms of the portable functions it spells differently."""
        ...

    def add_seconds(self, value: exp.Expr, seconds: int) -> exp.Expr: ...

    def truncate(self, value: exp.Expr, unit: str) -> exp.Expr:
        """Start of the ``unit`` (hour, day, week from Monday, month …) holding ``value``."""
        ...

    def timestamp(self, at: datetime) -> exp.Expr:
        """A literal instant (naive, UTC) comparable with stored timestamps."""
        ...

    def date(self, day: date) -> exp.Expr: ...


def apply_transforms(tree: exp.Expr, transforms: Mapping[type[exp.Expr], Transform]) -> exp.Expr:
    """Rewrite every node whose type has a transform, innermost first (so a
    transform builds on arguments already in the engine's form)."""
    for node in reversed(list(tree.walk())):
        transform = transforms.get(type(node))
        replaced = transform(node) if transform is not None else None
        if replaced is None or replaced is node:
            continue
        if node is tree:
            tree = replaced
        else:
            node.replace(replaced)
    return tree


def project_filter(alias: str, project_id: int) -> exp.Expr:
    return exp.EQ(this=exp.column("project_id", alias), expression=exp.Literal.number(project_id))


def column(name: str, table: str, alias: str | None = None) -> exp.Expr:
    """``table.name AS alias``, always aliased so every engine names it the same."""
    return exp.alias_(exp.column(name, table, quoted=True), alias or name, quoted=True)


def equals(left: exp.Expr, right: exp.Expr) -> exp.Expr:
    return exp.EQ(this=left, expression=right)


def materialized_or_json(
    alias: str,
    field: Json,
    keys: list[str],
    materialized: Mapping[str, str],
    access: Callable[[exp.Expr, list[str]], exp.Expr],
) -> exp.Expr:
    """A materialised column when one holds this key, the JSON lookup otherwise."""
    if not keys:
        return exp.column(field.column, alias, quoted=True)
    if len(keys) == 1 and keys[0] in materialized:
        return exp.column(materialized[keys[0]], alias, quoted=True)
    return access(exp.column(field.column, alias, quoted=True), keys)


class PropertyPath(exp.Expression, exp.Func):
    """A property of a typed column at a path (``this``: the column, ``keys``: its
    keys as string literals), left in the tree until the dialect's function map
    spells it: as a number where the query casts it to one (``toFloat``, math
    properties, ``gt``/``lt``), which reads the typed value directly, and as text
    everywhere else. Never printed: ``finish`` replaces every one."""

    # object: where the dialect reads an object at the path, when that is elsewhere
    arg_types = {"this": True, "keys": True, "object": False}

    @property
    def path(self) -> list[str]:
        return [key.this for key in self.args["keys"]]


class EpochMicros(exp.Expression):
    """The microseconds from 1970 (UTC) to an instant (``this``), as a 64-bit integer:
    integer arithmetic on it is cheaper per row than truncating and subtracting
    timestamps (``periods.py``). Built by the query layer, spelled by each dialect's
    ``finish``; not a function call, so the check of what HogQL may call (which guards
    what users write) lets it through."""

    arg_types = {"this": True}


def property_path(column: exp.Expr, keys: list[str]) -> PropertyPath:
    return PropertyPath(this=column, keys=[exp.Literal.string(k) for k in keys])


def path_column(column: str, keys: list[str]) -> str:
    """The subquery column that holds ``column``'s value at ``keys`` (``properties/a~1b``
    for the key ``a/b``): a JSON column's name never holds a ``/``."""
    return column + json_pointer(keys)


def path_of(name: str) -> tuple[str, list[str]] | None:
    """(column, keys) of a ``path_column`` name, None for any other column."""
    column, slash, pointer = name.partition("/")
    if not slash:
        return None
    keys = [k.replace("~1", "/").replace("~0", "~") for k in pointer.split("/")]
    return column, keys


# A logical JSON column → how its value at some keys is read from what is stored.
Extractors = Mapping[str, Callable[[list[str]], exp.Expr]]


def extracted_paths(used: frozenset[str], extractors: Extractors) -> list[exp.Expr]:
    """``extract(keys) AS "column/keys"`` for every used path of a column that has an
    extractor."""
    found = []
    for name in sorted(used):
        path = path_of(name)
        if path is not None and path[0] in extractors:
            found.append(exp.alias_(extractors[path[0]](path[1]), name, quoted=True))
    return found


# Casts after which a property is wanted as a number rather than as text. Only
# floating point: ``toInt`` of the text '30.5' is NULL, of the number 30.5 would be 31.
_NUMBER_TYPES = frozenset({exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT})


def wanted_as_number(node: exp.Expr) -> bool:
    parent = node.parent
    return (
        isinstance(parent, exp.Cast)  # TryCast is a Cast
        and parent.this is node
        and parent.args["to"].this in _NUMBER_TYPES
    )


def typed_property(
    alias: str,
    field: Json,
    keys: list[str],
    materialized: Mapping[str, str],
    whole: Callable[[exp.Expr], exp.Expr],
) -> exp.Expr:
    """A materialised column when one holds this key; otherwise the value the table's
    subquery extracts at the path (its ``path_column``), as a ``PropertyPath`` for
    ``finish``. ``whole`` is the field itself as JSON text."""
    if not keys:
        return whole(exp.column(field.column, alias, quoted=True))
    if len(keys) == 1 and keys[0] in materialized:
        return exp.column(materialized[keys[0]], alias, quoted=True)
    return property_path(exp.column(path_column(field.column, keys), alias, quoted=True), [])


def plus_interval(value: exp.Expr, seconds: int) -> exp.Expr:
    """``value ± INTERVAL 'n' SECOND``, as both engines write it."""
    interval = exp.Interval(this=exp.Literal.string(str(abs(seconds))), unit=exp.Var(this="SECOND"))
    if seconds < 0:
        return exp.Sub(this=value, expression=interval)
    return exp.Add(this=value, expression=interval)
