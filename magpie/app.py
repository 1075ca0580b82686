"""Wiring: one data folder's stores, queue and worker, and the HTTP app on top."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from magpie import access, priority, running
from magpie.accounts import SessionAuthority, load_secret
from magpie.billing.service import BillingService
from magpie.capture.decoder import CaptureLimits
from magpie.capture.gateway import CaptureGateway
from magpie.capture.ratelimit import RateLimit
from magpie.capture.service import Capture, CaptureService
from magpie.clock import Clock, SystemClock
from magpie.cohorts.refresh import CohortRefresher
from magpie.cohorts.service import CohortService
from magpie.credentials import DEFAULT_PROJECT_NAME
from magpie.flags.cohorts import CohortMembership
from magpie.flags.definitions import FlagDefinitions
from magpie.flags.remote import RemoteEvaluation
from magpie.flags.stored_cohorts import StoredCohorts
from magpie.http.api.billing import billing_routes
from magpie.http.api.boards import board_routes
from magpie.http.api.cohorts import cohort_routes
from magpie.http.api.common import ApiContext, api_endpoint, json_response
from magpie.http.api.events import event_routes
from magpie.http.api.feature_flags import feature_flag_routes
from magpie.http.api.flag_definitions import definition_routes
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
from magpie.ingest.worker import IngestWorker
from magpie.queue.local import LocalLog, LogFollower
from magpie.settings import Settings
from magpie.store.duckdb import duckdb_stores
from magpie.store.duckdb.database import Database
from magpie.store.duckdb.query_runner import DuckDBQueryRunner
from magpie.store.model import Project
from magpie.store.tokens import TokenDirectory

log = logging.getLogger(__name__)


class Magpie:
    """The running parts of one data folder."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        rate_limit = RateLimit.from_settings(settings)  # before anything is opened: fail fast
        self.settings = settings
        self.clock = clock or SystemClock()
        make_private(settings.data_dir)
        # The engine's worker threads run queries: below capture, above ingestion.
        self.db = priority.started_lowered(
            priority.QUERIES,
            lambda: Database(
                settings.database_path,
                memory_limit=settings.duckdb_memory_limit,
                threads=settings.duckdb_threads,
                spill_limit=settings.duckdb_spill_limit,
            ),
        )
        self.stores = duckdb_stores(self.db, self.clock)
        self.projects = self.stores.projects
        self.api_keys = self.stores.api_keys
        self.tokens = TokenDirectory(self.projects)
        self.flag_definitions = FlagDefinitions(self.stores.feature_flags)
        self.sessions = SessionAuthority(
            self.stores.sessions, self.clock, load_secret(settings.data_dir / "session.key")
        )
        self.billing = BillingService(self.stores.billing, self.clock, settings.pricing_file)
        self.limits = CaptureLimits(settings.batch_body_limit, settings.event_body_limit)
        self.queue: LocalLog | LogFollower
        self.capture: Capture
        self.gateway: CaptureGateway | None = None
        self.capture_service: CaptureService | None = None  # when capture runs in this process
        # The server's private socket when the capture process is the public front.
        self.api_socket: Path | None = None
        if settings.separate_capture:
            self.queue = LogFollower(settings.queue_dir)
            self.api_socket = _private_socket_path() if settings.capture_front else None
            self.gateway = CaptureGateway(
                settings.queue_dir,
                settings.queue_segment_bytes,
                self.limits,
                self.queue,
                self._token_ids,
                rate_limit,
                front=self._front_config(),
            )
            self.billing.quota_gate.observe(self.gateway.set_limited)
            self.capture = self.gateway
        else:
            self.queue = LocalLog(settings.queue_dir, segment_bytes=settings.queue_segment_bytes)
            self.capture_service = CaptureService(
                self.tokens,
                self.queue,
                self.clock,
                self.limits,
                self.billing.quota_gate,
                rate_limit,
            )
            self.capture = self.capture_service
        self.worker = IngestWorker(
            self.stores.ingest,
            self.queue,
            self.clock,
            max_records=settings.worker_batch_records,
            max_bytes=settings.worker_batch_bytes,
            transaction_events=settings.worker_transaction_events,
            on_batch=self.billing.quota_gate.refresh,
        )
        self.query_runner = DuckDBQueryRunner(
            self.db,
            timeout_seconds=settings.query_timeout_seconds,
            memory_budget_bytes=settings.query_memory_budget,
            concurrency=settings.query_concurrency,
        )
        self.cohorts = CohortService(
            self.stores.cohorts, self.projects, self.query_runner, self.clock
        )
        self.cohort_refresher = CohortRefresher(self.cohorts, settings.cohort_refresh_seconds)
        # What flags ask of cohorts: membership, and which ones properties decide.
        self.flag_cohorts: CohortMembership = StoredCohorts(self.cohorts)
        self.remote_flags = RemoteEvaluation(
            self.stores.feature_flags, self.flag_definitions, self.flag_cohorts, self.clock
        )
        self._started = False

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
        return self.worker.wait_until_caught_up(timeout)

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
            self.worker.start()
            self.cohort_refresher.start()
            self._started = True

    def close(self) -> None:
        """Stop taking events, ingest everything already acknowledged, close the store."""
        if self.capture_service is not None:
            self.capture_service.close()
        self.queue.close()
        if self._started:
            self.cohort_refresher.stop()
            self.worker.stop()
        self.db.close()
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
        return json_response(
            {
                "queue": {
                    "end": magpie.queue.end,
                    "committed": worker.position,
                    "lag_bytes": worker.lag_bytes,
                },
                "worker": vars(worker.stats),
            }
        )

    routes = [
        *capture_routes(magpie.capture, magpie.limits.wire_cap, magpie.settings.trusted_proxies),
        *flags_routes(magpie.tokens, magpie.settings.trusted_proxies, magpie.remote_flags),
        *event_routes(api, magpie.stores.events),
        *person_routes(api, magpie.stores.persons),
        *query_routes(api, magpie.query_runner, magpie.clock),
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
        Route("/_health", health),
        Route("/_readiness", health),
        Route("/_liveness", health),
        *ui_routes(ui),
    ]

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: internal_error},
    )


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
