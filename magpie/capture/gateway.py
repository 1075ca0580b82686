"""The server's side of the capture process: forwards requests, keeps it informed.

Each capture request's bytes go to the capture process with an id; the answer
comes back on the same socket. Every answer says how far the queue is durable,
which is what the ingest worker may read up to. If the capture process dies,
requests in flight are answered 503 (SDKs retry) and a new process is started.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from magpie.capture.decoder import CaptureLimits
from magpie.capture.decoding import WireRequest
from magpie.capture.ipc import (
    RemoteCaptureError,
    encode,
    read_frame,
    request_header,
    write_frame,
)
from magpie.capture.ratelimit import RateLimit
from magpie.capture.service import CaptureOutcome
from magpie.errors import ServiceUnavailable
from magpie.queue.local import LogFollower

__all__ = ["CaptureGateway", "RemoteCaptureError"]

log = logging.getLogger(__name__)


class CaptureGateway:
    def __init__(
        self,
        queue_dir: Path,
        segment_bytes: int,
        limits: CaptureLimits,
        follower: LogFollower,
        tokens: Callable[[], dict[str, int]],
        rate_limit: RateLimit | None = None,
        front: dict[str, Any] | None = None,
    ) -> None:
        """``front``: the public address the capture process serves itself, with the
        server's private socket for everything else (magpie/http/front.py)."""
        self._front = front
        self._queue_dir = queue_dir
        self._segment_bytes = segment_bytes
        self._limits = limits
        self._rate_limit = rate_limit
        self._follower = follower
        self._tokens = tokens
        self._limited: list[int] = []
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task[None] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._reap()
        self._process = self._spawn(child)
        child.close()
        reader, self._writer = await asyncio.open_unix_connection(sock=parent)
        ready = await read_frame(reader)
        if ready is None or ready[0].get("type") != "ready":
            raise RuntimeError("the capture process did not start")
        self._follower.advance(ready[0]["end"])
        self._send({"type": "tokens", "tokens": self._tokens()})
        self._send({"type": "limited", "projects": self._limited})
        self._listener = asyncio.create_task(self._listen(reader))

    async def stop(self) -> None:
        """Let requests in flight finish, then end the capture process."""
        self._stopping = True
        if self._writer is not None:
            self._send({"type": "stop"})
        if self._listener is not None:
            await self._listener
        if self._process is not None:
            await asyncio.to_thread(self._end_process, 30)
        if self._writer is not None:
            self._writer.close()

    def _spawn(self, child: socket.socket) -> subprocess.Popen[bytes]:
        # A fresh interpreter that imports only capture's modules (not the
        # server's DuckDB, Arrow and query compiler), so it stays small.
        config = {
            "fd": child.fileno(),
            "queue_dir": str(self._queue_dir),
            "segment_bytes": self._segment_bytes,
            "limits": dataclasses.asdict(self._limits),
            "rate_limit": dataclasses.asdict(self._rate_limit) if self._rate_limit else None,
            "front": self._front,
        }
        return subprocess.Popen(
            [sys.executable, "-m", "magpie.capture.process", json.dumps(config)],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
        )

    def _end_process(self, grace_seconds: float) -> None:
        """Wait for the capture process to finish its requests; kill it past the grace."""
        assert self._process is not None
        try:
            self._process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            log.error("the capture process did not stop in %.0f s; killing it", grace_seconds)
            self._process.kill()
            self._process.wait()

    def _reap(self) -> None:
        """Collect the exit status of a capture process that ended."""
        if self._process is not None:
            self._process.poll()

    async def capture(self, request: WireRequest) -> CaptureOutcome:
        return await self._call("v0", request)

    async def capture_v1(self, request: WireRequest) -> CaptureOutcome:
        return await self._call("v1", request)

    async def sync(self) -> None:
        """Once this returns, the queue's end includes every request the capture
        process has answered so far (its front answers without the server)."""
        if self._writer is None or self._stopping:
            return
        assert self._loop is not None
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._pending[request_id] = future
        self._send({"type": "sync", "id": request_id})
        await future

    def sync_from_thread(self, timeout: float) -> None:
        if self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.sync(), self._loop).result(timeout)

    def refresh_tokens(self) -> None:
        self._send_threadsafe({"type": "tokens", "tokens": self._tokens()})

    def set_limited(self, project_ids: set[int]) -> None:
        """Projects over quota (called from the ingest worker's thread)."""
        self._limited = sorted(project_ids)
        self._send_threadsafe({"type": "limited", "projects": self._limited})

    async def _call(self, kind: str, request: WireRequest) -> CaptureOutcome:
        if self._writer is None or self._stopping:
            raise ServiceUnavailable("capture is not running")
        assert self._loop is not None
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._pending[request_id] = future
        header = {"type": kind, "id": request_id, **request_header(request)}
        write_frame(self._writer, header, request.body)
        reply = await future
        error = reply.get("error")
        if error is not None:
            raise RemoteCaptureError.from_header(error)
        return CaptureOutcome(
            reply["accepted"], reply["quota_limited"], reply["position"], reply["results"]
        )

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        while (frame := await read_frame(reader)) is not None:
            reply = frame[0]
            if reply.get("type") in ("end", "synced"):  # the front's own appends
                self._follower.advance(reply["end"])
                if reply["type"] == "end":
                    continue
            if reply.get("position") is not None:
                self._follower.advance(reply["position"])
            future = self._pending.pop(reply["id"], None)
            if future is not None and not future.done():
                future.set_result(reply)
        self._fail_pending()
        if not self._stopping:
            log.error("the capture process ended unexpectedly; starting a new one")
            self._writer = None
            await self.start()

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ServiceUnavailable("capture restarted; please retry"))

    def _send(self, header: dict[str, Any]) -> None:
        if self._writer is not None:
            self._writer.write(encode(header))

    def _send_threadsafe(self, header: dict[str, Any]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._send, header)
