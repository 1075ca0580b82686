"""ClickHouse behind the logical catalog: the same answers as DuckDB gives.

The stored tables follow PostHog's shape (``store/clickhouse/migrations``):
events in a ReplacingMergeTree, and persons, distinct ids, overrides and
groups as ReplacingMergeTrees by version that are read ``FINAL``, so the
latest version of each row wins. Every subquery filters on the project
before anything is joined.

The function map holds what the engines compute differently: ``uniq`` stays
ClickHouse's approximate count; quantiles are the discrete ones DuckDB
computes; casts that may fail give NULL; string functions count characters,
not bytes. The settings below are part of the dialect: the SQL it prints
means what DuckDB's means only with them (an unmatched LEFT JOIN row is NULL,
an aggregate over nothing is NULL, a cast keeps NULL).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlglot import exp

from magpie.query.catalog import GROUP_INDEXES, Json, LogicalTable
from magpie.query.dialects.base import (
    EpochMicros,
    PropertyPath,
    Transform,
    apply_transforms,
    column,
    equals,
    extracted_paths,
    materialized_or_json,
    path_column,
    plus_interval,
    project_filter,
    wanted_as_number,
)
from magpie.store.clickhouse.properties import (
    json_text,
    sub_object,
    subcolumn,
    typed_number,
    typed_text,
)
from magpie.store.columns import MATERIALIZED_PROPERTIES

# Session settings every query of this dialect runs with (the runner adds limits).
SETTINGS: dict[str, Any] = {
    "join_use_nulls": 1,
    "aggregate_functions_null_for_empty": 1,
    "cast_keep_nullable": 1,
    "union_default_mode": "DISTINCT",
    "session_timezone": "UTC",
    # A CTE marked MATERIALIZED is computed once, as on DuckDB (plans that read one
    # CTE many times, such as the funnel's, mark theirs).
    "enable_materialized_cte": 1,
}

_EVENT_SCALARS = (
    "uuid",
    "event",
    "distinct_id",
    "timestamp",
    "elements_chain",
    "person_mode",
    "created_at",
)
_PERSON_COLUMNS = frozenset({"person_properties", "person_created_at", "person_is_identified"})
_RESOLVED = frozenset({"person_id"}) | _PERSON_COLUMNS
_TIMESTAMP = "DateTime64(6, 'UTC')"
# The typed copy of event properties, and the logical column of an object at a path.
_TYPED = "properties_json"
_OBJECT = "properties^"


def _string(value: str) -> exp.Expr:
    return exp.Literal.string(value)


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


class ClickHouseDialect:
    name = "clickhouse"
    sqlglot = "clickhouse"
    settings = SETTINGS

    def __init__(self, database: str) -> None:
        # Stored tables are named with their database, never left to the session's.
        self.database = database

    # -- tables -------------------------------------------------------------------

    def _table(self, name: str, alias: str, *, final: bool = False) -> exp.Expr:
        table = exp.table_(name, db=self.database, alias=alias)
        return exp.Final(this=table) if final else table

    def _latest(self, name: str, alias: str, project_id: int, *columns: str) -> exp.Select:
        """The latest version of each row of a versioned table, in the project."""
        return (
            exp.select(*(column(c, alias) for c in columns))
            .from_(self._table(name, alias, final=True))
            .where(project_filter(alias, project_id))
        )

    def _events(self, used: frozenset[str], project_id: int) -> exp.Select:
        resolves = bool(used & _RESOLVED)
        person = (
            exp.func("coalesce", exp.column("person_uuid", "o"), exp.column("person_id", "e"))
            if resolves
            else exp.column("person_id", "e")
        )
        query = (
            exp.select(
                *(column(name, "e") for name in _EVENT_SCALARS),
                column("properties", "e"),
                exp.alias_(person, "person_id", quoted=True),
                column("mat_session_id", "e", "$session_id"),
                *(column(c, "e") for c in MATERIALIZED_PROPERTIES.values()),
                *(column(f"group_{i}", "e", f"$group_{i}") for i in GROUP_INDEXES),
            )
            .from_(self._table("events", "e"))
            .where(project_filter("e", project_id))
        )
        if resolves:
            overrides = self._latest(
                "person_overrides", "po", project_id, "distinct_id", "person_uuid"
            )
            query = query.join(
                overrides.subquery("o"),
                join_type="left",
                on=equals(exp.column("distinct_id", "o"), exp.column("distinct_id", "e")),
            )
        if used & _PERSON_COLUMNS:
            persons = self._latest(
                "persons", "pp", project_id, "uuid", "properties", "created_at", "is_identified"
            ).where(equals(exp.column("is_deleted", "pp"), exp.Literal.number(0)))
            query = query.join(
                persons.subquery("p"),
                join_type="left",
                on=equals(exp.column("uuid", "p"), person.copy()),
            ).select(
                column("properties", "p", "person_properties"),
                column("created_at", "p", "person_created_at"),
                column("is_identified", "p", "person_is_identified"),
            )
        # Subcolumns are read alone only when selected from the table itself, not
        # through this subquery: the properties the query reads are extracted here.
        typed = exp.column(_TYPED, "e")
        query = query.select(
            *extracted_paths(
                used,
                {
                    "properties": lambda keys: subcolumn(typed, keys),
                    _OBJECT: lambda keys: sub_object(typed, keys),
                },
            )
        )
        for index in GROUP_INDEXES:
            if not used & {f"group_{index}_properties", f"group_{index}_created_at"}:
                continue
            alias = f"g{index}"
            groups = self._latest(
                "groups", "gg", project_id, "group_key", "properties", "created_at"
            ).where(equals(exp.column("group_type_index", "gg"), exp.Literal.number(index)))
            query = query.join(
                groups.subquery(alias),
                join_type="left",
                on=equals(exp.column("group_key", alias), exp.column(f"group_{index}", "e")),
            ).select(
                column("properties", alias, f"group_{index}_properties"),
                column("created_at", alias, f"group_{index}_created_at"),
            )
        return query

    def _persons(self, used: frozenset[str], project_id: int) -> exp.Select:
        return (
            exp.select(
                column("uuid", "p", "id"),
                column("created_at", "p"),
                column("properties", "p"),
                column("is_identified", "p"),
                column("last_seen_at", "p"),
            )
            .from_(self._table("persons", "p", final=True))
            .where(project_filter("p", project_id))
            .where(equals(exp.column("is_deleted", "p"), exp.Literal.number(0)))
        )

    def _distinct_ids(self, used: frozenset[str], project_id: int) -> exp.Select:
        return (
            exp.select(column("distinct_id", "d"), column("person_uuid", "d", "person_id"))
            .from_(self._table("person_distinct_ids", "d", final=True))
            .where(project_filter("d", project_id))
        )

    def _groups(self, used: frozenset[str], project_id: int) -> exp.Select:
        types = self._latest(
            "group_type_mapping", "mm", project_id, "group_type_index", "group_type"
        )
        return (
            exp.select(
                column("group_type_index", "g"),
                column("group_type", "m"),
                column("group_key", "g"),
                column("properties", "g"),
                column("created_at", "g"),
            )
            .from_(self._table("groups", "g", final=True))
            .join(
                types.subquery("m"),
                join_type="left",
                on=equals(exp.column("group_type_index", "m"), exp.column("group_type_index", "g")),
            )
            .where(project_filter("g", project_id))
        )

    def _cohort_people(self, used: frozenset[str], project_id: int) -> exp.Select:
        return (
            exp.select(column("cohort_id", "c"), column("person_id", "c"))
            .from_(self._table("cohort_people", "c", final=True))
            .where(project_filter("c", project_id))
            .where(equals(exp.column("is_deleted", "c"), exp.Literal.number(0)))
        )

    def table(self, table: LogicalTable, used: frozenset[str], project_id: int) -> exp.Select:
        builders = {
            "events": self._events,
            "persons": self._persons,
            "person_distinct_ids": self._distinct_ids,
            "groups": self._groups,
            "cohort_people": self._cohort_people,
        }
        return builders[table.name](used, project_id)

    # -- values -------------------------------------------------------------------

    # (logical table, JSON column) → property key → the column holding it.
    MATERIALIZED: dict[tuple[str, str], dict[str, str]] = {
        ("events", "properties"): MATERIALIZED_PROPERTIES,
    }

    # (logical table, JSON column) kept in the JSON type as well, read from there.
    TYPED: frozenset[tuple[str, str]] = frozenset({("events", "properties")})

    def property(self, table: LogicalTable, alias: str, field: Json, keys: list[str]) -> exp.Expr:
        materialized = self.MATERIALIZED.get((table.name, field.column), {})
        hot = len(keys) == 1 and keys[0] in materialized
        if (table.name, field.column) not in self.TYPED or not keys or hot:
            return materialized_or_json(alias, field, keys, materialized, json_text)
        return PropertyPath(
            this=exp.column(path_column(field.column, keys), alias, quoted=True),
            keys=[],
            object=exp.column(path_column(_OBJECT, keys), alias, quoted=True),
        )

    def placeholder(self, name: str, value: Any) -> exp.Expr:
        # Bound by the server from its own parameter, typed after the value.
        kind = exp.DataType.build(_parameter_type(value), dialect="clickhouse")
        return exp.Placeholder(this=name, kind=kind)

    def finish(self, tree: exp.Expr) -> exp.Expr:
        return apply_transforms(tree, TRANSFORMS)

    # -- time ---------------------------------------------------------------------

    def add_seconds(self, value: exp.Expr, seconds: int) -> exp.Expr:
        return plus_interval(value, seconds)

    def truncate(self, value: exp.Expr, unit: str) -> exp.Expr:
        return exp.DateTrunc(this=value, unit=exp.Literal.string(unit.upper()))

    # Literals go into HogQL trees that the compiler checks, so they are portable
    # casts; the function map prints them as ClickHouse's UTC instants.
    def timestamp(self, at: datetime) -> exp.Expr:
        return exp.cast(_string(at.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))

    def date(self, day: date) -> exp.Expr:
        return exp.cast(_string(day.isoformat()), exp.DataType.build("DATE"))


def _parameter_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, datetime):
        return _TIMESTAMP
    if isinstance(value, date):
        return "Date32"
    return "Nullable(String)"


# -- the function map ------------------------------------------------------------------


def _type_name(to: exp.DataType) -> str:
    """A portable type as ClickHouse spells it; instants are microseconds in UTC."""
    if to.this in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATETIME):
        return _TIMESTAMP
    if to.this == exp.DataType.Type.DATE:
        return "Date32"
    return to.sql(dialect="clickhouse").removeprefix("Nullable(").removesuffix(")")


def _try_cast(node: exp.Expr) -> exp.Expr:
    """TRY_CAST: NULL for what does not convert (ClickHouse's CAST would fail)."""
    return _call("accurateCastOrNull", node.this, _string(_type_name(node.args["to"])))


def _cast(node: exp.Expr) -> exp.Expr | None:
    to = node.args["to"]
    if to.this in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATETIME):
        return _call("toDateTime64", node.this, exp.Literal.number(6), _string("UTC"))
    if to.this == exp.DataType.Type.DATE:
        return _call("toDate32", node.this)
    if isinstance(node.this, _CONDITIONS):  # as text: 'true', as DuckDB writes it
        node.set("this", _as_bool(node.this))
    return None


