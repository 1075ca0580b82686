"""HogQL → one engine's SQL.

The pipeline: parse (HogQL dialect) → refuse anything but one SELECT →
check and rewrite functions → resolve every table name by scope (CTEs get
generated names, the rest must be logical tables: ``names.py``) → resolve every
column against the logical catalog (``catalog.py``) → replace every logical
table with the dialect's project-scoped subquery → bind placeholders → apply
the LIMIT rules → the dialect's function forms → print for the engine. The
dialect supplies everything physical: the subqueries and their joins,
property access and materialised columns, and the spelling of bound values.
The output is SQL text plus named parameters; no user value is ever spliced
into the text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.scope import Scope, traverse_scope

from magpie.query.catalog import Json, LogicalTable, Nested, Scalar
from magpie.query.dialects.base import Dialect
from magpie.query.errors import (
    ForbiddenStatement,
    MissingPlaceholder,
    QueryError,
    QuerySyntaxError,
    UnknownColumn,
    UnknownFunction,
    UnknownTable,
    where,
)
from magpie.query.hogql import functions
from magpie.query.hogql.dialect import HogQL
from magpie.query.hogql.names import Resolution, resolve_tables

DEFAULT_LIMIT = 100
MAX_LIMIT = 50_000
_ENGINE_CLAUSES = ("settings", "format")


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    parameters: dict[str, Any]
    hogql: str
    # The result's column names as the query names them (an engine may have to
    # print them otherwise, e.g. ClickHouse, where two columns cannot share one).
    columns: tuple[str, ...] | None = None


@dataclass
class _Needs:
    """The columns each logical table reference is read for (its dialect adds the
    joins those need and no others)."""

    by_table: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Aliases the compiler added to name result columns; the query cannot refer to them.
    generated_aliases: set[int] = field(default_factory=set)


def parse(query: str) -> exp.Query:
    try:
        statements = sqlglot.parse(query, read=HogQL)
    except (ParseError, TokenError) as exc:
        raise QuerySyntaxError(f"syntax error: {_first_line(exc)}") from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise ForbiddenStatement("send exactly one SELECT statement")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = statement.key.upper() if statement is not None else "an empty statement"
        raise ForbiddenStatement(f"only SELECT queries are allowed, not {kind}")
    for node in statement.walk():
        if isinstance(node, exp.DML | exp.DDL | exp.Command | exp.Into | exp.Pragma):
            raise ForbiddenStatement(f"only SELECT queries are allowed{where(node)}")
        if isinstance(node, exp.Query) and any(node.args.get(k) for k in _ENGINE_CLAUSES):
            # ClickHouse would obey them: a query must not change its own limits.
            raise ForbiddenStatement("SETTINGS and FORMAT clauses are not allowed")
    return statement


def compile_hogql(
    query: str | exp.Query,
    project_id: int,
    values: dict[str, Any] | None = None,
    *,
    dialect: Dialect,
    default_limit: int | None = DEFAULT_LIMIT,
    copy: bool = True,
) -> CompiledQuery:
    """Compile user SQL (text) or an insight's HogQL tree for ``dialect``'s engine.
    A tree is copied first unless the caller hands it over (``copy=False``)."""
    if isinstance(query, str):
        tree, hogql = parse(query), query
    else:
        tree, hogql = (query.copy() if copy else query), ""
    _brackets_to_columns(tree)
    needs = _Needs(generated_aliases=_name_projections(tree))
    _check_functions(tree)
    resolution = resolve_tables(tree)
    _resolve_columns(tree, needs, resolution, dialect)
    parameters = _bind_placeholders(tree, values or {}, dialect)
    _scope_tables(tree, needs, resolution, project_id, dialect)
    if default_limit is not None:
        _apply_limit(tree, default_limit)
    columns = _result_columns(tree)
    # The tree is this call's own (copied above or handed over): print it in place.
    printed = dialect.finish(tree).sql(dialect=dialect.sqlglot, copy=False)
    return CompiledQuery(printed, parameters, hogql, columns)


def _result_columns(tree: exp.Query) -> tuple[str, ...] | None:
    if not isinstance(tree, exp.Select) or any(
        isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
        for p in tree.expressions
    ):
        return None
    return tuple(p.alias_or_name for p in tree.expressions)


def _name_projections(tree: exp.Query) -> set[int]:
    """Result columns keep the names the user wrote, not the compiled expressions'.

    ``properties.$browser`` is named ``$browser``; ``count()`` is named ``count()``.
    """
    if not isinstance(tree, exp.Select):
        return set()
    named: list[exp.Expr] = []
    generated: set[int] = set()
    for projection in tree.expressions:
        if isinstance(projection, exp.Alias | exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            named.append(projection)
            continue
        name = (
            projection.name if isinstance(projection, exp.Column) else projection.sql(dialect=HogQL)
        )
        alias = exp.alias_(projection, name, quoted=True)
        generated.add(id(alias))
        named.append(alias)
    tree.set("expressions", named)
    return generated


# -- functions -----------------------------------------------------------------


def _check_functions(tree: exp.Expr) -> None:
    for membership in tree.find_all(exp.In):
        if membership.args.get("field") is not None:
            # ``x IN t``: ClickHouse reads a bare name as a table. Values or a subquery only.
            raise QueryError(f"IN takes a list of values or a subquery{where(membership)}")
    for node in list(tree.find_all(exp.Func)):
        if isinstance(node, exp.Connector):  # AND / OR are operators, not calls
            continue
        replacement = functions.rewrite(node)
        if replacement is None:
            raise UnknownFunction(
                f"unknown function {functions.function_name(node)}(){where(node)}"
            )
        if replacement is not node:
            node.replace(replacement)


# -- columns ---------------------------------------------------------------------


def _resolve_columns(
    tree: exp.Expr, needs: _Needs, resolution: Resolution, dialect: Dialect
) -> None:
    try:
        scopes = traverse_scope(tree)
    except (sqlglot.errors.OptimizeError, ValueError) as exc:
        raise QueryError(f"cannot resolve the query: {_first_line(exc)}") from None
    for scope in scopes:
        virtual = _virtual_sources(scope, resolution)
        _expand_stars(scope, virtual)
        borrowed = _columns_of_subqueries(scope)
        for column in list(scope.columns):
            if id(column) in borrowed and not column.table:
                # An unqualified name in a subquery means the subquery's own
                # sources first; only a qualified name reaches out to this scope.
                continue
            replacement = _resolve_column(column, scope, virtual, needs, dialect)
            if replacement is not None:
                column.replace(replacement)


def _columns_of_subqueries(scope: Scope) -> set[int]:
    """Columns that sqlglot lists in ``scope`` because a subquery may correlate them."""
    children = [*scope.subquery_scopes, *scope.udtf_scopes, *scope.derived_table_scopes]
    return {id(column) for child in children for column in child.external_columns}


def _virtual_sources(
    scope: Scope, resolution: Resolution
) -> dict[str, tuple[exp.Table, LogicalTable]]:
    found = {}
    for alias, source in scope.sources.items():
        if not isinstance(source, exp.Table):
            continue
        table = resolution.logical.get(id(source))
        if table is None:
            # A CTE the scope could not match: refuse rather than guess.
            raise QueryError(f"cannot resolve the table {alias!r}{where(source.this)}")
        found[alias] = (source, table)
    return found


def _brackets_to_columns(tree: exp.Expr) -> None:
    """``properties['$browser']`` → ``properties.$browser`` (a column with one more part)."""
    for bracket in list(tree.find_all(exp.Bracket)):
        base = bracket.this
        keys = bracket.expressions
        if (
            isinstance(base, exp.Column)
            and len(keys) == 1
            and isinstance(keys[0], exp.Literal)
            and keys[0].is_string
        ):
            parts = [*base.parts, exp.to_identifier(keys[0].this, quoted=True)]
            bracket.replace(_column_from_parts(parts))


def _column_from_parts(parts: list[exp.Identifier]) -> exp.Expr:
    if len(parts) <= 4:
        names = ["this", "table", "db", "catalog"]
        return exp.Column(**dict(zip(names, reversed(parts), strict=False)))
    return exp.Dot.build([exp.Column(this=parts[0]), *parts[1:]])


def _column_parts(column: exp.Column) -> list[str]:
    return [part.name for part in column.parts]


def _expand_stars(scope: Scope, virtual: dict[str, tuple[exp.Table, LogicalTable]]) -> None:
    """``*`` over a logical table lists its public columns (never the stored table's
    internals); over a CTE or derived table it stays a star of that source."""
    select = scope.expression
    if not isinstance(select, exp.Select) or not virtual:
        return
    expanded: list[exp.Expr] = []
    changed = False
    for projection in select.expressions:
        if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            targets = [projection.table]
        elif isinstance(projection, exp.Star):
            targets = list(scope.selected_sources)
        else:
            expanded.append(projection)
            continue
        if not any(t in virtual for t in targets):
            expanded.append(projection)
            continue
        changed = True
        for alias in targets:
            if alias not in virtual:
                expanded.append(exp.Column(this=exp.Star(), table=exp.to_identifier(alias)))
                continue
            for name in virtual[alias][1].star:
                column = exp.Column(
                    this=exp.to_identifier(name, quoted=True), table=exp.to_identifier(alias)
                )
                expanded.append(exp.alias_(column, name, quoted=True))
    if changed:
        select.set("expressions", expanded)
        scope.clear_cache()


def _resolve_column(
    column: exp.Column,
    scope: Scope,
    virtual: dict[str, tuple[exp.Table, LogicalTable]],
    needs: _Needs,
    dialect: Dialect,
) -> exp.Expr | None:
    parts = _column_parts(column)
    if not parts or isinstance(column.this, exp.Star):
        return None
    if parts[0] in virtual and len(parts) > 1:
        alias, rest = parts[0], parts[1:]
    elif parts[0] in scope.sources and len(parts) > 1:
        return None  # a column of a CTE or derived table
    else:
        if len(parts) == 1 and _is_select_alias(scope, column, needs.generated_aliases):
            return None
        holders = [a for a, (_, t) in virtual.items() if parts[0] in t.fields]
        if len(holders) > 1:
            raise QueryError(
                f"column {'.'.join(parts)!r} is ambiguous{where(column.this)}: "
                f"qualify it with one of {', '.join(holders)}"
            )
        if not holders:
            if len(virtual) < len(scope.sources) or not virtual:
                return None  # may belong to a derived table
            if len(parts) > 1 and _is_outer_source(scope, parts[0]):
                return None  # correlated: the enclosing query's scope resolves it
            tables = ", ".join(sorted({t.name for _, t in virtual.values()}))
            raise UnknownColumn(
                f"unknown column {'.'.join(parts)!r}{where(column.this)} in {tables}"
            )
        alias, rest = holders[0], parts
    source, table = virtual[alias]
    return _field_expression(table, alias, rest, column, needs.by_table[id(source)], dialect)


def _is_outer_source(scope: Scope, name: str) -> bool:
    parent = scope.parent
    while parent is not None:
        if name in parent.sources:
            return True
        parent = parent.parent
    return False


def _is_select_alias(scope: Scope, column: exp.Column, generated: set[int]) -> bool:
    """Whether ``column`` names another projection's alias (``SELECT count() AS n … ORDER BY n``).

    A projection's own expression never refers to its alias: in
    ``SELECT person_id AS person_id`` the column is the table's.
    """
    select = scope.expression
    if not isinstance(select, exp.Select):
        return False
    for projection in select.expressions:
        if (
            isinstance(projection, exp.Alias)
            and projection.alias == column.name
            and id(projection) not in generated
            and not _inside(column, projection)
        ):
            return True
    return False


def _inside(node: exp.Expr, ancestor: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False


def _field_expression(
    table: LogicalTable,
    alias: str,
    path: list[str],
    column: exp.Column,
    needs: set[str],
    dialect: Dialect,
) -> exp.Expr:
    fields: dict[str, Any] = table.fields
    position = where(column.this)
    for depth, name in enumerate(path):
        found = fields.get(name)
        if found is None:
            owner = ".".join([table.name, *path[:depth]])
            raise UnknownColumn(
                f"unknown column {name!r} in {owner}{position}; "
                f"columns are {', '.join(sorted(fields))}"
            )
        if isinstance(found, Nested):
            if depth == len(path) - 1:
                raise QueryError(f"{'.'.join(path)} is an object; pick one of its fields{position}")
            fields = found.fields
            continue
        needs.add(found.column)
        keys = path[depth + 1 :]
        if isinstance(found, Scalar):
            if keys:
                raise UnknownColumn(
                    f"{'.'.join(path[: depth + 1])} has no field {keys[0]!r}{position}"
                )
            return exp.column(found.column, alias, quoted=True)
        assert isinstance(found, Json)
        value = dialect.property(table, alias, found, keys)
        # The dialect may read the property from a column of its own that the
        # table's subquery must then provide (e.g. a value extracted in the scan).
        needs.update(c.name for c in value.find_all(exp.Column) if c.table == alias)
        return value
    raise UnknownColumn(f"unknown column {'.'.join(path)!r}{position}")


# -- tables ------------------------------------------------------------------------


def _scope_tables(
    tree: exp.Expr, needs: _Needs, resolution: Resolution, project_id: int, dialect: Dialect
) -> None:
    """Every logical table becomes its project-scoped subquery. Fails closed: a
    reference that resolution did not account for never reaches the engine."""
    for table in list(tree.find_all(exp.Table)):
        if id(table) in resolution.cte_references:
            continue
        virtual = resolution.logical.get(id(table))
        if virtual is None:
            raise UnknownTable(f"unknown table {table.name!r}{where(table.this)}")
        used = frozenset(needs.by_table.get(id(table), set()))
        subquery = dialect.table(virtual, used, project_id)
        alias = table.alias or table.name
        table.replace(
            exp.Subquery(this=subquery, alias=exp.TableAlias(this=exp.to_identifier(alias)))
        )


# -- placeholders and limits ---------------------------------------------------------


def _bind_placeholders(tree: exp.Expr, values: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for placeholder in list(tree.find_all(exp.Placeholder)):
        name = placeholder.name
        if not name or name.startswith("__"):
            raise MissingPlaceholder(f"placeholders need a name{where(placeholder)}")
        if name not in values:
            raise MissingPlaceholder(f"no value given for placeholder {{{name}}}")
        parameters[name] = values[name]
        placeholder.replace(dialect.placeholder(name, values[name]))
    return parameters


def _apply_limit(tree: exp.Query, default: int) -> None:
    limit = tree.args.get("limit")
    if limit is None:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(min(default, MAX_LIMIT))))
        return
    value = limit.expression
    if not (isinstance(value, exp.Literal) and value.is_int):
        raise QueryError("LIMIT must be a whole number")
    if int(value.this) > MAX_LIMIT:
        limit.set("expression", exp.Literal.number(MAX_LIMIT))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
