"""The ClickHouse schema, migrated by itself at start-up.

Migrations are numbered steps applied in order and recorded in
``schema_migrations``; each statement is idempotent (``IF NOT EXISTS``), so a
step interrupted before it was recorded is simply applied again. Most steps
are SQL files; the materialised property columns are generated from the one
expression the query layer reads properties with, so a column and a lookup
can never disagree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import sqlglot
from clickhouse_connect.driver.client import Client
from sqlglot import exp

from magpie.store.clickhouse.properties import json_text
from magpie.store.clickhouse.typed_migration import add_typed_properties
from magpie.store.columns import MATERIALIZED_PROPERTIES

log = logging.getLogger(__name__)

_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32, name String, applied_at DateTime64(6, 'UTC')
) ENGINE = ReplacingMergeTree ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[], list[str]]
    # A step that is code rather than statements (it rewrites a table).
    run: Callable[[Client], None] | None = None


def _no_statements() -> list[str]:
    return []


def _sql_file(name: str) -> Callable[[], list[str]]:
    def statements() -> list[str]:
        text = (resources.files("magpie.store.clickhouse") / "migrations" / name).read_text()
        without_comments = re.sub(r"--[^\n]*", "", text)
        return [s.strip() for s in without_comments.split(";") if s.strip()]

    return statements


def _materialized_columns() -> list[str]:
    """Hot properties as columns ClickHouse fills itself on insert (one ALTER: each
    statement costs a metadata round, and a new database runs them all)."""
    alter: exp.Alter | None = None
    for key, name in MATERIALIZED_PROPERTIES.items():
        template = sqlglot.parse_one(
            f"ALTER TABLE events ADD COLUMN IF NOT EXISTS {name} Nullable(String) MATERIALIZED 1",
            read="clickhouse",
        )
        computed = next(template.find_all(exp.ComputedColumnConstraint))
        computed.set("this", json_text(exp.column("properties"), [key]))
        assert isinstance(template, exp.Alter)
        if alter is None:
            alter = template
        else:
            alter.append("actions", template.args["actions"][0])
    return [] if alter is None else [alter.sql(dialect="clickhouse")]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "0001_initial.sql", _sql_file("0001_initial.sql")),
    Migration(2, "0002_materialized_columns", _materialized_columns),
    Migration(3, "0003_typed_properties", _no_statements, add_typed_properties),
    Migration(20, "0020_cohort_people.sql", _sql_file("0020_cohort_people.sql")),
    Migration(30, "0030_loader.sql", _sql_file("0030_loader.sql")),
)


def apply_migrations(client: Client) -> list[str]:
    """Bring the client's database up to date; the names of the steps applied."""
    client.command(_SCHEMA_MIGRATIONS)
    done = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.statements():
            client.command(statement)
        if migration.run is not None:
            migration.run(client)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name, datetime.now(UTC).replace(tzinfo=None)]],
            column_names=["version", "name", "applied_at"],
        )
        log.info("applied ClickHouse migration %s", migration.name)
        applied.append(migration.name)
    return applied
