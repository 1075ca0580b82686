"""Delivering one batch of encoded events to ``POST {host}/batch/``, with retries."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import Enum

from magpie_sdk.encoding import encode_batch
from magpie_sdk.retry import Backoff, is_retryable, parse_retry_after
from magpie_sdk.transport import Response, Transport, TransportError
from magpie_sdk.version import LIB_NAME, __version__

logger = logging.getLogger("magpie_sdk")


class Outcome(Enum):
    SENT = "sent"
    REJECTED = "rejected"  # the server refused the request (4xx): retrying cannot help
    FAILED = "failed"  # no success within the allowed retries


class BatchSender:
    def __init__(
        self,
        *,
        api_key: str,
        url: str,
        transport: Transport,
        gzip: bool,
        timeout: float,
        max_retries: int,
        sleep: Callable[[float], None],
        backoff: Backoff | None = None,
    ) -> None:
        self._api_key = api_key
        self._url = url
        self._transport = transport
        self._gzip = gzip
        self._timeout = timeout
        self._max_retries = max(0, max_retries)
        self._sleep = sleep
        self._backoff = backoff or Backoff()
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": f"{LIB_NAME}/{__version__}",
        }
        if gzip:
            self._headers["Content-Encoding"] = "gzip"

    def send(self, events: Sequence[bytes]) -> Outcome:
        """Send the events as one request, retrying transient failures. Never raises."""
        count = len(events)
        problem = ""
        for attempt in range(self._max_retries + 1):
            retry_after: float | None = None
            try:
                response = self._transport.post(
                    self._url, self._body(events), self._headers, self._timeout
                )
            except (TransportError, OSError) as exc:
                problem = str(exc) or type(exc).__name__
            except Exception:
                # A transport bug, not a network condition: retrying would repeat it.
                logger.exception("Magpie transport failed; dropping %d events", count)
                return Outcome.FAILED
            else:
                if 200 <= response.status < 300:
                    return Outcome.SENT
                problem = _describe(response)
                if not is_retryable(response.status):
                    logger.error("Magpie refused a batch of %d events: %s", count, problem)
                    return Outcome.REJECTED
                retry_after = parse_retry_after(response.header("Retry-After"))
            if attempt == self._max_retries:
                break
            delay = self._backoff.delay(attempt, retry_after)
            logger.warning(
                "sending %d events to Magpie failed (%s); retry %d/%d in %.1fs",
                count,
                problem,
                attempt + 1,
                self._max_retries,
                delay,
            )
            self._sleep(delay)
        logger.error(
            "giving up on %d events after %d attempts: %s", count, self._max_retries + 1, problem
        )
        return Outcome.FAILED

    def _body(self, events: Sequence[bytes]) -> bytes:
        # sent_at is stamped per attempt: the server corrects each event's
        # timestamp by (sent_at - its clock), so a sent_at left over from an
        # earlier attempt would shift events into the future by the backoff.
        body = encode_batch(self._api_key, events, datetime.now(UTC))
        return gzip.compress(body, compresslevel=6) if self._gzip else body


def _describe(response: Response) -> str:
    text = response.body[:300].decode("utf-8", errors="replace").strip()
    return f"HTTP {response.status}" + (f": {text}" if text else "")
