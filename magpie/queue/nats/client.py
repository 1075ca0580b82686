"""One connection to NATS, on an event loop of its own.

nats-py is asyncio and a connection belongs to the loop it was made on, but
Magpie calls the queue from several places: capture's event loop, the ingest
worker's thread, the lease heartbeat. So the connection lives on a private
loop in a daemon thread, and every call is handed to it: ``call`` blocks a
thread until the answer, ``acall`` awaits it from any other loop.

A NATS that cannot be reached, or a JetStream that does not answer, becomes
``QueueUnavailable`` (503 at capture), never a hang: the connection is made
lazily and again after it was lost, and every request has a deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from magpie.errors import QueueUnavailable
from magpie.queue.nats.url import QueueUrl

log = logging.getLogger(__name__)

T = TypeVar("T")

# What "NATS is not there" looks like to nats-py: no server, a lost or
# reconnecting connection, a request without answer, JetStream not answering.
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    nats.errors.NoServersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError,
    nats.errors.FlushTimeoutError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)


class NatsClient:
    def __init__(
        self, url: QueueUrl, *, request_timeout: float = 5.0, name: str = "magpie"
    ) -> None:
        self.url = url
        self.request_timeout = request_timeout
        # A call makes a few requests (a read fetches in several), each bounded.
        self.call_deadline = max(30.0, 6 * request_timeout)
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="magpie-nats", daemon=True
        )
        self._thread.start()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connecting: asyncio.Lock | None = None
        self._closed = False

    # -- handing work to the loop ---------------------------------------------

    def call(self, work: Callable[[JetStreamContext], Awaitable[T]]) -> T:
        """Run ``work(js)`` on the connection's loop and wait for its result, no
        longer than ``call_deadline``: every request inside has its own deadline,
        so this one only catches a loop that stopped answering (a connection
        wedged mid-reconnect), which must be an outage and not a hung worker."""
        future = self._submit(work)
        try:
            return future.result(timeout=self.call_deadline)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise QueueUnavailable(
                f"the queue (NATS at {self.url.server}) did not answer in {self.call_deadline:g} s"
            ) from exc

    async def acall(self, work: Callable[[JetStreamContext], Awaitable[T]]) -> T:
        """The same, awaited from another event loop (capture's)."""
        return await asyncio.wrap_future(self._submit(work))

    def soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the connection's loop, from any thread."""
        if self._closed:
            raise QueueUnavailable("the queue connection is closed")
        self._loop.call_soon_threadsafe(callback)

    def _submit(
        self, work: Callable[[JetStreamContext], Awaitable[T]]
    ) -> concurrent.futures.Future[T]:
        if self._closed:
            raise QueueUnavailable("the queue connection is closed")
        return asyncio.run_coroutine_threadsafe(self._run(work), self._loop)

    async def _run(self, work: Callable[[JetStreamContext], Awaitable[T]]) -> T:
        js = await self.jetstream()
        try:
            return await work(js)
        except UNREACHABLE as exc:
            raise self.unavailable(exc) from exc

    def unavailable(self, cause: BaseException) -> QueueUnavailable:
        if isinstance(cause, QueueUnavailable):
            return cause
        return QueueUnavailable(f"the queue (NATS at {self.url.server}) did not answer")

    @property
    def nc(self) -> Client:
        """The live connection (only on the loop, inside ``work``)."""
        assert self._nc is not None
        return self._nc

    # -- the connection -------------------------------------------------------

    async def jetstream(self) -> JetStreamContext:
        """The JetStream context of a live connection (on the loop only)."""
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._nc is None or self._nc.is_closed:
                await self._connect()
            elif not self._nc.is_connected:
                # Reconnecting in the background: fail now rather than queue the
                # request behind a connection that may not come back in time.
                raise QueueUnavailable(f"the queue (NATS at {self.url.server}) is unreachable")
        assert self._js is not None
        return self._js

    async def _connect(self) -> None:
        options: dict[str, Any] = {
            "servers": [self.url.server],
            "name": self._name,
            "connect_timeout": 2,
            "reconnect_time_wait": 0.5,
            # Two attempts at start (nats-py reads 0 as "for ever"), so an
            # unreachable NATS is an error now ...
            "max_reconnect_attempts": 1,
            "allow_reconnect": True,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
        }
        if self.url.user is not None:
            options["user"] = self.url.user
            options["password"] = self.url.password
        if self.url.tls:
            options["tls"] = ssl.create_default_context()
        try:
            self._nc = await nats.connect(**options)
        except UNREACHABLE as exc:
            raise QueueUnavailable(f"the queue (NATS at {self.url.server}) is unreachable") from exc
        # ... and once connected, reconnecting for ever: nats-py reads this option
        # at each reconnection (with -1 from the start, connect would never return).
        self._nc.options["max_reconnect_attempts"] = -1
        self._js = self._nc.jetstream(timeout=self.request_timeout)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("queue connection: %s", exc)

    async def _on_disconnected(self) -> None:
        if self._closed:
            return
        log.warning("queue: lost the connection to NATS at %s; reconnecting", self.url.server)

    async def _on_reconnected(self) -> None:
        log.info("queue: connected to NATS at %s again", self.url.server)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def shut() -> None:
            if self._nc is not None and not self._nc.is_closed:
                try:
                    await asyncio.wait_for(self._nc.close(), self.request_timeout)
                except Exception as exc:  # closing a connection NATS already lost
                    log.debug("queue connection close: %s", exc)

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
