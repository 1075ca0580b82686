"""The embedded engine: DuckDB's stored tables behind the logical catalog.

Events carry the person id they were ingested with; ``person_overrides``
re-points the events of a distinct id that was merged since, so ``person_id``
and ``person.*`` resolve through it, and nothing is joined unless the query
reads those fields. Event, person and group properties are VARIANT columns,
read through ``store/duckdb/properties.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlglot import exp

from magpie.query.catalog import GROUP_INDEXES, Json, LogicalTable
from magpie.query.dialects.base import (
    EpochMicros,
    PropertyPath,
    TableBuilder,
    Transform,
    apply_transforms,
    column,
    equals,
    extracted_paths,
    plus_interval,
    project_filter,
    typed_property,
    wanted_as_number,
)
from magpie.store.columns import MATERIALIZED_PROPERTIES
from magpie.store.duckdb.properties import property_number, property_text, value_at, whole_json

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


def _same_project(alias: str) -> exp.Expr:
    return equals(exp.column("project_id", alias), exp.column("project_id", "e"))


def _with_paths(
    query: exp.Select, used: frozenset[str], sources: dict[str, exp.Expr]
) -> exp.Select:
    """The properties the query reads, extracted here (``sources``: logical JSON
    column → the stored VARIANT): DuckDB pushes a ``variant_extract`` over a table's
    own column down into the scan (a shredded property is read from its own column),
    but not through a subquery's projection."""
    extractors = {
        name: (lambda keys, source=source: value_at(source, keys))
        for name, source in sources.items()
    }
    paths = extracted_paths(used, extractors)
    return query.select(*paths) if paths else query


def _events(used: frozenset[str], project_id: int) -> exp.Select:
    sources: dict[str, exp.Expr] = {"properties": exp.column("properties", "e")}
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
        .from_(exp.table_("events", alias="e"))
        .where(project_filter("e", project_id))
    )
    if resolves:
        query = query.join(
            exp.table_("person_overrides", alias="o"),
            join_type="left",
            on=exp.and_(
                _same_project("o"),
                equals(exp.column("distinct_id", "o"), exp.column("distinct_id", "e")),
            ),
        )
    if used & _PERSON_COLUMNS:
        query = query.join(
            exp.table_("persons", alias="p"),
            join_type="left",
            on=exp.and_(_same_project("p"), equals(exp.column("uuid", "p"), person.copy())),
        ).select(
            column("properties", "p", "person_properties"),
            column("created_at", "p", "person_created_at"),
            column("is_identified", "p", "person_is_identified"),
        )
        sources["person_properties"] = exp.column("properties", "p")
    for index in GROUP_INDEXES:
        if not used & {f"group_{index}_properties", f"group_{index}_created_at"}:
            continue
        alias = f"g{index}"
        query = query.join(
            exp.table_("groups", alias=alias),
            join_type="left",
            on=exp.and_(
                _same_project(alias),
                equals(exp.column("group_type_index", alias), exp.Literal.number(index)),
                equals(exp.column("group_key", alias), exp.column(f"group_{index}", "e")),
            ),
        ).select(
            column("properties", alias, f"group_{index}_properties"),
            column("created_at", alias, f"group_{index}_created_at"),
        )
        sources[f"group_{index}_properties"] = exp.column("properties", alias)
    return _with_paths(query, used, sources)


def _persons(used: frozenset[str], project_id: int) -> exp.Select:
    query = (
        exp.select(
            column("uuid", "p", "id"),
            column("created_at", "p"),
            column("properties", "p"),
            column("is_identified", "p"),
            column("last_seen_at", "p"),
        )
        .from_(exp.table_("persons", alias="p"))
        .where(project_filter("p", project_id))
    )
    return _with_paths(query, used, {"properties": exp.column("properties", "p")})


def _distinct_ids(used: frozenset[str], project_id: int) -> exp.Select:
    return (
        exp.select(column("distinct_id", "d"), column("person_uuid", "d", "person_id"))
        .from_(exp.table_("person_distinct_ids", alias="d"))
        .where(project_filter("d", project_id))
    )


def _cohort_people(used: frozenset[str], project_id: int) -> exp.Select:
    return (
        exp.select(column("cohort_id", "c"), column("person_uuid", "c", "person_id"))
        .from_(exp.table_("cohort_people", alias="c"))
        .where(project_filter("c", project_id))
    )


