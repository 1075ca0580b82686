"""What every private API handler shares: authentication, errors, parameters, JSON."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import orjson
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from magpie import priority, scopes
from magpie.accounts import LoggedIn, SessionAuthority
from magpie.capture.timestamps import parse_timestamp
from magpie.clock import Clock, utc_naive
from magpie.errors import (
    CurrentProjectUnknown,
    InvalidInput,
    MagpieError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Throttled,
    as_outage,
)
from magpie.http.forms import parse_form
from magpie.http.requests import Network, client_ip, read_body
from magpie.http.throttle import FailureLimiter
from magpie.store.base import ApiKeyStore, ProjectStore
from magpie.store.model import ApiKey, Project
from magpie.store.state import MAX_GROUP_TYPES
from magpie.store.tokens import TokenDirectory

Model = TypeVar("Model", bound=BaseModel)

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
# API handlers are plain functions of the request and its JSON body: they run in
# a worker thread, so a slow query never blocks capture on the event loop.
SyncHandler = Callable[[Request, Any], Response]
MAX_API_BODY = 10 * 1024 * 1024
# Methods that only read: a route declared with a scope object ("billing")
# needs its read scope for these and its write scope for the others.
_READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "magpie_session"
CSRF_HEADER = "x-csrftoken"  # the header Django and PostHog's front end send
# A project id in a path that names "the project this request is about"
# (posthog-python's remote config asks /api/projects/@current/...).
CURRENT_PROJECT = "@current"


@dataclass(frozen=True)
class SessionKey(ApiKey):
    """A logged-in web UI user, seen by the API as a key with every scope on every
    project: the session passes the same checks as a personal API key."""

    logged_in: LoggedIn | None = None


def session_key(logged_in: LoggedIn) -> SessionKey:
    user = logged_in.user
    return SessionKey(
        id=f"session:{user.id}",
        label=user.email,
        mask_value="",
        scopes=(scopes.ALL,),
        scoped_teams=(),
        created_at=user.created_at,
        logged_in=logged_in,
    )


@dataclass(frozen=True)
class Access:
    """What a route asks of the key that calls it; declared with the route."""

    # "object:action", or "object": read for GET, write for the other methods.
    scope: str
    # The route acts on, or shows, every project (the price list, the ingest
    # queue, creating a project): only a key that reaches every project may call it.
    server_wide: bool = False

    def __post_init__(self) -> None:
        if not scopes.is_scope(self.scope if ":" in self.scope else f"{self.scope}:read"):
            raise ValueError(f"not a scope or scope object: {self.scope!r}")

    def scope_for(self, method: str) -> str:
        if ":" in self.scope:
            return self.scope
        return f"{self.scope}:{'read' if method in _READING_METHODS else 'write'}"


class ApiContext:
    """The services API handlers need, and the checks they all make.

    Valid keys are kept in memory after their first use; revoking a key
    through ``forget`` drops it at once.
    """

    # last_used_at is written at most this often per key: a write per request
    # would contend with ingestion for nothing.
    TOUCH_INTERVAL = timedelta(hours=1)

    def __init__(
        self,
        api_keys: ApiKeyStore,
        projects: ProjectStore,
        clock: Clock,
        *,
        trusted_proxies: Sequence[Network] = (),
        failures: FailureLimiter | None = None,
        sessions: SessionAuthority | None = None,
        tokens: TokenDirectory | None = None,
    ) -> None:
        self._api_keys = api_keys
        self._tokens = tokens or TokenDirectory(projects)
        self._sessions = sessions
        self._projects = projects
        self._clock = clock
        self._trusted_proxies = trusted_proxies
        self._failures = failures or FailureLimiter()
        self._valid_keys: dict[str, ApiKey] = {}
        self._last_used: dict[str, datetime] = {}
        self._lock = threading.Lock()
        # Bumped by forget(): a lookup that started before a revocation must
        # not put the revoked key back into the cache.
        self._generation = 0

    def admit(self, request: Request, access: Access) -> None:
        """Authenticate, then authorize (in a worker thread: both may read the store)."""
        self.authenticate(request)
        self.authorize(request, access)

    def authenticate(self, request: Request) -> ApiKey:
        """The request's key; failures are counted per client address."""
        try:
            key = self._identify(request)
        except NotAuthenticated:
            address = client_ip(request, self._trusted_proxies) or "unknown"
            wait = self._failures.failed(address)
            if wait is not None:
                raise Throttled(
                    f"too many failed authentications; try again in {wait} seconds",
                    retry_after=wait,
                ) from None
            raise
        request.state.api_key = key
        return key

    def _identify(self, request: Request) -> ApiKey:
        cookie = request.cookies.get(SESSION_COOKIE)
        if "authorization" not in request.headers and cookie and self._sessions is not None:
            return self._from_session(request, cookie)
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise NotAuthenticated("send a personal API key as 'Authorization: Bearer phx_...'")
        if value.startswith("phc_"):
            raise NotAuthenticated(
                "a project token can only send events; reading needs a personal API key (phx_)"
            )
        key = self._valid_keys.get(value)
        if key is not None:
            return key
        generation = self._generation
        key = self._api_keys.find(value)
        if key is None:
            raise NotAuthenticated("this personal API key is not valid")
        with self._lock:
            if generation == self._generation:
                self._valid_keys[value] = key
        return key

    def _from_session(self, request: Request, cookie: str) -> ApiKey:
        assert self._sessions is not None
        logged_in = self._sessions.find(cookie)
        if logged_in is None:
            raise NotAuthenticated("your session has ended: log in again")
        # A browser sends the cookie with any site's form or fetch; only Magpie's
        # own pages know the CSRF token to send with it.
        if request.method not in _READING_METHODS and not self._sessions.csrf_ok(
            logged_in, request.headers.get(CSRF_HEADER)
        ):
            raise PermissionDenied(
                "CSRF token missing or wrong: reload the page", attr="csrf_token"
            )
        return session_key(logged_in)

    def authorize(self, request: Request, access: Access) -> None:
        """404 for a project the key does not reach, 403 for a scope it lacks."""
        key = self.key(request)
        raw = request.path_params.get("project_id")
        if raw is not None:
            request.state.project = self._path_project(request, key, raw)
        if access.server_wide and not key.reaches_every_project:
            raise PermissionDenied(
                "this key reaches only some projects; this needs a key that reaches every project"
            )
        scope = access.scope_for(request.method)
        if not key.allows(scope):
            raise PermissionDenied(f"API key missing required scope '{scope}'")
        self._touch(key)

    def key(self, request: Request) -> ApiKey:
        key = getattr(request.state, "api_key", None)
        if not isinstance(key, ApiKey):
            raise NotAuthenticated("send a personal API key as 'Authorization: Bearer phx_...'")
        return key

    def project(self, request: Request) -> Project:
        """The path's project, which the request's key reaches."""
        project = getattr(request.state, "project", None)
        if isinstance(project, Project):
            return project
        return self._path_project(request, self.key(request), request.path_params.get("project_id"))

    def forget(self, key_id: str) -> None:
        """Stop accepting a revoked key at once."""
        with self._lock:
            self._generation += 1
            self._valid_keys = {v: k for v, k in self._valid_keys.items() if k.id != key_id}
            self._last_used.pop(key_id, None)

    def _path_project(self, request: Request, key: ApiKey, raw: object) -> Project:
        if raw == CURRENT_PROJECT:
            return self._current(request, key)
        return self._reachable(key, raw)

    def _current(self, request: Request, key: ApiKey) -> Project:
        """``@current``: the project of ``?token=`` when it is sent (PostHog's SDKs
        send it so that a key reaching several projects still names one), else
        the only project the key reaches."""
        token = text_param(request, "token")
        if token is not None:
            project_id = self._tokens.project_id(token)
            # Not reachable answers as unknown: a token must not reveal its project.
            if project_id is None or not key.reaches(project_id):
                raise NotFound("no project with this token that this key can reach")
            # Read as for a numeric id: the directory's copy of the project is
            # kept for routing events and does not follow changes to its settings.
            return self._reachable(key, project_id)
        if key.reaches_every_project:
            candidates = [p.id for p in self._projects.all()]
        else:
            candidates = list(dict.fromkeys(key.scoped_teams))
        if len(candidates) == 1:
            return self._reachable(key, candidates[0])
        raise CurrentProjectUnknown(
            f"@current names no single project: this key reaches {len(candidates)};"
            " send the project's token as ?token=phc_... or use its id",
            attr="token",
        )

    def _reachable(self, key: ApiKey, raw: object) -> Project:
        # A project the key does not reach answers exactly as one that does
        # not exist: the answer must not tell which projects exist.
        project = None
        if isinstance(raw, int) and key.reaches(raw):
            project = self._projects.get(raw)
        if project is None:
            raise NotFound(f"project {raw} does not exist or this key cannot reach it")
        return project

    def _touch(self, key: ApiKey) -> None:
        if isinstance(key, SessionKey):
            return  # a session is not a stored key
        now = utc_naive(self._clock.now())
        with self._lock:
            last = self._last_used.get(key.id, key.last_used_at)
            if last is not None and now - last < self.TOUCH_INTERVAL:
                return
            # Claimed before writing, so concurrent requests do not all write
            # the same row (DuckDB would refuse all but one).
            self._last_used[key.id] = now
        try:
            self._api_keys.touch(key)
        except Exception:
            # last_used_at is for people reviewing keys; a request never fails for it.
            log.warning("could not record the use of key %s", key.id, exc_info=True)


