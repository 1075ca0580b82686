"""The PostHog-compatible ingest endpoints."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.capture.service import CaptureService
from magpie.errors import MagpieError
from magpie.http.cors import cors_headers, preflight
from magpie.http.requests import Network, wire_request

log = logging.getLogger(__name__)

CAPTURE_PATHS = ("/e", "/i/v0/e", "/batch", "/capture", "/track", "/engage")
V1_PATH = "/i/v1/analytics/events"
METHODS = ["GET", "POST", "OPTIONS"]
_OK = orjson.dumps({"status": 1})


def capture_routes(
    service: CaptureService, body_cap: Callable[[str], int], trusted_proxies: Sequence[Network]
) -> list[Route]:
    async def capture(request: Request) -> Response:
        wire = await wire_request(request, body_cap(request.url.path), trusted_proxies)
        await service.capture(wire)
        if request.query_params.get("beacon") == "1":
            return Response(status_code=204, headers=cors_headers(request))
        return _json(_OK, 200, request)

    async def capture_v1(request: Request) -> Response:
        wire = await wire_request(request, body_cap("/batch"), trusted_proxies)
        results = await service.capture_v1(wire)
        return _json(orjson.dumps({"results": results}), 200, request)

    routes = []
    for path in CAPTURE_PATHS:
        for variant in (path, path + "/"):
            routes.append(Route(variant, _guarded(capture), methods=METHODS))
    routes.append(Route(V1_PATH, _guarded(capture_v1), methods=["POST", "OPTIONS"]))
    routes.append(Route(V1_PATH + "/", _guarded(capture_v1), methods=["POST", "OPTIONS"]))
    return routes


def _guarded(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[..., Awaitable[Response]]:
    """CORS preflight, and capture's error shape for every failure."""

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return preflight(request)
        try:
            return await handler(request)
        except MagpieError as exc:
            return _json(orjson.dumps(exc.capture_body()), exc.status, request)
        except Exception:
            log.exception("capture failed on %s", request.url.path)
            body = {"status": 500, "code": "internal_error", "error": "internal error"}
            return _json(orjson.dumps(body), 500, request)

    return endpoint


def _json(body: bytes, status: int, request: Request) -> Response:
    return Response(
        body, status_code=status, media_type="application/json", headers=cors_headers(request)
    )
