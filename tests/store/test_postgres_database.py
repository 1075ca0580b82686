"""Opening a PostgreSQL database: the pool, the migrations, what fails and how."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from magpie.store.postgres import PostgresDatabase
from magpie.store.postgres.database import DatabaseUnavailable, redacted
from magpie.store.postgres.migrate import migration_files


def applied(db: PostgresDatabase) -> list[tuple[int, str]]:
    with db.connection() as connection:
        return connection.execute(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        ).fetchall()


def test_a_new_database_gets_every_migration_in_order(pg_url: str) -> None:
    files = migration_files()
    # Numbered in order, each number once (a feature may start a range of its own).
    versions = [f[0] for f in files]
    assert versions == sorted(set(versions)) and versions[0] == 1
    db = PostgresDatabase(pg_url)
    try:
        assert applied(db) == [(version, name) for version, name, _ in files]
        with db.connection() as connection:
            tables = {
                row[0]
                for row in connection.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            }
    finally:
        db.close()
    assert {
        "projects",
        "personal_api_keys",
        "persons",
        "person_distinct_ids",
        "personless_distinct_ids",
        "person_overrides",
        "person_merges",
        "group_type_mapping",
        "groups",
        "ingestion_warnings",
        "queue_positions",
        "dead_letters",
        "ingest_batches",
        "usage_counters",
        "usage_dropped",
        "billing_quotas",
        "billing_pricing",
        "feature_flags",
        "feature_flag_versions",
        "feature_flag_hash_keys",
    } <= tables


def test_processes_starting_together_apply_each_migration_once(pg_url: str) -> None:
    barrier = threading.Barrier(4, timeout=10)
    opened: list[PostgresDatabase] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            opened.append(PostgresDatabase(pg_url, max_size=1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == [] and len(opened) == 4
        assert [v for v, _ in applied(opened[0])] == [f[0] for f in migration_files()]
    finally:
        for db in opened:
            db.close()


def test_reopening_applies_nothing_new(pg_url: str) -> None:
    first = PostgresDatabase(pg_url)
    before = applied(first)
    first.close()
    again = PostgresDatabase(pg_url)
    try:
        assert applied(again) == before
    finally:
        again.close()


def test_an_unreachable_server_is_named_without_its_password() -> None:
    url = "postgresql://magpie:secret@127.0.0.1:1/nowhere"
    with pytest.raises(DatabaseUnavailable) as raised:
        PostgresDatabase(url, connect_timeout=0.5)
    assert "secret" not in str(raised.value)
    assert "magpie:***@127.0.0.1:1/nowhere" in str(raised.value)
    assert "MAGPIE_DATABASE_URL" in str(raised.value)


def test_redacted_keeps_a_url_without_password() -> None:
    assert redacted("postgresql://postgres@db:5432/m") == "postgresql://postgres@db:5432/m"


def test_databases_of_two_tests_are_apart(new_database: Callable[[], str]) -> None:
    first, second = PostgresDatabase(new_database()), PostgresDatabase(new_database())
    try:
        with first.connection() as connection:
            connection.execute("INSERT INTO queue_positions VALUES ('ingest', 5)")
        with second.connection() as connection:
            assert connection.execute("SELECT count(*) FROM queue_positions").fetchone() == (0,)
    finally:
        first.close()
        second.close()


def test_a_migration_numbered_below_one_already_applied_is_still_applied(pg_url: str) -> None:
    """Branches land in any order: a lower number that arrives later must run."""
    PostgresDatabase(pg_url).close()
    latest = migration_files()[-1][0]
    db = PostgresDatabase(pg_url)
    try:
        with db.connection() as connection:
            connection.execute(
                "DROP TABLE feature_flag_versions, feature_flag_hash_keys, feature_flags"
            )
            connection.execute("DELETE FROM schema_migrations WHERE version = 10")
            connection.execute(
                "INSERT INTO schema_migrations VALUES (%s, 'later', now()) ON CONFLICT DO NOTHING",
                (latest + 100,),
            )
    finally:
        db.close()
    db = PostgresDatabase(pg_url)
    try:
        assert (10, "0010_feature_flags.sql") in applied(db)
    finally:
        db.close()
