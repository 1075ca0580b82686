"""What every private API handler shares: authentication, errors, parameters, JSON."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from magpie.capture.timestamps import parse_timestamp
from magpie.clock import utc_naive
from magpie.errors import InvalidInput, MagpieError, NotAuthenticated, NotFound
from magpie.http.requests import read_body
from magpie.store.duckdb.projects import ApiKeyStore, Project, ProjectStore

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
# API handlers are plain functions of the request and its JSON body: they run in
# a worker thread, so a slow query never blocks capture on the event loop.
SyncHandler = Callable[[Request, Any], Response]
MAX_API_BODY = 10 * 1024 * 1024


class ApiContext:
    """The services API handlers need, and the checks they all make."""

    def __init__(self, api_keys: ApiKeyStore, projects: ProjectStore) -> None:
        self._api_keys = api_keys
        self._projects = projects
        self._valid_keys: set[str] = set()

    def authenticate(self, request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise NotAuthenticated("send a personal API key as 'Authorization: Bearer phx_...'")
        if key.startswith("phc_"):
            raise NotAuthenticated(
                "a project token can only send events; reading needs a personal API key (phx_)"
            )
        if key in self._valid_keys:
            return
        if not self._api_keys.is_valid(key):
            raise NotAuthenticated("this personal API key is not valid")
        self._valid_keys.add(key)

    def project(self, request: Request) -> Project:
        raw = request.path_params.get("project_id")
        project = self._projects.get(int(raw)) if isinstance(raw, int) else None
        if project is None:
            raise NotFound(f"project {raw} does not exist")
        return project


def api_endpoint(context: ApiContext, handler: SyncHandler) -> Handler:
    """Authenticates, reads the JSON body, runs the handler in a thread, and renders
    errors in the API's one error shape."""

    async def endpoint(request: Request) -> Response:
        try:
            context.authenticate(request)
            body = await _json_body(request)
            return await run_in_threadpool(handler, request, body)
        except MagpieError as exc:
            return json_response(exc.api_body(), exc.status)
        except Exception:
            log.exception("API request failed: %s %s", request.method, request.url.path)
            return json_response(
                {
                    "type": "server_error",
                    "code": "internal_error",
                    "detail": "internal error",
                    "attr": None,
                },
                500,
            )

    return endpoint


async def _json_body(request: Request) -> Any:
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return None
    raw = await read_body(request, MAX_API_BODY)
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(body, default=_default, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
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
