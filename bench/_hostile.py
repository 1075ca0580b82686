"""Hostile capture traffic: every kind of request that once stalled or broke capture.

``flood`` runs in a process of its own (the bench's valid traffic comes from
another), builds one request of each kind, then sends rounds of them (one
of each kind per round, spread over the round) at a fixed number of rounds
per second on a pool of keep-alive connections, until told to stop. It
reports how many of each kind it sent, with what statuses, and how late
the latest send was (a request waits when every connection is busy).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from typing import Any
from urllib.parse import quote

from _http import Connection, HttpError, get_request, post_request, run_async

MiB = 1024 * 1024
QUADRATIC = "A" + " " * 200_000 + "!"  # 50 KB of this once took 17 s to check
OUT_OF_RANGE = ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TEXT = {"Content-Type": "text/plain"}
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Hostile:
    kind: str
    wire: bytes
    events: int  # events stored when it is answered 200


def requests(host: str, token: str) -> list[Hostile]:
    def post(
        kind: str, path: str, body: bytes, headers: dict[str, str], events: int = 0
    ) -> Hostile:
        return Hostile(kind, post_request(path, host, body, headers), events)

    def batch(*events: dict[str, Any], **fields: Any) -> bytes:
        return json.dumps({"api_key": token, "batch": list(events), **fields}).encode()

    bearer = {"Authorization": f"Bearer {token}", **JSON}
    event = {"event": "hostile", "distinct_id": "hostile"}
    quadratic = QUADRATIC.encode()
    plus = QUADRATIC.replace(" ", "+").encode()
    return [
        post("quadratic base64, text /e/", "/e/", quadratic, TEXT),
        post("quadratic base64, form data= /e/", "/e/", b"data=" + plus, FORM),
        Hostile(
            "quadratic base64, ?data= /e/",
            get_request("/e/?data=A" + "+" * 60_000 + "!", host),
            0,
        ),
        post("quadratic base64, tabs /batch/", "/batch/", quadratic.replace(b" ", b"\t"), JSON),
        post("quadratic base64, v1", "/i/v1/analytics/events", quadratic, bearer),
        post("quadratic base64, /flags/", "/flags/?v=2", quadratic, TEXT),
        post("quadratic base64, form /decide/", "/decide/", b"data=" + plus, FORM),
        post(
            "25 MB lz64 /batch/, no token",
            "/batch/?compression=lz64",
            base64.b64encode(os.urandom(25 * MiB * 3 // 4)),
            TEXT,
        ),
        post("18 MiB of tiny events, gzip, no token", "/batch/", _tiny_events(), TEXT),
        post("gzip bomb (1 GiB of zeros)", "/batch/", _bomb(), TEXT),
        post("event is a list", "/batch/", batch({**event, "event": []}), JSON),
        post("event is an object", "/capture/", batch({**event, "event": {}}), JSON),
        *[
            post(f"timestamp {at}", path, batch({**event, "timestamp": at}), JSON)
            for at, path in zip(OUT_OF_RANGE, ("/e/", "/i/v0/e/"), strict=True)
        ],
        *[
            post(f"sent_at {at}", path, batch(event, sent_at=at), JSON)
            for at, path in zip(OUT_OF_RANGE, ("/track/", "/engage/"), strict=True)
        ],
        post(
            "v1, out-of-range timestamps",
            "/i/v1/analytics/events",
            json.dumps({"batch": [{**event, "timestamp": at} for at in OUT_OF_RANGE]}).encode(),
            bearer,
        ),
        post("/flags/?v=²", "/flags/?v=" + quote("²"), b'{"token": "%s"}' % token.encode(), JSON),
        post("/decide/?v= 5,000 digits", "/decide/?v=" + "9" * 5000, b"{}", JSON),
        post(
            "NUL and 5,000-character names",
            "/batch/",
            batch({**event, "event": "a\0b"}, {**event, "event": "n" * 5000}),
            JSON,
            events=2,
        ),
        post(
            "distinct_id nested 300 deep",
            "/batch/",
            batch({**event, "distinct_id": json.loads("[" * 300 + "]" * 300)}),
            JSON,
        ),
        post("/s/ recording, 1 MiB", "/s/", os.urandom(MiB), TEXT),
    ]


def _tiny_events() -> bytes:
    body = b'{"batch": [' + b",".join([b'{"event":"e","distinct_id":"d"}'] * 600_000) + b"]}"
    return gzip.compress(body, 1)


def _bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * MiB
    return b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()


def flood(
    address: tuple[str, int],
    token: str,
    rounds_per_second: float,
    connections: int,
    events: tuple[Event, Event],
    out: Any,
) -> None:
    """Process entry point: send hostile rounds until told to stop; put the tallies on ``out``."""
    ready, stop = events
    host, port = address
    catalogue = requests(f"{host}:{port}", token)
    ready.set()
    out.put(run_async(_flood(host, port, catalogue, rounds_per_second, connections, stop)))


async def _flood(
    host: str,
    port: int,
    catalogue: list[Hostile],
    rounds_per_second: float,
    connections: int,
    stop: Event,
) -> dict[str, Any]:
    statuses: dict[str, Counter[int]] = {h.kind: Counter() for h in catalogue}
    tally = {"accepted_events": 0, "max_slip": 0.0}
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(host, port))

    async def send(connection: Connection, hostile: Hostile) -> None:
        try:
            response = await connection.request(hostile.wire)
        except (HttpError, OSError, asyncio.IncompleteReadError):
            statuses[hostile.kind][0] += 1  # the server closed the connection
            await connection.close()
            connection = await Connection.open(host, port)
        else:
            statuses[hostile.kind][response.status] += 1
            if response.status == 200:
                tally["accepted_events"] += hostile.events
        idle.put_nowait(connection)

    interval = 1 / (rounds_per_second * len(catalogue))
    started, tasks = time.perf_counter(), []
    index = 0
    while not stop.is_set():
        due = started + index * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = await idle.get()
        tally["max_slip"] = max(tally["max_slip"], time.perf_counter() - due)
        tasks.append(asyncio.create_task(send(connection, catalogue[index % len(catalogue)])))
        index += 1
    tally["rounds_per_second"] = index / len(catalogue) / (time.perf_counter() - started)
    await asyncio.gather(*tasks)
    while not idle.empty():
        await idle.get_nowait().close()
    return {"statuses": {k: dict(v) for k, v in statuses.items()}, **tally}