def _groups(used: frozenset[str], project_id: int) -> exp.Select:
    query = (
        exp.select(
            column("group_type_index", "g"),
            column("group_type", "m"),
            column("group_key", "g"),
            column("properties", "g"),
            column("created_at", "g"),
        )
        .from_(exp.table_("groups", alias="g"))
        .join(
            exp.table_("group_type_mapping", alias="m"),
            join_type="left",
            on=exp.and_(
                equals(exp.column("project_id", "m"), exp.column("project_id", "g")),
                equals(exp.column("group_type_index", "m"), exp.column("group_type_index", "g")),
            ),
        )
        .where(project_filter("g", project_id))
    )
    return _with_paths(query, used, {"properties": exp.column("properties", "g")})


def _property(node: exp.Expr) -> exp.Expr:
    assert isinstance(node, PropertyPath)
    read = property_number if wanted_as_number(node) else property_text
    return read(node.this, node.path)


def _count_distinct(node: exp.Expr) -> exp.Expr:
    # uniq() is exact here: DuckDB counts distinct values fast enough.
    return exp.Count(this=exp.Distinct(expressions=[node.this]))


# HogQL's formatDateTime codes are ClickHouse's; DuckDB's strftime spells some
# otherwise (%i is the minute, %M the month's name in ClickHouse).
_FORMAT_CODES = {
    "c": "%m",
    "D": "%m/%d/%y",
    "e": "%-d",
    "F": "%Y-%m-%d",
    "h": "%I",
    "i": "%M",
    "k": "%-H",
    "l": "%-I",
    "M": "%B",
    "n": "\n",
    "r": "%I:%M %p",
    "R": "%H:%M",
    "s": "%S",
    "t": "\t",
    "T": "%H:%M:%S",
    "W": "%A",
}


def _strftime(node: exp.Expr) -> exp.Expr | None:
    fmt = node.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return None
    text, out, i = fmt.this, [], 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text):
            code = text[i + 1]
            out.append(_FORMAT_CODES.get(code, "%" + code))
            i += 2
            continue
        out.append(text[i])
        i += 1
    node.set("format", exp.Literal.string("".join(out)))
    return None


def _hash64(node: exp.Expr) -> exp.Expr:
    """A 64-bit hash of the value: DuckDB's own ``hash`` (not CityHash: only the
    bits' spread matters where Magpie's plans use it, not the values)."""
    return exp.Anonymous(this="hash", expressions=[e.copy() for e in node.expressions])


class DuckDBDialect:
    name = "duckdb"
    sqlglot = "duckdb"

    TABLES: dict[str, TableBuilder] = {
        "events": _events,
        "persons": _persons,
        "person_distinct_ids": _distinct_ids,
        "groups": _groups,
        "cohort_people": _cohort_people,
    }
    # (logical table, JSON column) → property key → the column holding it.
    MATERIALIZED: dict[tuple[str, str], dict[str, str]] = {
        ("events", "properties"): MATERIALIZED_PROPERTIES,
    }
    TRANSFORMS: dict[type[exp.Expr], Transform] = {
        PropertyPath: _property,
        exp.ApproxDistinct: _count_distinct,
        exp.TimeToStr: _strftime,
        exp.CityHash64: _hash64,
        EpochMicros: lambda node: exp.func("epoch_us", node.this),
    }

    def table(self, table: LogicalTable, used: frozenset[str], project_id: int) -> exp.Select:
        return self.TABLES[table.name](used, project_id)

    def property(self, table: LogicalTable, alias: str, field: Json, keys: list[str]) -> exp.Expr:
        materialized = self.MATERIALIZED.get((table.name, field.column), {})
        return typed_property(alias, field, keys, materialized, whole_json)

    def placeholder(self, name: str, value: Any) -> exp.Expr:
        return exp.Placeholder(this=name)

    def finish(self, tree: exp.Expr) -> exp.Expr:
        return apply_transforms(tree, self.TRANSFORMS)

    def add_seconds(self, value: exp.Expr, seconds: int) -> exp.Expr:
        return plus_interval(value, seconds)

    def truncate(self, value: exp.Expr, unit: str) -> exp.Expr:
        return exp.DateTrunc(this=value, unit=exp.Literal.string(unit.upper()))

    def timestamp(self, at: datetime) -> exp.Expr:
        return exp.cast(exp.Literal.string(at.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))

    def date(self, day: date) -> exp.Expr:
        return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE"))


DUCKDB = DuckDBDialect()
