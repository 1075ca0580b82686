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
import contextlib
import json
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from magpie.capture.decoder import CaptureLimits
from magpie.capture.decoding import WireRequest
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


class DurableEnd:
    """Tells the server how far the queue is durable, so its worker may read on.

    Requests the server forwards carry the new end in their answer; requests
    the front answers itself are announced here, once per new end."""

    def __init__(self, writer: asyncio.StreamWriter, end: int) -> None:
        self._writer = writer
        self._sent = end

    def announce(self, end: int | None) -> None:
        if end is not None and end > self._sent:
            self._sent = end
            self._writer.write(encode({"type": "end", "end": end}))


class Announced:
    """The capture service, announcing each durable append (the front's Capture)."""

    def __init__(self, service: CaptureService, end: DurableEnd) -> None:
        self._service, self._end = service, end

    async def capture(self, request: WireRequest) -> CaptureOutcome:
        outcome = await self._service.capture(request)
        self._end.announce(outcome.position)
        return outcome

    async def capture_v1(self, request: WireRequest) -> CaptureOutcome:
        outcome = await self._service.capture_v1(request)
        self._end.announce(outcome.position)
        return outcome


def main(argv: list[str]) -> None:
    """Entry point: ``python -m magpie.capture.process CONFIG_JSON`` (see gateway._spawn)."""
    config = json.loads(argv[0])
    logging.basicConfig(level=logging.WARNING)
    # A Ctrl-C reaches the whole process group; the server drains and then tells
    # this process to stop, so it must not stop on its own first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=config["fd"])
    limits = CaptureLimits(**config["limits"])
    rate_limit = RateLimit(**config["rate_limit"]) if config.get("rate_limit") else None
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(
            _serve(
                sock,
                Path(config["queue_dir"]),
                config["segment_bytes"],
                limits,
                rate_limit,
                config.get("front"),
            )
        )


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (uvicorn[standard] brings it), as uvicorn itself
    would choose: every request's parsing and socket work is cheaper on it, and this
    loop answers every SDK. None: asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(
    sock: socket.socket,
    queue_dir: Path,
    segment_bytes: int,
    limits: CaptureLimits,
    rate_limit: RateLimit | None,
    front: dict[str, Any] | None = None,
) -> None:
    queue = LocalLog(queue_dir, segment_bytes=segment_bytes)
    tokens, limited = TokenMap(), LimitedProjects()
    service = CaptureService(tokens, queue, SystemClock(), limits, limited, rate_limit)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    tasks: set[asyncio.Task[None]] = set()
    # Ready only once the public address answers, so the server is never up
    # before its front.
    stop_front = (
        await _start_front(front, Announced(service, DurableEnd(writer, queue.end)), limits)
        if front
        else None
    )
    writer.write(encode({"type": "ready", "end": queue.end}))
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
            elif kind == "sync":
                # Frames are read in order: by now every earlier end is announced.
                writer.write(encode({"type": "synced", "id": header["id"], "end": queue.end}))
            else:
                task = asyncio.create_task(_handle(service, header, body, writer))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    finally:
        if stop_front is not None:
            await stop_front()
        service.close()
        queue.close()
        writer.close()


async def _start_front(
    front: dict[str, Any], capture: Announced, limits: CaptureLimits
) -> Callable[[], Awaitable[None]]:
    """Serve the public address (magpie/http/front.py) until the returned stop is awaited.

    Imported here: the HTTP stack is needed only when this process is the front."""
    import ipaddress

    import uvicorn

    from magpie.http.front import front_app

    networks = [ipaddress.ip_network(n, strict=False) for n in front["trusted_proxies"]]
    app = front_app(capture, limits.wire_cap, networks, Path(front["api_socket"]))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=front["host"],
            port=front["port"],
            log_level="warning",
            access_log=False,
            lifespan="on",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=10,
        )
    )
    # The server process handles the signals; this one stops when told to, or
    # when the server is gone (its control socket closes).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if task.done():
        task.result()  # the address could not be bound: fail, and say why

    async def stop() -> None:
        server.should_exit = True
        await task

    return stop


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
