"""The DuckDB schema, migrated by itself at start-up.

Migrations are numbered steps applied in order and recorded in
``schema_migrations``; a start-up applies the ones a data folder has not seen
yet. Most steps are SQL files (``migrations/NNNN_name.sql``), run in one
transaction each. A step that rewrites a large table is code instead
(``CODE_STEPS``): it works in chunks of its own transactions, so it never
holds the table in memory, and picks up where it stopped if interrupted; only
its last part commits together with the record that it was applied.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import duckdb

from magpie.store.duckdb import typed_properties
from magpie.store.duckdb.transactions import transaction

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

Connection = duckdb.DuckDBPyConnection


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    # Work done before the recording transaction, in transactions of its own
    # (and safe to run again after an interruption).
    prepare: Callable[[Connection], None]
    # Run inside the transaction that records the migration.
    finish: Callable[[Connection], None]


def _nothing(connection: Connection) -> None:
    return None


def _script(text: str) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        connection.execute(text)

    return run


def _sql_files() -> list[Migration]:
    folder = resources.files("magpie.store.duckdb") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            text = entry.read_text()
            found.append(Migration(int(match.group(1)), entry.name, _nothing, _script(text)))
    return found


CODE_STEPS: tuple[Migration, ...] = (
    Migration(
        5,
        "0005_typed_properties",
        typed_properties.copy_events,
        typed_properties.swap_tables,
    ),
)


def migrations() -> list[Migration]:
    return sorted([*_sql_files(), *CODE_STEPS], key=lambda m: m.version)


def apply_migrations(connection: Connection) -> list[str]:
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    # Every step not applied yet, not only those above the highest applied:
    # branches get ranges of numbers and land in any order.
    done = {
        row[0] for row in connection.execute("SELECT version FROM schema_migrations").fetchall()
    }
    applied = []
    for migration in migrations():
        if migration.version in done:
            continue
        migration.prepare(connection)
        with transaction(connection):
            migration.finish(connection)
            connection.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.name, datetime.now(UTC).replace(tzinfo=None)],
            )
        log.info("applied migration %s", migration.name)
        applied.append(migration.name)
    return applied
