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
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from clickhouse_connect.driver.client import Client

from magpie import priority
from magpie.clock import Clock
from magpie.errors import ServiceUnavailable
from magpie.query.runner import QueryRunner
from magpie.queue.local import LocalLog
from magpie.settings import Settings, SettingsError
from magpie.store.base import Stores
from magpie.store.clickhouse.cohorts import ClickHouseMembershipCopy
from magpie.store.clickhouse.connection import connect as connect_clickhouse
from magpie.store.clickhouse.event_reader import ClickHouseEventReader
from magpie.store.clickhouse.events import ClickHouseEventWriter
from magpie.store.clickhouse.loader import ClickHouseLoader
from magpie.store.clickhouse.query_runner import ClickHouseQueryRunner
from magpie.store.duckdb import duckdb_stores
from magpie.store.duckdb.database import Database
from magpie.store.duckdb.query_runner import DuckDBQueryRunner
from magpie.store.model import EventFilter, StoredEvent
from magpie.store.postgres import PostgresDatabase, postgres_stores
from magpie.store.postgres.ingest import PostgresIngestStore
from magpie.store.postgres.migrate import exclusively
from magpie.store.postgres.publishing_sink import Publish, PublishingSink

# ClickHouse's schema is migrated under this PostgreSQL advisory lock, so that of
# several processes starting together one migrates and the others wait.
CLICKHOUSE_MIGRATION_LOCK = (0x6D61_6770, 2)
DEFAULT_CLICKHOUSE_DATABASE = "magpie"
# The largest processed-event record published to NATS: below its default
# max_payload (1 MB) with room for the headers.
PROCESSED_RECORD_BYTES = 768 << 10
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


class PartitionedQueue(Protocol):
    """A queue backend at scale (NATS JetStream, ``magpie/queue/nats``): what each
    role takes of it."""

    partitions: int

    def writer(self) -> Any: ...

    def reader(self, partition: int) -> Any: ...

    def consumer(self, partition: int) -> str: ...

    def processed(self) -> Any: ...

    def processed_reader(self) -> Any: ...

    def keeper(self, on_gained: Any, on_lost: Any) -> Any: ...

    def close(self) -> None: ...


def _nats(url: str, settings: Settings) -> PartitionedQueue:
    # Imported only when asked for: embedded Magpie never loads the NATS client.
    from magpie.queue.nats import InvalidQueueUrl, NatsQueue

    try:
        return NatsQueue(url, lease_seconds=settings.queue_lease_seconds)
    except InvalidQueueUrl as exc:
        raise BackendSettingsError(f"MAGPIE_QUEUE_URL: {exc}") from None


# scheme → factory of the queue backend.
QUEUES: dict[str, Callable[[str, Settings], PartitionedQueue]] = {"nats": _nats, "tls": _nats}


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
    query_runner: QueryRunner | None  # None in a process that answers no queries
    duckdb: Database | None = None
    loader: ClickHouseLoader | None = None
    queue: PartitionedQueue | None = None  # None: the local log in the data folder
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


# What a process does. ``magpie serve`` runs them all; ``magpie capture``,
# ``worker``, ``loader`` and ``api`` one each (cluster mode with a NATS queue).
ROLES = frozenset({"capture", "worker", "loader", "api"})


def check_backends(settings: Settings, roles: frozenset[str] = ROLES) -> BackendUrls:
    """``backend_urls``, and whether these roles may run in a process of their own."""
    urls = backend_urls(settings)
    if roles != ROLES and urls.queue is None:
        raise BackendSettingsError(
            "running roles apart needs MAGPIE_QUEUE_URL (nats://) with MAGPIE_EVENTS_URL and"
            " MAGPIE_DATABASE_URL: the local queue has one writer and one reader, so with it"
            " every role runs in `magpie serve`"
        )
    return urls


def open_backends(settings: Settings, clock: Clock, roles: frozenset[str] = ROLES) -> Backends:
    urls = check_backends(settings, roles)
    return MODES[urls.mode](settings, clock, urls, roles)


def _open_embedded(
    settings: Settings, clock: Clock, urls: BackendUrls, roles: frozenset[str]
) -> Backends:
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


# Connections beside the ingest units': API requests, capture's token and quota
# lookups, the loader's batch outcomes, dead letters. Eight served all of them
# when this was the whole pool.
POOL_RESERVE = 8


