"""Forwarding the SDKs' small requests (``/flags``, ``/decide``, the remote config)
from the front to the server process, at little cost.

A general HTTP client (the front's ``ServerProxy``) spends about a millisecond
of the front's interpreter on each request it passes on: connection pool
bookkeeping, streaming, task groups. ``/flags`` is asked on every page load and
its requests and answers are small, so they go through this instead: a pool
of keep-alive HTTP/1.1 connections on the server's private socket, the
request written whole and the answer read whole. Anything it cannot pass on
this way (a body without a length, or a large one) goes through the general
proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send

# Larger bodies than this are streamed by the general proxy (the server refuses
# /flags bodies over 2 MiB anyway).
MAX_BODY = 4 << 20
_MAX_HEAD = 64 << 10
_POOL = 32


class _Unforwardable(Exception):
    """The request is left to the general proxy."""


class _Gone(Exception):
    """The client went away before its body was read."""


class Forwarder:
    def __init__(
        self,
        socket_path: str,
        headers_for: Callable[[Scope], list[tuple[bytes, bytes]]],
        hop_by_hop: frozenset[bytes],
    ) -> None:
        """``headers_for``: the headers to send for a request (the client's, less the
        hop-by-hop ones, with the client's address)."""
        self._path = socket_path
        self._headers_for = headers_for
        self._hop_by_hop = hop_by_hop
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        fallback: Callable[[Scope, Receive, Send], Awaitable[None]],
    ) -> None:
        try:
            body = await _whole_body(scope, receive)
        except _Unforwardable:
            await fallback(scope, receive, send)
            return
        except _Gone:
            return
        request = self._request(scope, body)
        no_body = scope["method"] == "HEAD"
        status, headers, answer = await self._exchange(request, no_body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def _request(self, scope: Scope, body: bytes) -> bytes:
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        lines = [scope["method"].encode() + b" " + target + b" HTTP/1.1"]
        lines += [
            name + b": " + value
            for name, value in self._headers_for(scope)
            if name not in (b"content-length", b"host", b"expect")
        ]
        lines += [b"host: magpie", b"content-length: " + str(len(body)).encode()]
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def _exchange(
        self, request: bytes, no_body: bool
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One request on an idle connection, or a new one. A kept connection the
        server closed meanwhile (its keep-alive timeout) fails before any answer:
        the request is then sent once more on a new connection."""
        while self._idle:
            reader, writer = self._idle.pop()
            try:
                return await self._on(reader, writer, request, no_body)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
        reader, writer = await asyncio.open_unix_connection(self._path, limit=_MAX_HEAD)
        return await self._on(reader, writer, request, no_body)

    async def _on(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: bytes,
        no_body: bool,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head[:-4].split(b"\r\n")
            status = int(status_line.split(b" ", 2)[1])
            headers: list[tuple[bytes, bytes]] = []
            length, chunked, keep = 0, False, True
            for line in header_lines:
                name, _, value = line.partition(b":")
                name, value = name.strip().lower(), value.strip()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    keep = value.lower() != b"close"
                if name not in self._hop_by_hop and name != b"content-length":
                    headers.append((name, value))
            if no_body or status in (204, 304):
                body = b""
            else:
                body = await (_chunks(reader) if chunked else reader.readexactly(length))
        except BaseException:
            writer.close()
            raise
        if keep and len(self._idle) < _POOL:
            self._idle.append((reader, writer))
        else:
            writer.close()
        headers.append((b"content-length", str(len(body)).encode()))
        return status, headers, body

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _whole_body(scope: Scope, receive: Receive) -> bytes:
    headers = dict(scope["headers"])
    declared = headers.get(b"content-length")
    if declared is None:
        if b"transfer-encoding" in headers:
            raise _Unforwardable
        return b""
    if not declared.isdigit() or int(declared) > MAX_BODY:
        raise _Unforwardable
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