_WHOLE_DAYS = {"WEEK", "MONTH", "QUARTER", "YEAR"}


def _truncate(node: exp.Expr) -> exp.Expr:
    """Weeks and months truncate to a Date in ClickHouse, to a timestamp in DuckDB:
    keep the timestamp, so both answer with the same type."""
    unit = node.args.get("unit")
    name = (unit.name if unit is not None else "").upper()
    truncated = _call("dateTrunc", _string(name), node.this)
    if name in _WHOLE_DAYS:
        return _call("toDateTime64", truncated, exp.Literal.number(6), _string("UTC"))
    return truncated


def _quantile(node: exp.Expr) -> exp.Expr:
    """DuckDB's discrete quantile: the value at rank ceil(n × q) of the sorted values
    (ClickHouse's quantile() samples and interpolates)."""
    value, level = node.this, node.args["quantile"]
    count = exp.Count(this=value.copy())
    rank = _call(
        "toUInt64",
        exp.Greatest(
            this=exp.Ceil(this=exp.Mul(this=count.copy(), expression=level.copy())),
            expressions=[exp.Literal.number(1)],
        ),
    )
    sorted_values = _call("arraySort", _call("groupArray", value.copy()))
    picked = exp.Bracket(this=sorted_values, expressions=[rank], offset=1)
    return exp.If(
        this=exp.EQ(this=count, expression=exp.Literal.number(0)),
        true=exp.Null(),
        false=picked,
    )


