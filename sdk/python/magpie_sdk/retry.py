"""When to retry a batch and how long to wait (posthog-python's policy, compat §1.6)."""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime


def is_retryable(status: int) -> bool:
    """5xx (e.g. Magpie's 503 on a disk failure), 408 and 429 may succeed later.
    Any other 4xx means the request itself is wrong and would fail again."""
    return status >= 500 or status in (408, 429)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0
    cap: float = 30.0
    # A misbehaving proxy answering "Retry-After: 86400" must not park the
    # sending thread (and every later event) for a day.
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.base * 2.0**attempt, self.cap)
        # Jitter in [ceiling/2, ceiling]: many desktop installs that lost the
        # server at the same moment should not all come back at the same moment.
        return ceiling / 2 + random.random() * ceiling / 2
