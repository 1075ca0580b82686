"""The decode process: large capture requests in, decoded batches out (see offload.py).

``python -m magpie.capture.decode_worker CONFIG_JSON``. It reads one request
at a time from its socket and answers it on the same socket, and ends when
the socket closes, which is also how it ends when capture dies. Each request
may use ``cpu_seconds`` of CPU (a profiling timer interrupts it past that)
and the process its ``memory_bytes`` of address space; a request over either
is refused with 413, so that the SDK does not send it again.
"""

from __future__ import annotations

import io
import json
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any

from magpie.capture.decoder import CaptureLimits, DecodedBatch, decode_v0, decode_v1
from magpie.capture.decoding import WireRequest
from magpie.capture.ipc import (
    INTERNAL_ERROR,
    error_header,
    read_frame_blocking,
    request_from,
    write_frame,
)
from magpie.errors import MagpieError, PayloadTooLarge

log = logging.getLogger(__name__)

DECODERS: dict[str, Callable[[WireRequest, CaptureLimits, datetime], DecodedBatch]] = {
    "v0": decode_v0,
    "v1": decode_v1,
}


class _OverBudget(BaseException):
    """Raised by the profiling timer; a BaseException, so no ``except Exception`` keeps it."""


def _over_budget(signum: int, frame: FrameType | None) -> None:
    raise _OverBudget


def main(argv: list[str]) -> None:
    config = json.loads(argv[0])
    logging.basicConfig(level=logging.WARNING)
    budget = config["budget"]
    os.nice(budget["nice"])
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = budget["memory_bytes"]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    # Ctrl-C reaches the whole process group: capture decides when this process ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGPROF, _over_budget)
    limits = CaptureLimits(**config["limits"])
    with socket.socket(fileno=config["fd"]) as sock, sock.makefile("rwb") as stream:
        serve(stream, limits, budget["cpu_seconds"])


def serve(stream: io.BufferedIOBase, limits: CaptureLimits, cpu_seconds: float) -> None:
    while (frame := read_frame_blocking(stream)) is not None:
        header, body = frame
        reply, events_json = answer(header, body, limits, cpu_seconds)
        write_frame(stream, reply, events_json)
        stream.flush()


def answer(
    header: dict[str, Any], body: bytes, limits: CaptureLimits, cpu_seconds: float
) -> tuple[dict[str, Any], bytes]:
    reply: dict[str, Any] = {"id": header["id"]}
    try:
        decoded = _decode_within(cpu_seconds, header, body, limits)
    except _OverBudget:
        reply["error"] = error_header(
            PayloadTooLarge(
                f"decoding this request needs more than {cpu_seconds:g} s of CPU; "
                "send smaller batches"
            )
        )
    except MemoryError:
        reply["error"] = error_header(
            PayloadTooLarge("decoding this request needs more memory than capture allows")
        )
    except MagpieError as exc:
        reply["error"] = error_header(exc)
    except Exception:
        log.exception("decoding failed on %s", header.get("path"))
        reply["error"] = INTERNAL_ERROR
    else:
        reply.update(
            token=decoded.token,
            count=decoded.count,
            sent_at=decoded.sent_at,
            historical_migration=decoded.historical_migration,
            results=decoded.results,
        )
        return reply, decoded.events_json
    return reply, b""


def _decode_within(
    cpu_seconds: float, header: dict[str, Any], body: bytes, limits: CaptureLimits
) -> DecodedBatch:
    request = request_from(header, body)
    now = datetime.fromisoformat(header["now"])
    # ITIMER_PROF counts this process's CPU time, not the wall clock: a busy
    # machine slows a request down but never makes it fail.
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    try:
        return DECODERS[header["type"]](request, limits, now)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


if __name__ == "__main__":
    main(sys.argv[1:])
