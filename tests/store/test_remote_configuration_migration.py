"""Migration 0073 on a store that has flags already: they are not remote
configurations, and new ones can be. Runs on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from magpie.store.duckdb.database import Database
from magpie.store.postgres import PostgresDatabase
from tests.store.conftest import make_backend

UNDO_0073 = (
    "ALTER TABLE feature_flags DROP COLUMN is_remote_configuration",
    "DELETE FROM schema_migrations WHERE version = 73",
)


def flag_fields(name: str) -> dict[str, object]:
    return {
        "name": name,
        "filters": {"groups": [{"rollout_percentage": 100}]},
        "active": True,
        "ensure_experience_continuity": False,
        "changed_by": None,
    }


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_flags_made_before_0073_are_not_remote_configurations(
    engine: str, tmp_path: Path, new_database: Callable[[], str]
) -> None:
    url = new_database()
    before = make_backend(engine, tmp_path, lambda: url)
    project = before.stores.projects.create("old").id
    old = before.stores.feature_flags.create(project, "old-flag", **flag_fields("old"))
    # Back to the schema before 0073, as a data folder made by an older Magpie.
    if engine == "duckdb":
        before.close()
        duck = Database(tmp_path / "magpie.duckdb", threads=1, memory_limit="256MB")
        for statement in UNDO_0073:
            duck.cursor().execute(statement)
        duck.close()
    else:
        db = PostgresDatabase(url, max_size=1, migrate=False)
        with db.transaction() as connection:
            for statement in UNDO_0073:
                connection.execute(statement)
        db.close()
        before.close()

    after = make_backend(engine, tmp_path, lambda: url)  # opening applies 0073
    try:
        flags = after.stores.feature_flags
        found = flags.get(project, old.id)
        assert found is not None and found.is_remote_configuration is False
        made = flags.create(project, "config", is_remote_configuration=True, **flag_fields("c"))
        assert flags.get(project, made.id) == made and made.is_remote_configuration
    finally:
        after.close()