def pool_size(settings: Settings, roles: frozenset[str], queue: PartitionedQueue | None) -> int:
    """How many PostgreSQL connections this process may need at once.

    An ingest unit holds its connection from the first read of persons until
    its commit, including the wait for NATS to acknowledge its processed
    events. A worker on a partitioned queue may hold every partition (it is
    alone, or the others died), each running a unit at once: a pool smaller
    than that makes units wait for each other's connections, and the API
    behind them, past the pool's timeout. The local queue has one worker.
    """
    if settings.database_pool_size is not None:
        return settings.database_pool_size
    units = 0
    if "worker" in roles:
        units = queue.partitions if queue is not None else 1
    return units + POOL_RESERVE


def _open_cluster(
    settings: Settings, clock: Clock, urls: BackendUrls, roles: frozenset[str]
) -> Backends:
    assert urls.events is not None and urls.database is not None
    target = urls.events
    # chdb is one process's ClickHouse: only the process that queries or loads
    # opens it; a worker asks a ClickHouse server which events are stored.
    events_here = bool(roles & {"api", "loader"}) or not target.in_process
    # And the process that opens chdb is the one that can load it.
    if target.in_process and "api" in roles:
        roles = roles | {"loader"}
    closers: list[Callable[[], None]] = []
    try:
        queue = QUEUES[urlsplit(urls.queue).scheme](urls.queue, settings) if urls.queue else None
        if queue is not None:
            closers.append(queue.close)
        pg = PostgresDatabase(urls.database, max_size=pool_size(settings, roles, queue))
        closers.append(pg.close)
        # Queries, the loader, the worker's lookups and the cohorts' membership copy.
        clients = _clickhouse_clients(pg, target, 4) if events_here else []
        closers.extend(c.close for c in clients)
        if queue is not None:
            publish, processed = _nats_processed(queue, roles)
        else:
            log = LocalLog(settings.processed_dir, segment_bytes=settings.queue_segment_bytes)
            closers.append(log.close)
            publish, processed = (lambda _id, record: log.append_sync(record)), log
        lookups = ClickHouseEventWriter(clients[2]).stored_batches if clients else None
        reader = ClickHouseEventReader(clients[0]) if clients else NoEventStore()
        copy = ClickHouseMembershipCopy(clients[3]) if clients else None
        # NATS takes messages up to its max_payload (1 MB by default).
        limit = PROCESSED_RECORD_BYTES if queue is not None else None
        sink = PublishingSink(publish, lookups, max_record_bytes=limit)
        stores = postgres_stores(pg, clock, reader, sink, copy)
        ingest = stores.ingest
        assert isinstance(ingest, PostgresIngestStore)
        loader = (
            ClickHouseLoader(clients[1], processed, ingest.batch_outcomes)
            if "loader" in roles and processed is not None
            else None
        )
        runner = (
            ClickHouseQueryRunner(
                clients[0],
                target.database,
                timeout_seconds=settings.query_timeout_seconds,
                memory_budget_bytes=settings.query_memory_budget if target.in_process else None,
                concurrency=settings.query_concurrency,
            )
            if "api" in roles
            else None
        )
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    return Backends("cluster", stores, runner, loader=loader, queue=queue, _closers=closers)


def _nats_processed(queue: PartitionedQueue, roles: frozenset[str]) -> tuple[Publish, Any]:
    """Publishing processed events to the queue's stream of them, and reading them
    (in the process that loads ClickHouse)."""
    writer = queue.processed()

    def publish(record_id: str, record: bytes) -> None:
        writer.publish_processed(record_id, record)

    return publish, queue.processed_reader() if "loader" in roles else None


class NoEventStore:
    """The event reader of a process that opens no event store (a worker beside a
    chdb loader): nothing above it reads events there."""

    def list_events(self, where: EventFilter) -> list[StoredEvent]:
        raise ServiceUnavailable("this process reads no events; ask an API process")


def _clickhouse_clients(pg: PostgresDatabase, target: ClickHouseTarget, count: int) -> list[Client]:
    """``count`` clients on the events database, migrated once whoever else starts now."""
    with pg.connection() as connection, exclusively(connection, CLICKHOUSE_MIGRATION_LOCK):
        first = connect_clickhouse(target.dsn, target.database)
    rest = [
        connect_clickhouse(target.dsn, target.database, migrate=False) for _ in range(count - 1)
    ]
    return [first, *rest]


# The pair of stores (events URL set, database URL set) → how they are opened.
MODES: dict[str, Callable[[Settings, Clock, BackendUrls, frozenset[str]], Backends]] = {
    "embedded": _open_embedded,
    "cluster": _open_cluster,
}
