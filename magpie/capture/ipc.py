"""Frames between capture's processes, over Unix sockets.

A frame is ``[header length u32][body length u32][header JSON][body]``: the
header says what the frame is, the body carries a request's raw bytes (or a
decoded batch's events). The server talks to its capture process this way,
and capture to its decode process; both use the helpers below, so that a
request and an error look the same on every hop.
"""

from __future__ import annotations

import asyncio
import io
import struct
from typing import Any, Protocol

import orjson

from magpie.capture.decoding import WireRequest
from magpie.errors import MagpieError

_LENGTHS = struct.Struct("<II")


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = orjson.dumps(header)
    return _LENGTHS.pack(len(head), len(body)) + head + body


class _Writes(Protocol):
    def write(self, data: bytes, /) -> Any: ...


def write_frame(writer: _Writes, header: dict[str, Any], body: bytes) -> None:
    """``encode`` written in two parts: a body of megabytes is not copied to join it."""
    head = orjson.dumps(header)
    writer.write(_LENGTHS.pack(len(head), len(body)) + head)
    if body:
        writer.write(body)


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes] | None:
    """The next frame, or None when the other side has gone."""
    try:
        lengths = await reader.readexactly(_LENGTHS.size)
        head_size, body_size = _LENGTHS.unpack(lengths)
        head = await reader.readexactly(head_size)
        body = await reader.readexactly(body_size) if body_size else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return orjson.loads(head), body


def read_frame_blocking(stream: io.BufferedIOBase) -> tuple[dict[str, Any], bytes] | None:
    """``read_frame`` for a process with no event loop (the decode process)."""
    lengths = _read_exactly(stream, _LENGTHS.size)
    if lengths is None:
        return None
    head_size, body_size = _LENGTHS.unpack(lengths)
    head = _read_exactly(stream, head_size)
    body = _read_exactly(stream, body_size) if body_size else b""
    if head is None or body is None:
        return None
    return orjson.loads(head), body


def _read_exactly(stream: io.BufferedIOBase, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def request_header(request: WireRequest) -> dict[str, Any]:
    """A request's fields as a frame header; its body goes in the frame's body."""
    return {
        "path": request.path,
        "method": request.method,
        "query": dict(request.query),
        "headers": dict(request.headers),
        "client_ip": request.client_ip,
    }


def request_from(header: dict[str, Any], body: bytes) -> WireRequest:
    return WireRequest(
        header["path"],
        header["method"],
        header["query"],
        header["headers"],
        body,
        header["client_ip"],
    )


def error_header(exc: MagpieError) -> dict[str, Any]:
    return {
        "status": exc.status,
        "code": exc.code,
        "type": exc.type,
        "message": exc.message,
        "attr": exc.attr,
        "retry_after": exc.retry_after,
    }


INTERNAL_ERROR = {
    "status": 500,
    "code": "internal_error",
    "type": "server_error",
    "message": "internal error",
    "attr": None,
    "retry_after": None,
}


class RemoteCaptureError(MagpieError):
    """An error another capture process found, with its status and code."""

    def __init__(
        self,
        status: int,
        code: str,
        type_: str,
        message: str,
        attr: str | None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, attr=attr, retry_after=retry_after)
        self.status, self.code, self.type = status, code, type_

    @classmethod
    def from_header(cls, error: dict[str, Any]) -> RemoteCaptureError:
        return cls(
            error["status"],
            error["code"],
            error["type"],
            error["message"],
            error["attr"],
            error.get("retry_after"),
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (
            self.__class__,
            (self.status, self.code, self.type, self.message, self.attr, self.retry_after),
        )
