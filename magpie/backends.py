"""Which engines hold Magpie's data: chosen by three URLs, built here.

- ``MAGPIE_EVENTS_URL``: ``clickhouse://user:password@host:8123/database``,
  ``clickhouses://`` (TLS), or ``chdb:///path?database=name`` (ClickHouse in
  this process);
- ``MAGPIE_DATABASE_URL``: ``postgresql://user@host:5432/database``;
- ``MAGPIE_QUEUE_URL``: ``nats://host:4222/STREAM``.

Unset means the embedded default in the data folder (DuckDB, the local log).
Each URL's scheme picks a factory from a registry; the pair of stores picks a
mode (``MODES``). Events in ClickHouse need persons in PostgreSQL and the
other way round: the other pairs are refused with a message that names the
settings. docs/deploying.md lists the supported combinations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from clickhouse_connect.driver.client import Client

from magpie import priority
from magpie.clock import Clock
from magpie.query.runner import QueryRunner
from magpie.queue.local import LocalLog
from magpie.settings import Settings, SettingsError
from magpie.store.base import Stores
from magpie.store.clickhouse.connection import connect as connect_clickhouse
from magpie.store.clickhouse.event_reader import ClickHouseEventReader
from magpie.store.clickhouse.events import ClickHouseEventWriter
from magpie.store.clickhouse.loader import ClickHouseLoader
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner
from magpie.store.duckdb import duckdb_stores
from magpie.store.duckdb.database import Database
from magpie.store.duckdb.query_runner import DuckDBQueryRunner
from magpie.store.postgres import PostgresDatabase, postgres_stores
from magpie.store.postgres.ingest import PostgresIngestStore
from magpie.store.postgres.migrate import exclusively
from magpie.store.postgres.publishing_sink import PublishingSink

# ClickHouse's schema is migrated under this PostgreSQL advisory lock, so that of
# several processes starting together one migrates and the others wait.
CLICKHOUSE_MIGRATION_LOCK = (0x6D61_6770, 2)
DEFAULT_CLICKHOUSE_DATABASE = "magpie"
T = TypeVar("T")


class BackendSettingsError(SettingsError):
    """A backend URL Magpie cannot use, or a pair of backends it cannot combine."""


# -- URLs ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClickHouseTarget:
    """Where events live: a DSN for clickhouse-connect and the database in it."""

    dsn: str
    database: str
    in_process: bool  # chdb: only this process may open it


def _clickhouse_server(url: str, *, tls: bool) -> ClickHouseTarget:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError("it names no host")
    database = parts.path.strip("/") or DEFAULT_CLICKHOUSE_DATABASE
    query = parse_qs(parts.query)
    if tls:
        query["secure"] = ["true"]
    dsn = urlunsplit(("clickhouse", parts.netloc, "", urlencode(query, doseq=True), ""))
    return ClickHouseTarget(dsn, database, in_process=False)


def _chdb(url: str) -> ClickHouseTarget:
    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/"):
        raise ValueError("write it chdb:///absolute/path (three slashes)")
    database = parse_qs(parts.query).get("database", [DEFAULT_CLICKHOUSE_DATABASE])[0]
    return ClickHouseTarget(f"chdb://{parts.path}", database, in_process=True)


def _postgres(url: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError("it names no host")
    if not parts.path.strip("/"):
        raise ValueError("it names no database (postgresql://user@host:5432/DATABASE)")
    return url


EVENT_STORES: dict[str, Callable[[str], ClickHouseTarget]] = {
    "clickhouse": lambda url: _clickhouse_server(url, tls=False),
    "clickhouses": lambda url: _clickhouse_server(url, tls=True),
    "chdb": _chdb,
}
DATABASES: dict[str, Callable[[str], str]] = {"postgresql": _postgres, "postgres": _postgres}


class QueueFactory(Protocol):
    """Opens a queue backend from its URL (registered by the queue package)."""

    def __call__(self, url: str, settings: Settings) -> object: ...


# Filled by the queue packages that exist (NATS JetStream): scheme → factory.
QUEUES: dict[str, QueueFactory] = {}


def _scheme(variable: str, url: str, known: Iterable[str]) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in known:
        names = ", ".join(f"{s}://" for s in known) or "none in this build"
        raise BackendSettingsError(
            f"{variable}={_redacted(url)!r}: unknown scheme {scheme!r} (use {names})"
        )
    return scheme


def _parsed(variable: str, url: str, registry: Mapping[str, Callable[[str], T]]) -> T:
    try:
        return registry[_scheme(variable, url, registry)](url)
    except ValueError as exc:
        raise BackendSettingsError(f"{variable}={_redacted(url)!r} is not valid: {exc}") from None


@dataclass(frozen=True)
class BackendUrls:
    events: ClickHouseTarget | None
    database: str | None
    queue: str | None

    @property
    def mode(self) -> str:
        return "embedded" if self.events is None else "cluster"


def backend_urls(settings: Settings) -> BackendUrls:
    """The settings' backend URLs, checked: a bad URL or an unsupported pair fails
    here, before anything is opened."""
    events = (
        _parsed("MAGPIE_EVENTS_URL", settings.events_url, EVENT_STORES)
        if settings.events_url
        else None
    )
    database = (
        _parsed("MAGPIE_DATABASE_URL", settings.database_url, DATABASES)
        if settings.database_url
        else None
    )
    queue = settings.queue_url or None
    if queue is not None:
        _scheme("MAGPIE_QUEUE_URL", queue, QUEUES)  # the queue package checks the rest
    if (events is None) != (database is None):
        missing = "MAGPIE_DATABASE_URL" if database is None else "MAGPIE_EVENTS_URL"
        raise BackendSettingsError(
            "MAGPIE_EVENTS_URL and MAGPIE_DATABASE_URL go together: events in ClickHouse"
            " need persons and metadata in PostgreSQL and the other way round; set"
            f" {missing} too, or neither for the embedded store"
        )
    if queue is not None and events is None:
        raise BackendSettingsError(
            "MAGPIE_QUEUE_URL needs MAGPIE_EVENTS_URL and MAGPIE_DATABASE_URL: the embedded"
            " store keeps its queue position in its own file, so it reads the local queue"
        )
    return BackendUrls(events, database, queue)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


# -- opening ---------------------------------------------------------------------


@dataclass
class Backends:
    """One process's stores and query runner, and the work that keeps them fed
    beside the ingest worker (the ClickHouse loader in cluster mode)."""

    mode: str
    stores: Stores
    query_runner: QueryRunner
    duckdb: Database | None = None
    loader: ClickHouseLoader | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        if self.loader is not None:
            self.loader.start()

    def wait_until_caught_up(self, timeout: float = 10.0) -> bool:
        """Everything the worker has committed so far is visible to queries."""
        return self.loader is None or self.loader.wait_until_caught_up(timeout)

    def stop(self) -> None:
        """After the worker has stopped: load what it left, then close."""
        if self.loader is not None:
            self.loader.stop()
        for close in reversed(self._closers):
            close()
        self._closers.clear()


def open_backends(settings: Settings, clock: Clock) -> Backends:
    urls = backend_urls(settings)
    return MODES[urls.mode](settings, clock, urls)


def _open_embedded(settings: Settings, clock: Clock, urls: BackendUrls) -> Backends:
    # The engine's worker threads run queries: below capture, above ingestion.
    db = priority.started_lowered(
        priority.QUERIES,
        lambda: Database(
            settings.database_path,
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
            spill_limit=settings.duckdb_spill_limit,
        ),
    )
    runner = DuckDBQueryRunner(
        db,
        timeout_seconds=settings.query_timeout_seconds,
        memory_budget_bytes=settings.query_memory_budget,
        concurrency=settings.query_concurrency,
    )
    return Backends("embedded", duckdb_stores(db, clock), runner, duckdb=db, _closers=[db.close])


def _open_cluster(settings: Settings, clock: Clock, urls: BackendUrls) -> Backends:
    assert urls.events is not None and urls.database is not None
    target = urls.events
    closers: list[Callable[[], None]] = []
    try:
        pg = PostgresDatabase(urls.database)
        closers.append(pg.close)
        clients = _clickhouse_clients(pg, target, 3)
        closers.extend(c.close for c in clients)
        queries, loading, lookups = clients
        processed = LocalLog(settings.processed_dir, segment_bytes=settings.queue_segment_bytes)
        closers.append(processed.close)
        sink = PublishingSink(
            lambda _id, record: processed.append_sync(record),
            ClickHouseEventWriter(lookups).stored_batches,
        )
        stores = postgres_stores(pg, clock, ClickHouseEventReader(queries), sink)
        ingest = stores.ingest
        assert isinstance(ingest, PostgresIngestStore)
        loader = ClickHouseLoader(loading, processed, ingest.batch_outcomes)
        runner = ClickHouseQueryRunner(
            queries,
            target.database,
            timeout_seconds=settings.query_timeout_seconds,
            memory_budget_bytes=settings.query_memory_budget if target.in_process else None,
            concurrency=settings.query_concurrency,
        )
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    return Backends("cluster", stores, runner, loader=loader, _closers=closers)


def _clickhouse_clients(pg: PostgresDatabase, target: ClickHouseTarget, count: int) -> list[Client]:
    """``count`` clients on the events database, migrated once whoever else starts now."""
    with pg.connection() as connection, exclusively(connection, CLICKHOUSE_MIGRATION_LOCK):
        first = connect_clickhouse(target.dsn, target.database)
    rest = [
        connect_clickhouse(target.dsn, target.database, migrate=False) for _ in range(count - 1)
    ]
    return [first, *rest]


# The pair of stores (events URL set, database URL set) → how they are opened.
MODES: dict[str, Callable[[Settings, Clock, BackendUrls], Backends]] = {
    "embedded": _open_embedded,
    "cluster": _open_cluster,
}
