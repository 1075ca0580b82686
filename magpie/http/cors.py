"""Public endpoints SDKs call from browsers: permissive CORS, as PostHog answers them,
and one place that turns failures into the endpoint's error shape."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from magpie.errors import MagpieError

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    headers = {
        "Access-Control-Allow-Origin": origin or "*",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers", "*"),
        "Access-Control-Max-Age": "3600",
        "Vary": "Origin",
    }
    if origin:
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


def cors_json(body: bytes, status: int, request: Request) -> Response:
    return Response(
        body, status_code=status, media_type="application/json", headers=cors_headers(request)
    )


def public_endpoint(
    handler: Handler, error_body: Callable[[MagpieError], dict[str, object]]
) -> Handler:
    """CORS preflight, then the handler; a failure becomes ``error_body`` with its status."""

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=200, headers=cors_headers(request))
        try:
            return await handler(request)
        except MagpieError as exc:
            response = cors_json(orjson.dumps(error_body(exc)), exc.status, request)
            if exc.retry_after is not None:
                # A transient refusal (the disk, a rate limit): when to try again.
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except Exception:
            log.exception("request failed on %s", request.url.path)
            internal = MagpieError("internal error")
            return cors_json(orjson.dumps(error_body(internal)), 500, request)

    return endpoint
