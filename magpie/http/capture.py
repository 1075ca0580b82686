"""The PostHog-compatible ingest endpoints, and the answer to session recordings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.capture.decoding import refuse_large_lz64
from magpie.capture.service import Capture
from magpie.errors import MagpieError, RecordingsNotSupported
from magpie.http.cors import cors_headers, cors_json, public_endpoint
from magpie.http.requests import Network, wire_request

CAPTURE_PATHS = ("/e", "/i/v0/e", "/batch", "/capture", "/track", "/engage")
V1_PATH = "/i/v1/analytics/events"
RECORDINGS_PATH = "/s"
METHODS = ["GET", "POST", "OPTIONS"]
_OK = orjson.dumps({"status": 1})
_QUOTA_LIMITED = orjson.dumps({"status": 1, "quota_limited": ["events"]})
_NO_RECORDINGS = RecordingsNotSupported(
    "Magpie does not store session recordings; leave session recording off in posthog-js "
    "(Magpie's remote config already turns it off)"
)
# A 4xx (410), which posthog-js never retries; quota_limited is what posthog-js
# reads from any answer to pause a kind of request, here recordings, for a minute.
_RECORDINGS_REFUSED = orjson.dumps(
    {**_NO_RECORDINGS.capture_body(), "quota_limited": ["recordings"]}
)


def capture_routes(
    service: Capture, body_cap: Callable[[str], int], trusted_proxies: Sequence[Network]
) -> list[Route]:
    async def capture(request: Request) -> Response:
        def check_start(size: int, head: bytes) -> None:
            # A 25 MB lz64 body is refused on its first bytes, not after reading it.
            refuse_large_lz64(request.query_params, request.headers, size, head)

        wire = await wire_request(request, body_cap(request.url.path), trusted_proxies, check_start)
        outcome = await service.capture(wire)
        if request.query_params.get("beacon") == "1":
            return Response(status_code=204, headers=cors_headers(request))
        # Over quota PostHog still answers 200, so SDKs do not retry forever.
        return cors_json(_QUOTA_LIMITED if outcome.quota_limited else _OK, 200, request)

    async def capture_v1(request: Request) -> Response:
        wire = await wire_request(request, body_cap("/batch"), trusted_proxies)
        outcome = await service.capture_v1(wire)
        return cors_json(orjson.dumps({"results": outcome.results or {}}), 200, request)

    async def recordings(request: Request) -> Response:
        # The body is never read: recordings can be megabytes, with nowhere to go.
        return cors_json(_RECORDINGS_REFUSED, _NO_RECORDINGS.status, request)

    routes = []
    for variant in (RECORDINGS_PATH, RECORDINGS_PATH + "/"):
        routes.append(
            Route(variant, public_endpoint(recordings, MagpieError.capture_body), methods=METHODS)
        )
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
