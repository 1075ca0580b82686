"""Connecting to ClickHouse: a server over HTTP, or chdb's in-process engine.

``clickhouse_connect.get_client(dsn="chdb:///path")`` runs the same client code
on an embedded ClickHouse, which is how tests run it; chdb takes one data path
per process, so stores are told apart by database.
"""

from __future__ import annotations

import re

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from magpie.store.clickhouse.migrations import apply_migrations

_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def connect(dsn: str, database: str, *, migrate: bool = True) -> Client:
    """A client on ``database`` (created and migrated if need be, unless ``migrate``
    is false: the database is known to be up to date)."""
    if not _DATABASE_NAME.match(database):
        raise ValueError(f"{database!r} is not a plain ClickHouse database name")
    if migrate:
        bootstrap = clickhouse_connect.get_client(dsn=dsn)
        bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client = clickhouse_connect.get_client(dsn=dsn, database=database)
    if migrate:
        apply_migrations(client)
    return client
