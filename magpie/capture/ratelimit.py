"""Capture's rate limit per project: a token bucket of events for each project token.

Off unless ``MAGPIE_CAPTURE_RATE_LIMIT_EVENTS_PER_SECOND`` is set. A request the
bucket cannot take is refused whole with 429 and ``Retry-After`` (never
accepted and dropped), so SDKs that retry send it again later. The buckets
live wherever capture runs (the capture process, or the server process), and
are only made for tokens of real projects, so unknown tokens cannot grow them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from magpie.errors import RateLimited
from magpie.settings import Settings, SettingsError

# Without a burst setting, a project may send this many seconds' worth at once.
DEFAULT_BURST_SECONDS = 10


@dataclass(frozen=True)
class RateLimit:
    events_per_second: float
    burst_events: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimit | None:
        rate = settings.capture_rate_limit_events_per_second
        burst = settings.capture_rate_limit_burst_events
        if rate is None:
            if burst is not None:
                raise SettingsError(
                    "MAGPIE_CAPTURE_RATE_LIMIT_BURST_EVENTS needs "
                    "MAGPIE_CAPTURE_RATE_LIMIT_EVENTS_PER_SECOND"
                )
            return None
        if not rate > 0 or math.isinf(rate):
            raise SettingsError("MAGPIE_CAPTURE_RATE_LIMIT_EVENTS_PER_SECOND must be above 0")
        if burst is None:
            burst = max(1, math.ceil(rate * DEFAULT_BURST_SECONDS))
        if burst < 1:
            raise SettingsError("MAGPIE_CAPTURE_RATE_LIMIT_BURST_EVENTS must be at least 1")
        return cls(rate, burst)


class TokenBuckets:
    """One bucket per project, refilled at ``events_per_second`` up to ``burst_events``.

    A request takes as many tokens as it has events. One larger than the whole
    bucket is let through when the bucket is full and leaves it in debt, which
    later requests wait out: otherwise a batch above the burst could never pass.
    """

    def __init__(self, limit: RateLimit, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rate = limit.events_per_second
        self._burst = float(limit.burst_events)
        self._monotonic = monotonic
        self._buckets: dict[int, tuple[float, float]] = {}  # project id → (tokens, when)

    def take(self, project_id: int, events: int) -> None:
        """Take ``events`` tokens from the project's bucket, or raise RateLimited."""
        now = self._monotonic()
        tokens, last = self._buckets.get(project_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        needed = min(float(events), self._burst)
        if tokens < needed:
            self._buckets[project_id] = (tokens, now)
            wait = math.ceil((needed - tokens) / self._rate)
            raise RateLimited(
                f"this project may send {self._rate:g} events per second "
                f"(bursts of {self._burst:g}); retry in {wait} s",
                retry_after=max(1, wait),
            )
        self._buckets[project_id] = (tokens - events, now)
