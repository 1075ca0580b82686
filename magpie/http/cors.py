"""Permissive CORS for the endpoints SDKs call from browsers, as PostHog answers them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


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


def preflight(request: Request) -> Response:
    return Response(status_code=200, headers=cors_headers(request))
