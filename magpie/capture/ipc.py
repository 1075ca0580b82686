"""Frames between the server and its capture process, over a Unix socket.

A frame is ``[header length u32][body length u32][header JSON][body]``: the
header says what the frame is, the body carries a request's raw bytes.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import orjson

_LENGTHS = struct.Struct("<II")


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = orjson.dumps(header)
    return _LENGTHS.pack(len(head), len(body)) + head + body


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
