"""Which table each name in a query means: decided here, never by the engine.

Engines resolve table names by rules of their own (DuckDB binds the anchor of
a recursive CTE to a stored table of the same name; identifiers are
case-insensitive in DuckDB and case-sensitive in ClickHouse), and any
disagreement between the compiler and the engine is a way out of the
project. So the compiler leaves the engine nothing to decide:

- every CTE gets a generated name, so no user-chosen name reaches the engine
  as a table name, and none can shadow a stored table inside Magpie's own
  project-scoped subqueries;
- every table reference is resolved by lexical scope, case-insensitively, to
  a CTE in scope or to a logical table (``events``, ``persons`` …);
- anything else (a schema-qualified name, a file path, a table function, an
  engine catalog) is refused.

What the engine finally sees as table names are the generated CTE names and,
inside the subqueries that replace logical tables, the stored tables Magpie
itself chose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from magpie.query.catalog import TABLES, LogicalTable
from magpie.query.errors import QueryError, UnknownTable, where
from magpie.query.hogql.dialect import HogQL

CTE_PREFIX = "__cte_"


@dataclass
class Resolution:
    """What each table reference of a query means, by node id."""

    logical: dict[int, LogicalTable] = field(default_factory=dict)
    cte_references: set[int] = field(default_factory=set)


def resolve_tables(tree: exp.Expr) -> Resolution:
    """Rename the query's CTEs and resolve its table references, in place."""
    _refuse_duplicate_ctes(tree)
    generated = {id(cte): f"{CTE_PREFIX}{n}" for n, cte in enumerate(tree.find_all(exp.CTE))}
    resolution = Resolution()
    renames: list[tuple[exp.Table, str]] = []
    for table in list(tree.find_all(exp.Table)):
        name = _plain_name(table)
        cte = _visible_cte(table, name.lower())
        if cte is not None:
            resolution.cte_references.add(id(table))
            renames.append((table, generated[id(cte)]))
            continue
        virtual = TABLES.get(name.lower())
        if virtual is None:
            known = ", ".join(sorted(TABLES))
            raise UnknownTable(f"unknown table {name!r}{where(table.this)}; tables are {known}")
        resolution.logical[id(table)] = virtual
        renames.append((table, virtual.name))
    for table, target in renames:
        _point_at(table, target)
    for cte in tree.find_all(exp.CTE):
        alias = cte.args.get("alias")
        columns = alias.columns if isinstance(alias, exp.TableAlias) else []
        cte.set(
            "alias",
            exp.TableAlias(this=exp.to_identifier(generated[id(cte)]), columns=columns),
        )
    return resolution


def _plain_name(table: exp.Table) -> str:
    """A table reference must be one plain name: no schema, catalog, path or function."""
    if not isinstance(table.this, exp.Identifier) or table.args.get("db"):
        raise UnknownTable(f"unknown table {table.sql(dialect=HogQL)}{where(table.this)}")
    if table.args.get("catalog") or table.args.get("pivots"):
        raise UnknownTable(f"unknown table {table.sql(dialect=HogQL)}{where(table.this)}")
    return table.name


def _point_at(table: exp.Table, target: str) -> None:
    """Make ``table`` read ``target``, still known to the query by the name it wrote."""
    if not table.alias:
        table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
    table.set("this", exp.to_identifier(target))


def _visible_cte(table: exp.Table, name: str) -> exp.CTE | None:
    """The CTE that ``name`` means at ``table``, by SQL's scoping: a query's body
    sees all its CTEs; a CTE's own body sees the ones before it, and itself when
    the WITH is RECURSIVE. The nearest WITH wins."""
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        visible: list[exp.CTE] = []
        if isinstance(node, exp.With) and isinstance(child, exp.CTE):
            ctes = list(node.expressions)
            index = next(i for i, c in enumerate(ctes) if c is child)
            visible = ctes[: index + 1] if node.args.get("recursive") else ctes[:index]
        elif isinstance(node, exp.Query):
            with_ = node.args.get("with_")
            if isinstance(with_, exp.With) and with_ is not child:
                visible = list(with_.expressions)
        for cte in reversed(visible):
            if cte.alias_or_name.lower() == name:
                return cte
        child, node = node, node.parent
    return None


def _refuse_duplicate_ctes(tree: exp.Expr) -> None:
    for with_ in tree.find_all(exp.With):
        seen: set[str] = set()
        for cte in with_.expressions:
            name = cte.alias_or_name.lower()
            if name in seen:
                raise QueryError(f"the CTE {cte.alias_or_name!r} is defined twice{where(cte)}")
            seen.add(name)
