"""A tiny HTTP/1.1 keep-alive client: just enough to replay pre-built requests.

The load generator shares two cores with the server, so it must cost as little
CPU per request as possible: requests are written as pre-encoded bytes, and
only the status line and Content-Length of each answer are parsed. A general
client (httpx, aiohttp) would spend several times more CPU per request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class HttpError(Exception):
    pass


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class Connection:
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, wire: bytes) -> Response:
        self._writer.write(wire)
        head = await self._reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 "):
            raise HttpError(f"unexpected response head: {head[:80]!r}")
        length = _content_length(head)
        body = await self._reader.readexactly(length) if length else b""
        return Response(int(head[9:12]), body)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):  # the server may already have closed its side
            await self._writer.wait_closed()


def get_request(path: str, host: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post_request(path: str, host: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line[15:])
    if b"transfer-encoding: chunked" in head.lower():
        raise HttpError("chunked responses are not supported by the bench client")
    return 0


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed (it is, with uvicorn[standard]): less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
