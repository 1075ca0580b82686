"""Cluster mode: membership stored in PostgreSQL is copied to ClickHouse, where
queries join it, and the copy always shows one whole membership."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest

from magpie.clock import FrozenClock
from magpie.query.hogql.compiler import compile_hogql
from magpie.store.clickhouse.cohorts import ClickHouseMembershipCopy
from magpie.store.postgres.cohorts import PostgresCohortStore
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.postgres.projects import PostgresProjectStore
from tests.clickhouse import clickhouse_runner, new_database
from tests.store.conftest import T0

A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))


class FailingCopy:
    def write(
        self,
        project_id: int,
        cohort_id: int,
        version: int,
        members: Sequence[uuid.UUID],
        removed: Sequence[uuid.UUID],
    ) -> None:
        raise ConnectionError("ClickHouse is away")


def test_queries_on_clickhouse_see_the_latest_membership(
    pg_db: PostgresDatabase, chdb_dsn: str
) -> None:
    client, database = new_database(chdb_dsn, "cohorts")
    runner = clickhouse_runner(client, database)
    clock = FrozenClock(T0)
    project = PostgresProjectStore(pg_db, clock).create("p").id
    store = PostgresCohortStore(pg_db, clock, ClickHouseMembershipCopy(client))
    cohort = store.create(project, "c", "", {"properties": {}})

    def copied() -> set[uuid.UUID]:
        query = "SELECT person_id FROM cohort_people WHERE cohort_id = {cohort}"
        compiled = compile_hogql(query, project, {"cohort": cohort.id}, dialect=runner.dialect)
        return {uuid.UUID(str(row[0])) for row in runner.execute(compiled).results}

    store.set_members(project, cohort.id, [A, B], T0)
    assert copied() == {A, B}
    store.set_members(project, cohort.id, [B, C], T0)
    assert copied() == {B, C}
    # Another project's query never sees it.
    other = compile_hogql("SELECT count() FROM cohort_people", project + 1, dialect=runner.dialect)
    assert runner.execute(other).results == [[0]]
    static = store.create(project, "s", "", {}, is_static=True)
    assert store.add_static_members(project, static.id, ["nobody"], T0) == []
    client.command(f"DROP DATABASE IF EXISTS {database}")


def test_a_failed_copy_leaves_the_store_as_it_was(pg_db: PostgresDatabase) -> None:
    clock = FrozenClock(T0)
    project = PostgresProjectStore(pg_db, clock).create("p").id
    good = PostgresCohortStore(pg_db, clock)
    cohort = good.create(project, "c", "", {"properties": {}})
    good.set_members(project, cohort.id, [A], T0)
    failing = PostgresCohortStore(pg_db, clock, FailingCopy())
    with pytest.raises(ConnectionError):
        failing.set_members(project, cohort.id, [B, C], T0)
    assert good.members(project, cohort.id) == [A]
    stored = good.get(project, cohort.id)
    assert stored is not None and stored.version == 1 and stored.count == 1
