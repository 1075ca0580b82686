"""Capture: a decoded, validated request becomes one durable queue record.

The SDK is answered only after the record is fsynced, so a success always
means the events will be ingested. Everything that can be wrong with a
request is found before the queue and reported with a stable code.
Under ``magpie serve`` this runs in the capture process (see process.py).
Small requests are decoded inline, large ones in the decode process
(lanes.py); a project over its rate limit is refused with 429 (ratelimit.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import orjson

from magpie.capture.decoder import CaptureLimits, DecodedBatch
from magpie.capture.decoding import WireRequest
from magpie.capture.lanes import Lanes
from magpie.capture.ratelimit import RateLimit, TokenBuckets
from magpie.capture.rules import clean_token
from magpie.clock import Clock, utc_naive
from magpie.errors import IngestKeyRequired, IngestKeyUnknown
from magpie.queue import QueueWriter

__all__ = ["Capture", "CaptureLimits", "CaptureOutcome", "CaptureService", "QuotaCheck"]

_QUOTA_DROP = {"result": "drop", "details": "quota_limited: the project is over its billing quota"}


class QuotaCheck(Protocol):
    def is_limited(self, project_id: int) -> bool: ...


class ProjectIds(Protocol):
    def project_id(self, token: str) -> int | None: ...


@dataclass(frozen=True)
class CaptureOutcome:
    accepted: int
    # The project is over its billing quota: the events were counted as dropped,
    # not stored, and the SDK is told so (PostHog's "quota_limited").
    quota_limited: bool = False
    # Where the queue is durable up to, once this request's record is in it.
    position: int | None = None
    # v1 only: per-event results keyed by uuid.
    results: dict[str, dict[str, str]] | None = None


class Capture(Protocol):
    """Capture as the HTTP layer uses it: in this process, or in the capture process."""

    async def capture(self, request: WireRequest) -> CaptureOutcome: ...

    async def capture_v1(self, request: WireRequest) -> CaptureOutcome: ...


class CaptureService:
    def __init__(
        self,
        tokens: ProjectIds,
        queue: QueueWriter,
        clock: Clock,
        limits: CaptureLimits,
        quota: QuotaCheck,
        rate_limit: RateLimit | None = None,
        lanes: Lanes | None = None,
    ) -> None:
        self._tokens = tokens
        self._queue = queue
        self._clock = clock
        self._quota = quota
        self._buckets = TokenBuckets(rate_limit) if rate_limit else None
        self.lanes = lanes or Lanes(limits)

    def close(self) -> None:
        self.lanes.close()

    async def capture(self, request: WireRequest) -> CaptureOutcome:
        """Validate a v0 request and store it durably (or count it as dropped over quota)."""
        decoded = await self.lanes.v0(request, self._clock.now())
        assert decoded.token is not None
        project_id = self._project_id(decoded.token)
        self._take(project_id, decoded.count)
        if self._quota.is_limited(project_id):
            position = await self._queue.append(self._drop_record(project_id, decoded.count))
            return CaptureOutcome(0, quota_limited=True, position=position)
        position = await self._queue.append(self._record(project_id, request, decoded))
        return CaptureOutcome(decoded.count, position=position)

    async def capture_v1(self, request: WireRequest) -> CaptureOutcome:
        """The strict protocol: Bearer token, per-event results keyed by uuid."""
        project_id = self._project_id(
            clean_token(_bearer(request.headers.get("authorization", "")))
        )
        decoded = await self.lanes.v1(request, self._clock.now())
        results = decoded.results or {}
        if not decoded.count:
            return CaptureOutcome(0, results=results)
        self._take(project_id, decoded.count)
        if self._quota.is_limited(project_id):
            dropped = await self._queue.append(self._drop_record(project_id, decoded.count))
            limited = {k: _QUOTA_DROP if v["result"] == "ok" else v for k, v in results.items()}
            return CaptureOutcome(0, quota_limited=True, position=dropped, results=limited)
        position = await self._queue.append(self._record(project_id, request, decoded))
        return CaptureOutcome(decoded.count, position=position, results=results)

    def _take(self, project_id: int, events: int) -> None:
        if self._buckets is not None:
            self._buckets.take(project_id, events)

    def _project_id(self, token: str) -> int:
        project_id = self._tokens.project_id(token)
        if project_id is None:
            raise IngestKeyUnknown("no project has this api_key")
        return project_id

    def _drop_record(self, project_id: int, count: int) -> bytes:
        # Durable like events, so the dropped count survives a crash too.
        return orjson.dumps(
            {"project_id": project_id, "dropped": count, "received_at": _iso(self._clock.now())}
        )

    def _record(self, project_id: int, request: WireRequest, decoded: DecodedBatch) -> bytes:
        head = orjson.dumps(
            {
                "project_id": project_id,
                "ip": request.client_ip,
                "sent_at": decoded.sent_at,
                "received_at": _iso(self._clock.now()),
                "historical_migration": decoded.historical_migration,
            }
        )
        # The events are already JSON (perhaps from another process): splice them
        # in rather than parse and serialise them again.
        return head[:-1] + b',"events":' + decoded.events_json + b"}"


def _iso(at: datetime | None) -> str | None:
    return utc_naive(at).isoformat() if at else None


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise IngestKeyRequired("send the project token as 'Authorization: Bearer <token>'")
    return token.strip()