def _without_escape(node: exp.Expr) -> exp.Expr | None:
    # A backslash is ClickHouse's only LIKE escape (and the one Magpie's patterns use).
    escape = node.expression
    if isinstance(escape, exp.Literal) and escape.this == "\\":
        return node.this
    return None


def _characters(name: str) -> Transform:
    """String functions that count characters (ClickHouse's plain ones count bytes)."""

    def build(node: exp.Expr) -> exp.Expr:
        args = [a for a in (node.this, *node.args.get("expressions", [])) if a is not None]
        return _call(name, *args)

    return build


def _substring(node: exp.Expr) -> exp.Expr:
    args = [node.this, node.args.get("start"), node.args.get("length")]
    return _call("substringUTF8", *(a for a in args if a is not None))


def _regexp_replace(node: exp.Expr) -> exp.Expr:
    """DuckDB replaces the first match unless told 'g' (every match); ClickHouse has
    a function for each."""
    modifiers = node.args.get("modifiers")
    every = isinstance(modifiers, exp.Literal) and "g" in modifiers.this
    name = "replaceRegexpAll" if every else "replaceRegexpOne"
    return _call(name, node.this, node.expression, node.args["replacement"])


def _unique_aliases(node: exp.Expr) -> None:
    """ClickHouse refuses two result columns of one name; the runner reports the
    names the query gave (``CompiledQuery.columns``)."""
    seen: set[str] = set()
    for projection in node.expressions:
        if not isinstance(projection, exp.Alias):
            seen.add(projection.alias_or_name)
            continue
        name, n = projection.alias, 1
        while projection.alias in seen:
            n += 1
            projection.set("alias", exp.to_identifier(f"{name}__{n}", quoted=True))
        seen.add(projection.alias)


