"""The public HTTP front of ``magpie serve``, run by the capture process.

Capture must answer SDKs in milliseconds whatever else the server is doing.
The server process runs the ingest worker, queries and their result shaping,
all of which hold Python's interpreter lock for long stretches; an event loop
that shares that lock answers late. So the capture process, which has an
interpreter of its own, listens on the public address: it answers the capture
endpoints itself and passes every other request (the API, /flags, the UI) on
to the server over a private Unix socket, with the client's address in
``X-Magpie-Client`` (see ``trust_front``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from magpie.capture.service import Capture
from magpie.http.capture import capture_routes
from magpie.http.forward import Forwarder
from magpie.http.requests import Network, client_ip

CLIENT_HEADER = "x-magpie-client"
# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not the message.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        CLIENT_HEADER,
    }
)
_UNAVAILABLE = orjson.dumps(
    {
        "type": "server_error",
        "code": "service_unavailable",
        "detail": "the server is starting or stopping; try again",
        "attr": None,
    }
)


def front_app(
    capture: Capture,
    body_cap: Callable[[str], int],
    trusted_proxies: Sequence[Network],
    api_socket: Path,
) -> Starlette:
    proxy = ServerProxy(api_socket, trusted_proxies)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await proxy.close()

    # The forwarded SDK paths first, so they skip matching every capture route.
    forwarded = [Route(p, proxy) for p in ("/flags", "/flags/", "/decide", "/decide/")]
    return Starlette(
        routes=[
            *forwarded,
            *capture_routes(capture, body_cap, trusted_proxies),
            Mount("/", app=proxy),
        ],
        lifespan=lifespan,
    )


def _forwarded(path: str) -> bool:
    """The SDKs' small requests, asked on every page load: passed on whole."""
    return path.rstrip("/") in ("/flags", "/decide") or path.startswith("/array/")


class ServerProxy:
    """Everything that is not capture, streamed to and from the server process
    (the SDKs' small requests through the cheaper ``Forwarder``)."""

    def __init__(self, api_socket: Path, trusted_proxies: Sequence[Network]) -> None:
        self._trusted_proxies = trusted_proxies
        self._forwarder = Forwarder(
            str(api_socket), self._headers, frozenset(n.encode() for n in _HOP_BY_HOP)
        )
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(api_socket)),
            base_url="http://magpie",
            timeout=httpx.Timeout(None, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    def _headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        request = Request(scope)
        headers = [
            (name, value)
            for name, value in request.headers.raw
            if name.decode("latin-1").lower() not in _HOP_BY_HOP
        ]
        address = client_ip(request, self._trusted_proxies) or ""
        headers.append((CLIENT_HEADER.encode(), address.encode()))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _forwarded(scope["path"]):
            try:
                await self._forwarder(scope, receive, send, self._stream)
            except OSError:  # the server is not there (starting or stopping)
                await _unavailable(scope, receive, send)
            return
        await self._stream(scope, receive, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        headers = self._headers(scope)
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        outgoing = self._client.build_request(
            request.method,
            httpx.URL(path=request.url.path, query=request.url.query.encode()),
            headers=headers,
            content=request.stream() if has_body else None,
        )
        try:
            answer = await self._client.send(outgoing, stream=True)
        except httpx.TransportError:
            await _unavailable(scope, receive, send)
            return
        response: Response = StreamingResponse(answer.aiter_raw(), status_code=answer.status_code)
        # Raw pairs: repeated headers (Set-Cookie) stay repeated, bytes unchanged.
        response.raw_headers = [
            (name, value)
            for name, value in answer.headers.raw
            if name.decode("latin-1").lower() not in _HOP_BY_HOP
        ]
        try:
            await response(scope, receive, send)
        finally:
            await answer.aclose()

    async def close(self) -> None:
        await self._forwarder.close()
        await self._client.aclose()


async def _unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    response = Response(_UNAVAILABLE, 503, media_type="application/json")
    response.headers["Retry-After"] = "1"
    await response(scope, receive, send)


def trust_front(app: ASGIApp) -> ASGIApp:
    """For the server's private socket, which only the front reaches: the client's
    address is the one the front read (with MAGPIE_TRUSTED_PROXIES applied)."""

    async def with_client(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != CLIENT_HEADER.encode()]
            address = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == CLIENT_HEADER.encode()),
                "",
            )
            scope = {**scope, "headers": headers, "client": (address, 0) if address else None}
        await app(scope, receive, send)

    return with_client
