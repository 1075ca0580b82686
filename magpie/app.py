"""Wiring: one data folder's stores, queue and worker, and the HTTP app on top."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from magpie import access, running
from magpie.accounts import SessionAuthority, load_secret
from magpie.backends import ROLES, PartitionedQueue, check_backends, open_backends
from magpie.billing.service import BillingService
from magpie.capture.decoder import CaptureLimits
from magpie.capture.gateway import CaptureGateway
from magpie.capture.ratelimit import RateLimit
from magpie.capture.service import Capture, CaptureService
from magpie.clock import Clock, SystemClock
from magpie.cohorts.refresh import CohortRefresher
from magpie.cohorts.service import CohortService
from magpie.cohorts.stored import StoredMembership
from magpie.credentials import DEFAULT_PROJECT_NAME
from magpie.flags.cohorts import CohortMembership
from magpie.flags.context_cache import ContextCache
from magpie.flags.definitions import FlagDefinitions
from magpie.flags.remote import KeptSources, RemoteEvaluation
from magpie.flags.stored_cohorts import StoredCohorts
from magpie.http.api.actions import action_routes
from magpie.http.api.billing import billing_routes
from magpie.http.api.boards import board_routes
from magpie.http.api.cohorts import cohort_routes
from magpie.http.api.common import ApiContext, api_endpoint, json_response
from magpie.http.api.events import event_routes
from magpie.http.api.feature_flags import feature_flag_routes
from magpie.http.api.flag_definitions import definition_routes
from magpie.http.api.groups import group_routes
from magpie.http.api.keys import key_routes
from magpie.http.api.persons import person_routes
from magpie.http.api.projects import project_routes
from magpie.http.api.query import query_routes
from magpie.http.api.schema import schema_routes
from magpie.http.api.users import user_routes
from magpie.http.capture import capture_routes
from magpie.http.errors import http_error, install_id_convertor, internal_error
from magpie.http.flags import flags_routes
from magpie.http.front import trust_front
from magpie.http.throttle import FailureLimiter
from magpie.http.ui.routes import UiContext, ui_routes
from magpie.ingest.partitioned import Committed, PartitionedWorkers
from magpie.ingest.worker import CONSUMER, IngestWorker
from magpie.query.runner import QueryRunner
from magpie.queue import QueueReader, QueueWriter
from magpie.queue.local import LocalLog, LogFollower
from magpie.settings import Settings
from magpie.store.model import Project
from magpie.store.tokens import TokenDirectory

if TYPE_CHECKING:
    from magpie.store.duckdb.database import Database

log = logging.getLogger(__name__)


class Magpie:
    """The running parts of one data folder."""

    def __init__(
        self, settings: Settings, clock: Clock | None = None, roles: frozenset[str] = ROLES
    ) -> None:
        """``roles``: what this process does (``backends.ROLES``); all of them unless a
        role runs apart (``magpie capture``, ``worker``, ``loader``, ``api``)."""
        rate_limit = RateLimit.from_settings(settings)  # before anything is opened: fail fast
        self.settings = settings
        self.clock = clock or SystemClock()
        self.roles = roles
        check_backends(settings, roles)  # a bad URL fails before anything is opened
        make_private(settings.data_dir)
        self.backends = open_backends(settings, self.clock, roles)
        self.stores = self.backends.stores
        self.projects = self.stores.projects
        self.api_keys = self.stores.api_keys
        self.tokens = TokenDirectory(self.projects)
        self.flag_definitions = FlagDefinitions(self.stores.feature_flags)
        # What flags ask of cohorts, from their stored membership: any process
        # that evaluates flags can answer, whether or not it computes cohorts.
        self.cohort_membership = StoredMembership(self.stores.cohorts)
        stored_cohorts = StoredCohorts(self.cohort_membership)
        self.flag_cohorts: CohortMembership = stored_cohorts
        # What /flags reads of persons and groups is kept in memory only where every
        # write to them passes through this process (the embedded server's worker
        # tells it each commit's changes); in cluster mode workers run elsewhere.
        self.flag_context: ContextCache | None = (
            ContextCache(self.stores.feature_flags) if self.backends.queue is None else None
        )
        self.remote_flags = RemoteEvaluation(
            self.flag_context or self.stores.feature_flags,
            self.flag_definitions,
            self.flag_cohorts,
            self.clock,
            # With everything kept in memory, /flags evaluates on the event loop.
            kept=(
                KeptSources(self.flag_context, stored_cohorts.kept_only())
                if self.flag_context is not None
                else None
            ),
        )
        self.sessions = SessionAuthority(
            self.stores.sessions, self.clock, load_secret(settings.data_dir / "session.key")
        )
        self.billing = BillingService(self.stores.billing, self.clock, settings.pricing_file)
        self.limits = CaptureLimits(settings.batch_body_limit, settings.event_body_limit)
        self.queue: QueueWriter | LocalLog | LogFollower
        self.capture: Capture
        self.worker: IngestWorker | PartitionedWorkers | None = None
        self.gateway: CaptureGateway | None = None
        self.capture_service: CaptureService | None = None  # when capture runs in this process
        # The server's private socket when the capture process is the public front.
        self.api_socket: Path | None = None
        if self.backends.queue is not None:
            self._partitioned_ingestion(self.backends.queue, rate_limit)
        else:
            self._local_ingestion(rate_limit)
        # Cohorts are computed where queries are answered.
        self._cohorts: CohortService | None = None
        self._cohort_refresher: CohortRefresher | None = None
        if self.backends.query_runner is not None:
            self._cohorts = CohortService(
                self.stores.cohorts,
                self.projects,
                self.backends.query_runner,
                self.clock,
                self.cohort_membership,
                actions=self.stores.actions,
            )
            self._cohort_refresher = CohortRefresher(self._cohorts, settings.cohort_refresh_seconds)
        self._started = False

    def _local_ingestion(self, rate_limit: RateLimit | None) -> None:
        """The local log in the data folder: capture (in a process of its own on two
        cores or more) appends, one worker in this process reads."""
        settings = self.settings
        if settings.separate_capture:
            follower = LogFollower(settings.queue_dir)
            self.queue = follower
            self.api_socket = _private_socket_path() if settings.capture_front else None
            self.gateway = CaptureGateway(
                settings.queue_dir,
                settings.queue_segment_bytes,
                self.limits,
                follower,
                self._token_ids,
                rate_limit,
                front=self._front_config(),
            )
            self.billing.quota_gate.observe(self.gateway.set_limited)
            self.capture = self.gateway
            reader: LocalLog | LogFollower = follower
        else:
            reader = LocalLog(settings.queue_dir, segment_bytes=settings.queue_segment_bytes)
            self.queue = reader
            self.capture_service = CaptureService(
                self.tokens,
                reader,
                self.clock,
                self.limits,
                self.billing.quota_gate,
                rate_limit,
            )
            self.capture = self.capture_service
        self.worker = self._worker(reader)

    def _partitioned_ingestion(self, queue: PartitionedQueue, rate_limit: RateLimit | None) -> None:
        """NATS JetStream: capture publishes in this process; a worker runs for each
        partition this process holds the lease of."""
        writer: QueueWriter = queue.writer()
        self.queue = writer
        self.capture_service = CaptureService(
            self.tokens, writer, self.clock, self.limits, self.billing.quota_gate, rate_limit
        )
        self.capture = self.capture_service
        if "worker" in self.roles:
            self.worker = PartitionedWorkers(
                lambda partition, fence: self._worker(
                    queue.reader(partition), queue.consumer(partition), fence
                ),
                queue.keeper,
                queue.partitions,
                self._committed_partitions(queue),
                _partition_ends(queue),
            )

    def _committed_partitions(self, queue: PartitionedQueue) -> Committed:
        ingest = self.stores.ingest

        def committed(partitions: list[int]) -> dict[int, int]:
            by_consumer = ingest.committed_positions([queue.consumer(p) for p in partitions])
            return {p: by_consumer[queue.consumer(p)] for p in partitions}

        return committed

    def _worker(
        self,
        reader: QueueReader,
        consumer: str = CONSUMER,
        before_commit: Callable[[], None] | None = None,
    ) -> IngestWorker:
        settings = self.settings
        return IngestWorker(
            self.stores.ingest,
            reader,
            self.clock,
            max_records=settings.worker_batch_records,
            max_bytes=settings.worker_batch_bytes,
            transaction_events=settings.worker_transaction_events,
            on_batch=self.billing.quota_gate.refresh,
            consumer=consumer,
            before_commit=before_commit,
            on_commit=self.flag_context.changed if self.flag_context is not None else None,
        )

    @property
    def query_runner(self) -> QueryRunner:
        runner = self.backends.query_runner
        if runner is None:
            raise AttributeError("this process answers no queries (it runs no api role)")
        return runner

    @property
    def cohorts(self) -> CohortService:
        if self._cohorts is None:
            raise AttributeError("this process computes no cohorts (it runs no api role)")
        return self._cohorts

    @property
    def db(self) -> Database:
        """The embedded store's DuckDB file (tests and benchmarks read it directly)."""
        if self.backends.duckdb is None:
            raise AttributeError(f"no DuckDB file in {self.backends.mode} mode")
        return self.backends.duckdb

    def _front_config(self) -> dict[str, Any] | None:
        if self.api_socket is None:
            return None
        return {
            "host": self.settings.host,
            "port": self.settings.port,
            "trusted_proxies": [str(n) for n in self.settings.trusted_proxies],
            "api_socket": str(self.api_socket),
        }

    def wait_until_caught_up(self, timeout: float = 10.0) -> bool:
        """Block until every event acknowledged so far is stored (tests, CLI)."""
        if self.gateway is not None:
            self.gateway.sync_from_thread(timeout)
        worker_done = self.worker is None or self.worker.wait_until_caught_up(timeout)
        return worker_done and self.backends.wait_until_caught_up(timeout)

    def _token_ids(self) -> dict[str, int]:
        return {project.api_token: project.id for project in self.projects.all()}

    def create_project(self, name: str, timezone: str = "UTC") -> Project:
        """A new project whose token capture accepts at once."""
        project = access.create_project(self.projects, name, timezone)
        self.tokens.forget_misses()
        if self.gateway is not None:
            self.gateway.refresh_tokens()
        return project

    async def start_serving(self) -> None:
        """Start the capture process (if any), then ingestion."""
        if self.gateway is not None:
            await self.gateway.start()
        self.start()

    async def stop_serving(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        self.close()

    def start(self) -> None:
        if not self._started:
            self.billing.quota_gate.refresh_all()
            self.backends.start()
            if self.worker is not None:
                self.worker.start()
            if self._cohort_refresher is not None:
                self._cohort_refresher.start()
            self._started = True

    def close(self) -> None:
        """Stop taking events, ingest everything already acknowledged, close the store."""
        if self.capture_service is not None:
            self.capture_service.close()
        self.queue.close()
        if self._started and self._cohort_refresher is not None:
            self._cohort_refresher.stop()
        if self._started and self.worker is not None:
            self.worker.stop()
        self.backends.stop()
        if self.api_socket is not None:
            shutil.rmtree(self.api_socket.parent, ignore_errors=True)


def _private_socket_path() -> Path:
    """A socket path short enough for AF_UNIX (108 bytes), in a folder only we enter."""
    return Path(tempfile.mkdtemp(prefix="magpie-")) / "api.sock"


def make_private(data_dir: Path) -> None:
    """The data folder holds every project's events and the credentials: only the
    server's user may enter it, and files created in it are the user's alone."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    os.umask(0o077)
    for path in data_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o700)


def create_app(magpie: Magpie) -> Starlette:
    install_id_convertor()
    failures = FailureLimiter()  # failed keys, sessions and logins, per client address
    api = ApiContext(
        magpie.api_keys,
        magpie.projects,
        magpie.clock,
        trusted_proxies=magpie.settings.trusted_proxies,
        failures=failures,
        sessions=magpie.sessions,
        tokens=magpie.tokens,
    )
    ui = UiContext(
        magpie.stores.users,
        magpie.projects,
        magpie.sessions,
        trusted_proxies=magpie.settings.trusted_proxies,
        failures=failures,
        first_project=lambda: magpie.create_project(DEFAULT_PROJECT_NAME).id,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await magpie.start_serving()
        running.announce(magpie.settings.data_dir, magpie.settings.local_url)
        try:
            yield
        finally:
            running.withdraw(magpie.settings.data_dir)
            await magpie.stop_serving()

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    def ingestion_status(request: Request, body: object) -> Response:
        worker = magpie.worker
        status: dict[str, object] = {}
        if worker is not None:  # else workers run in processes of their own
            status["queue"] = worker.queue_status()
            status["worker"] = vars(worker.stats)
        loader = magpie.backends.loader
        if loader is not None:  # cluster mode: how far ClickHouse has been loaded
            status["loader"] = {
                "position": loader.position,
                "events_loaded": loader.events_loaded,
                "batches_skipped": loader.batches_skipped,
            }
        return json_response(status)

    # The SDKs' side (capture, flags) and the API's side, as this process's roles say.
    # /flags first: the server process answers it many times a second, and every
    # route before it is tried in turn (their paths are distinct, so the order
    # changes nothing else).
    sdk_routes = [
        *flags_routes(magpie.tokens, magpie.settings.trusted_proxies, magpie.remote_flags),
        *capture_routes(magpie.capture, magpie.limits.wire_cap, magpie.settings.trusted_proxies),
    ]

    def api_routes() -> list[BaseRoute]:
        return [
            *event_routes(api, magpie.stores.events),
            *person_routes(api, magpie.stores.persons),
            *group_routes(api, magpie.stores.groups),
            *query_routes(api, magpie.query_runner, magpie.clock, magpie.stores.actions),
            *action_routes(api, magpie.stores.actions, magpie.clock),
            *project_routes(api, magpie.projects, magpie.create_project),
            *key_routes(api, magpie.api_keys, magpie.projects),
            *billing_routes(api, magpie.billing),
            *board_routes(api, magpie.stores.insights, magpie.stores.dashboards),
            *cohort_routes(api, magpie.cohorts, magpie.stores.persons),
            *feature_flag_routes(
                api,
                magpie.stores.feature_flags,
                magpie.flag_definitions,
                magpie.query_runner,
                magpie.clock,
                magpie.flag_cohorts,
            ),
            *definition_routes(
                api,
                magpie.tokens,
                magpie.stores.feature_flags,
                magpie.flag_definitions,
                magpie.flag_cohorts,
            ),
            *user_routes(api, magpie.stores.users),
            *schema_routes(),
            Route(
                "/api/ingestion/status/",
                api_endpoint(api, ingestion_status, scope="ingestion:read", server_wide=True),
            ),
            *ui_routes(ui),
        ]

    routes: list[BaseRoute] = [
        *(sdk_routes if "capture" in magpie.roles else []),
        Route("/_health", health),
        Route("/_readiness", health),
        Route("/_liveness", health),
        *(api_routes() if "api" in magpie.roles else []),
    ]

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: internal_error},
    )


def _partition_ends(queue: PartitionedQueue) -> Callable[[int], int]:
    """Where each partition ends, through a reader of its own kept per partition
    (made once: a reader checks its stream on first use)."""
    readers: dict[int, Any] = {}

    def end(partition: int) -> int:
        reader = readers.get(partition)
        if reader is None:
            reader = readers[partition] = queue.reader(partition)
        return int(reader.end)

    return end


def tune_interpreter(settings: Settings) -> None:
    """Python settings for a server whose ingest worker is CPU-bound Python.

    Requests hop between the event loop and the ingest worker's thread, and
    each hop waits for the interpreter lock: a short switch interval keeps
    those waits small. The worker holds tens of thousands of live, acyclic
    objects (a chunk of parsed events) that reference counting frees; a full
    collection would scan every long-lived object while every thread waits.
    Young collections run on their own (the middle generation too, so cyclic
    garbage from requests does not pile up); the worker collects fully when
    it is idle.
    """
    sys.setswitchinterval(settings.switch_interval_seconds)
    gc.freeze()  # what start-up created is there for good: never scan it again
    gc.set_threshold(50_000, 20, 1_000_000)


def server_config(magpie: Magpie, *, log_level: str | None = None) -> uvicorn.Config:
    """uvicorn settings for serving ``magpie``.

    uvicorn's own proxy-header handling is off: Magpie decides which peers may
    set the client address (MAGPIE_TRUSTED_PROXIES), not uvicorn.
    """
    settings = magpie.settings
    # Behind the capture process's front, the server listens on its private
    # socket only, and learns each client's address from the front.
    address: dict[str, Any] = (
        {"uds": str(magpie.api_socket)}
        if magpie.api_socket is not None
        else {"host": settings.host, "port": settings.port}
    )
    app = create_app(magpie)
    return uvicorn.Config(
        trust_front(app) if magpie.api_socket is not None else app,
        **address,
        log_level=log_level or settings.log_level,
        access_log=False,
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