class ApiEndpoint:
    """One route's handler behind the checks every API route makes.

    Starlette calls ``serve``; ``access`` stays readable on the route, so the
    routes can be enumerated with what each one requires.
    """

    def __init__(self, context: ApiContext, handler: SyncHandler, access: Access) -> None:
        self.context = context
        self.handler = handler
        self.access = access

    def _lowered(self, request: Request, body: Any) -> Response:
        # Handlers run queries: below capture in CPU priority (magpie/priority.py).
        priority.lower(priority.QUERIES)
        return self.handler(request, body)

    async def serve(self, request: Request) -> Response:
        """Authenticates, authorizes, reads the JSON body, runs the handler in a
        thread, and renders errors in the API's one error shape."""
        try:
            await run_in_threadpool(self.context.admit, request, self.access)
            body = await _json_body(request)
            return await run_in_threadpool(self._lowered, request, body)
        except MagpieError as exc:
            return error_response(exc)
        except Exception as exc:
            if (outage := as_outage(exc)) is not None:
                log.warning("API request %s %s: %s", request.method, request.url.path, exc)
                return error_response(outage)
            log.exception("API request failed: %s %s", request.method, request.url.path)
            return error_response(MagpieError("internal error"))


def api_endpoint(
    context: ApiContext, handler: SyncHandler, *, scope: str, server_wide: bool = False
) -> Handler:
    """``handler`` as a route endpoint that needs ``scope`` (see ``Access``)."""
    return ApiEndpoint(context, handler, Access(scope, server_wide)).serve


