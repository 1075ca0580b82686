"""The decode process, seen from capture: large requests are decoded there.

A request over the light budget could hold capture's event loop for seconds
(a 20 MiB batch) and Python's interpreter lock for a hundred milliseconds at
a time (one ``orjson.loads``), so it is sent, bytes and all, to a process of
its own (decode_worker.py). That process decodes one request at a time, at a
lower CPU priority and under a CPU-time and memory budget, so a huge or
hostile request delays only the large requests queued behind it. It is
started on the first large request and replaced if it dies.
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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from magpie.capture.decoder import CaptureLimits, DecodedBatch
from magpie.capture.decoding import WireRequest
from magpie.capture.ipc import RemoteCaptureError, read_frame, request_header, write_frame
from magpie.errors import PayloadTooLarge, ServiceUnavailable

log = logging.getLogger(__name__)

GiB = 1024**3


@dataclass(frozen=True)
class HeavyBudget:
    """What one large request may cost in the decode process."""

    # CPU time for one request; a valid 20 MiB batch needs about one second.
    cpu_seconds: float = 10.0
    # The process's address space: well above what the 20 MiB limit needs.
    memory_bytes: int = 2 * GiB
    # Large requests waiting or being decoded; past this, 503 (SDKs retry).
    waiting: int = 8
    # Added to the process's nice value: below capture's event loop.
    nice: int = 10


class DecodeProcess:
    def __init__(self, limits: CaptureLimits, budget: HeavyBudget | None = None) -> None:
        self._limits = limits
        self._budget = budget or HeavyBudget()
        self._ids = itertools.count()
        # Answers by request id, in the order the requests were sent.
        self._pending: dict[int, asyncio.Future[tuple[dict[str, Any], bytes]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task[None] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._starting: asyncio.Lock | None = None  # made on the loop that uses it
        self.started = 0  # processes started so far (tests count them)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def decode(self, kind: str, request: WireRequest, now: datetime) -> DecodedBatch:
        """``decode_v0`` or ``decode_v1`` (``kind``) of ``request``, run in the decode process."""
        if len(self._pending) >= self._budget.waiting:
            raise ServiceUnavailable("capture is busy with large requests; retry shortly")
        await self._ensure_started()
        assert self._writer is not None
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        header = {"type": kind, "id": request_id, "now": now.isoformat(), **request_header(request)}
        write_frame(self._writer, header, request.body)
        reply, events_json = await future
        if reply.get("error") is not None:
            raise RemoteCaptureError.from_header(reply["error"])
        return DecodedBatch(
            reply["token"],
            events_json,
            reply["count"],
            reply["sent_at"],
            reply["historical_migration"],
            reply["results"],
        )

    def close(self) -> None:
        """End the decode process; callers have had their answers (capture drains first)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        if self._listener is not None:
            self._listener.cancel()
        if self._process is not None and self._process.poll() is None:
            # It keeps nothing: whatever it is still decoding has no one waiting.
            self._process.kill()
            self._process.wait()

    async def _ensure_started(self) -> None:
        # Two large requests arriving together must not each start a process.
        if self._writer is not None:
            return
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:
            if self._writer is None:
                await self._start()

    async def _start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = {
            "fd": child.fileno(),
            "limits": dataclasses.asdict(self._limits),
            "budget": dataclasses.asdict(self._budget),
        }
        # A fresh interpreter importing only the decoders: small, and nothing
        # of the parent's state (open DuckDB files, threads) comes along.
        self._process = subprocess.Popen(
            [sys.executable, "-m", "magpie.capture.decode_worker", json.dumps(config)],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
        )
        child.close()
        self.started += 1
        reader, self._writer = await asyncio.open_unix_connection(sock=parent)
        self._listener = asyncio.create_task(self._listen(reader, self._writer))

    async def _listen(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (frame := await read_frame(reader)) is not None:
            future = self._pending.pop(frame[0]["id"], None)
            if future is not None and not future.done():
                future.set_result(frame)
        if self._writer is writer:  # it died, rather than being closed
            self._writer = None
            writer.close()
            self._lost()

    def _lost(self) -> None:
        """The decode process ended under a request: that request is to blame, not the rest."""
        log.error("the decode process ended (exit status %s); starting a new one", self._reap())
        pending, self._pending = self._pending, {}
        # It decodes in order: the oldest request was the one it was on.
        culprit = next(iter(pending), None)
        for request_id, future in pending.items():
            if future.done():
                continue
            if request_id == culprit:
                future.set_exception(
                    PayloadTooLarge(
                        "decoding this request took the decoder past its memory budget; "
                        "send smaller batches"
                    )
                )
            else:
                future.set_exception(ServiceUnavailable("capture's decoder restarted; retry"))

    def _reap(self) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # its socket closed, yet it lives on
            self._process.kill()
            return self._process.wait()
