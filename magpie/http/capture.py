"""The PostHog-compatible ingest endpoints."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.capture.service import Capture
from magpie.errors import MagpieError
from magpie.http.cors import cors_headers, cors_json, public_endpoint
from magpie.http.requests import Network, wire_request

CAPTURE_PATHS = ("/e", "/i/v0/e", "/batch", "/capture", "/track", "/engage")
V1_PATH = "/i/v1/analytics/events"
METHODS = ["GET", "POST", "OPTIONS"]
_OK = orjson.dumps({"status": 1})
_QUOTA_LIMITED = orjson.dumps({"status": 1, "quota_limited": ["events"]})


def capture_routes(
    service: Capture, body_cap: Callable[[str], int], trusted_proxies: Sequence[Network]
) -> list[Route]:
    async def capture(request: Request) -> Response:
        wire = await wire_request(request, body_cap(request.url.path), trusted_proxies)
        outcome = await service.capture(wire)
        if request.query_params.get("beacon") == "1":
            return Response(status_code=204, headers=cors_headers(request))
        # Over quota PostHog still answers 200, so SDKs do not retry forever.
        return cors_json(_QUOTA_LIMITED if outcome.quota_limited else _OK, 200, request)

    async def capture_v1(request: Request) -> Response:
        wire = await wire_request(request, body_cap("/batch"), trusted_proxies)
        outcome = await service.capture_v1(wire)
        return cors_json(orjson.dumps({"results": outcome.results or {}}), 200, request)

    routes = []
    for path in CAPTURE_PATHS:
        for variant in (path, path + "/"):
            routes.append(
                Route(variant, public_endpoint(capture, MagpieError.capture_body), methods=METHODS)
            )
    routes.append(
        Route(
            V1_PATH,
            public_endpoint(capture_v1, MagpieError.capture_body),
            methods=["POST", "OPTIONS"],
        )
    )
    routes.append(
        Route(
            V1_PATH + "/",
            public_endpoint(capture_v1, MagpieError.capture_body),
            methods=["POST", "OPTIONS"],
        )
    )
    return routes