def route_access(route: BaseRoute) -> Access | None:
    """What an API route requires, or None for a route that is not an API endpoint."""
    owner = getattr(getattr(route, "endpoint", None), "__self__", None)
    return owner.access if isinstance(owner, ApiEndpoint) else None


def error_response(exc: MagpieError) -> Response:
    response = json_response(exc.api_body(), exc.status)
    if exc.retry_after is not None:  # throttled, or a backend briefly unavailable
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def parse_body(model: type[Model], body: Any) -> Model:
    """``body`` validated by a pydantic model; the first problem as InvalidInput."""
    try:
        return model.model_validate(body if body is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(map(str, first["loc"]))
        raise InvalidInput(
            f"{location}: {first['msg']}" if location else first["msg"],
            attr=str(first["loc"][0]) if first["loc"] else None,
        ) from None


async def _json_body(request: Request) -> Any:
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return None
    raw = await read_body(request, MAX_API_BODY)
    if not raw.strip():
        return None
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        # An upload (a static cohort's CSV): its fields, files as bytes.
        return parse_form(raw, content_type)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None


def json_response(body: Any, status: int = 200) -> Response:
    return Response(encode_json(body), status_code=status, media_type="application/json")


def encode_json(body: Any) -> bytes:
    """``body`` as the API sends it: times in ISO 8601, those stored without a zone
    (Magpie keeps UTC) marked as UTC."""
    return orjson.dumps(
        body, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC
    )


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer", attr=name) from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}", attr=name)
    return value


MAX_TEXT_PARAM = 1000


def text_param(request: Request, name: str, *, required: bool = False) -> str | None:
    """A text query parameter of at most ``MAX_TEXT_PARAM`` characters; empty is absent."""
    raw = request.query_params.get(name)
    if not raw:
        if required:
            raise InvalidInput(f"{name} is required", attr=name)
        return None
    if len(raw) > MAX_TEXT_PARAM:
        raise InvalidInput(f"{name} may have at most {MAX_TEXT_PARAM} characters", attr=name)
    return raw


def group_type_index_param(request: Request) -> int:
    """The required ``group_type_index`` (0-4) of a groups request."""
    if not request.query_params.get("group_type_index"):
        raise InvalidInput(
            "group_type_index is required (0-4; GET .../groups_types/ lists them)",
            attr="group_type_index",
        )
    return int_param(request, "group_type_index", 0, low=0, high=MAX_GROUP_TYPES - 1)


def utc_text(at: datetime | None) -> str | None:
    """A stored (naive UTC) time as the read API shows it: ISO 8601 with a Z."""
    return None if at is None else at.isoformat() + "Z"


def time_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        parsed = parse_timestamp(raw)
        at = None if parsed is None else utc_naive(parsed)
    except (OverflowError, ValueError):
        # 9999-12-31T23:59:59-05:00 parses, but its UTC time is past the calendar's end.
        raise InvalidInput(f"{name} is out of range: {raw[:64]!r}", attr=name) from None
    if at is None:
        raise InvalidInput(f"{name} is not a date or time: {raw[:64]!r}", attr=name)
    return at


def next_page(request: Request, count: int, limit: int, offset: int) -> str | None:
    """The URL of the following page, or None on the last one."""
    if count < limit:
        return None
    params = {**request.query_params, "limit": str(limit), "offset": str(offset + limit)}
    return f"{request.url.remove_query_params(list(params))}?{urlencode(params)}"
