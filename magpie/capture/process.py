"""The capture process: decodes requests and appends them to the durable queue.

``magpie serve`` runs capture here, beside the ingest worker rather than under
the same interpreter lock: decompression, parsing, validation and the fsync'd
append never wait for ingestion, which keeps answers fast under load. The
server forwards each capture request's bytes and answers the SDK with what
comes back; it keeps this process's project tokens and quota states current.
The process ends when the server goes, whatever way it goes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from magpie.capture.decoder import CaptureLimits
from magpie.capture.ipc import INTERNAL_ERROR, encode, error_header, read_frame, request_from
from magpie.capture.ratelimit import RateLimit
from magpie.capture.service import CaptureOutcome, CaptureService
from magpie.clock import SystemClock
from magpie.errors import MagpieError
from magpie.queue.local import LocalLog

log = logging.getLogger(__name__)


class TokenMap:
    """Project tokens as the server last sent them."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def replace(self, ids: dict[str, int]) -> None:
        self._ids = dict(ids)

    def project_id(self, token: str) -> int | None:
        return self._ids.get(token)


class LimitedProjects:
    """Projects over their quota, as the server last sent them."""

    def __init__(self) -> None:
        self._ids: frozenset[int] = frozenset()

    def replace(self, ids: list[int]) -> None:
        self._ids = frozenset(ids)

    def is_limited(self, project_id: int) -> bool:
        return project_id in self._ids


def main(argv: list[str]) -> None:
    """Entry point: ``python -m magpie.capture.process CONFIG_JSON`` (see gateway._spawn)."""
    config = json.loads(argv[0])
    logging.basicConfig(level=logging.WARNING)
    sock = socket.socket(fileno=config["fd"])
    limits = CaptureLimits(**config["limits"])
    rate_limit = RateLimit(**config["rate_limit"]) if config.get("rate_limit") else None
    asyncio.run(
        _serve(sock, Path(config["queue_dir"]), config["segment_bytes"], limits, rate_limit)
    )


async def _serve(
    sock: socket.socket,
    queue_dir: Path,
    segment_bytes: int,
    limits: CaptureLimits,
    rate_limit: RateLimit | None,
) -> None:
    queue = LocalLog(queue_dir, segment_bytes=segment_bytes)
    tokens, limited = TokenMap(), LimitedProjects()
    service = CaptureService(tokens, queue, SystemClock(), limits, limited, rate_limit)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    writer.write(encode({"type": "ready", "end": queue.end}))
    tasks: set[asyncio.Task[None]] = set()
    try:
        while (frame := await read_frame(reader)) is not None:
            header, body = frame
            kind = header["type"]
            if kind == "tokens":
                tokens.replace(header["tokens"])
            elif kind == "limited":
                limited.replace(header["projects"])
            elif kind == "stop":
                break
            else:
                task = asyncio.create_task(_handle(service, header, body, writer))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    finally:
        service.close()
        queue.close()
        writer.close()


async def _handle(
    service: CaptureService, header: dict[str, Any], body: bytes, writer: asyncio.StreamWriter
) -> None:
    request = request_from(header, body)
    reply: dict[str, Any] = {"type": "reply", "id": header["id"]}
    try:
        capture = service.capture_v1 if header["type"] == "v1" else service.capture
        outcome: CaptureOutcome = await capture(request)
        reply.update(
            accepted=outcome.accepted,
            quota_limited=outcome.quota_limited,
            position=outcome.position,
            results=outcome.results,
        )
    except MagpieError as exc:
        reply["error"] = error_header(exc)
    except Exception:
        log.exception("capture failed on %s", request.path)
        reply["error"] = INTERNAL_ERROR
    writer.write(encode(reply))


if __name__ == "__main__":
    main(sys.argv[1:])
