"""The connection pool to Magpie's PostgreSQL database.

Connections are in autocommit mode: a reader's single statement needs no
transaction of its own, and the writers that need one open it explicitly
(``transaction``), so no connection goes back to the pool with one open.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from magpie.errors import recognise_outage
from magpie.store.postgres.migrate import apply_migrations

log = logging.getLogger(__name__)

Connection = psycopg.Connection[TupleRow]


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached at start-up."""


# PostgreSQL's SQLSTATEs for a server going away: shutting down, crashed,
# starting up (recovery).
_SERVER_GONE = frozenset({"57P01", "57P02", "57P03"})


def connection_lost(exc: psycopg.OperationalError) -> bool:
    """Whether the error is the connection's (no server, a restart, a pool with no
    connection to give), not the statement's (a lock wait that timed out, say)."""
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in _SERVER_GONE


@recognise_outage
def _unreachable(exc: BaseException) -> bool:
    """PostgreSQL down or restarting, or no pooled connection free in time: a
    request that meets it answers 503 and the client tries again."""
    if isinstance(exc, PoolTimeout):
        return True
    return isinstance(exc, psycopg.OperationalError) and connection_lost(exc)


def _configure(connection: psycopg.Connection[TupleRow]) -> None:
    # jsonb arrives as text; orjson parses it several times faster than json.
    set_json_loads(orjson.loads, connection)


class PostgresDatabase:
    """A pool of connections to one database, migrated when it opens."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout: float = 10.0,
        migrate: bool = True,
    ) -> None:
        self.url = url
        self.pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, "application_name": "magpie"},
            configure=_configure,
            open=False,
            name="magpie",
        )
        try:
            self.pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout as exc:
            self.pool.close()
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {redacted(url)} (MAGPIE_DATABASE_URL)"
            ) from exc
        if migrate:
            with self.connection() as connection:
                apply_migrations(connection)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with self.pool.connection() as connection:
            yield connection

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on leaving, rolled back on error."""
        with self.connection() as connection, connection.transaction():
            yield connection

    def close(self) -> None:
        self.pool.close()


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + host))