# Conditions are UInt8 in ClickHouse, booleans in DuckDB (true/false in JSON).
_CONDITIONS = (
    exp.Predicate,
    exp.Connector,
    exp.Not,
    exp.StartsWith,
    exp.EndsWith,
    exp.RegexpLike,
    exp.ArrayContains,
)


def _as_bool(value: exp.Expr) -> exp.Expr:
    return _call("toBool", value) if isinstance(value, _CONDITIONS) else value


def _boolean_results(node: exp.Expr) -> None:
    for projection in node.expressions:
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(inner, _CONDITIONS):
            inner.replace(_as_bool(inner.copy()))


def _select(node: exp.Expr) -> None:
    _unique_aliases(node)
    _boolean_results(node)
    return None


def _nullable_default(node: exp.Expr) -> None:
    """lag()/lead() past the partition's edge: NULL, not the type's default ('')."""
    if node.args.get("default") is None:
        node.set("this", _call("toNullable", node.this))
    return None


def _property(node: exp.Expr) -> exp.Expr:
    assert isinstance(node, PropertyPath)
    if wanted_as_number(node):
        return typed_number(node.this)
    return typed_text(node.this, node.args["object"])


TRANSFORMS: dict[type[exp.Expr], Transform] = {
    PropertyPath: _property,
    exp.Select: _select,
    exp.Lag: _nullable_default,
    exp.Lead: _nullable_default,
    exp.TryCast: _try_cast,
    exp.Cast: _cast,
    exp.DateTrunc: _truncate,
    exp.TimestampTrunc: _truncate,
    exp.Quantile: _quantile,
    exp.Escape: _without_escape,
    exp.Lower: _characters("lowerUTF8"),
    exp.Upper: _characters("upperUTF8"),
    exp.Length: _characters("lengthUTF8"),
    exp.Reverse: _characters("reverseUTF8"),
    exp.Substring: _substring,
    exp.RegexpReplace: _regexp_replace,
    # ClickHouse has no shift operators, only the functions.
    exp.BitwiseLeftShift: lambda node: _call("bitShiftLeft", node.this, node.expression),
    exp.BitwiseRightShift: lambda node: _call("bitShiftRight", node.this, node.expression),
    exp.BitwiseAnd: lambda node: _call("bitAnd", node.this, node.expression),
    # sqlglot prints ``a // b`` as a float division cast back, inexact past 2**53.
    exp.IntDiv: lambda node: _call("intDiv", node.this, node.expression),
    EpochMicros: lambda node: _call("toUnixTimestamp64Micro", node.this),
}
