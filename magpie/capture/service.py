"""Capture: a decoded, validated request becomes one durable queue record.

The SDK is answered only after the record is fsynced, so a success always
means the events will be ingested. Everything that can be wrong with a
request is found before the queue and reported with a stable code.
Decoding (decompression, JSON, validation) may run in a pool of processes;
the project lookup, the quota check and the queue stay here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import orjson

from magpie.capture.decoder import CaptureLimits, DecodedBatch, decode_v0, decode_v1
from magpie.capture.decoding import WireRequest
from magpie.capture.rules import clean_token
from magpie.clock import Clock, utc_naive
from magpie.errors import IngestKeyRequired, IngestKeyUnknown
from magpie.queue.local import LocalLog
from magpie.store.duckdb.projects import Project, TokenDirectory

__all__ = ["CaptureLimits", "CaptureOutcome", "CaptureService", "QuotaCheck"]

_QUOTA_DROP = {"result": "drop", "details": "quota_limited: the project is over its billing quota"}


class QuotaCheck(Protocol):
    def is_limited(self, project_id: int) -> bool: ...


@dataclass(frozen=True)
class CaptureOutcome:
    accepted: int
    # The project is over its billing quota: the events were counted as dropped,
    # not stored, and the SDK is told so (PostHog's "quota_limited").
    quota_limited: bool = False


Decoder = Callable[[WireRequest, CaptureLimits, datetime], DecodedBatch]


class CaptureService:
    def __init__(
        self,
        tokens: TokenDirectory,
        queue: LocalLog,
        clock: Clock,
        limits: CaptureLimits,
        quota: QuotaCheck,
    ) -> None:
        self._tokens = tokens
        self._queue = queue
        self._clock = clock
        self._limits = limits
        self._quota = quota
        self._decoders: Executor | None = None

    def decode_in(self, pool: Executor | None) -> None:
        """Decode requests in ``pool`` (processes), or in this thread when None."""
        self._decoders = pool

    async def capture(self, request: WireRequest) -> CaptureOutcome:
        """Validate a v0 request and store it durably (or count it as dropped over quota)."""
        decoded = await self._decode(decode_v0, request)
        assert decoded.token is not None
        project = self._project(decoded.token)
        if self._quota.is_limited(project.id):
            await self._queue.append(self._drop_record(project, decoded.count))
            return CaptureOutcome(0, quota_limited=True)
        await self._queue.append(self._record(project, request, decoded))
        return CaptureOutcome(decoded.count)

    async def capture_v1(self, request: WireRequest) -> dict[str, dict[str, str]]:
        """The strict protocol: Bearer token, per-event results keyed by uuid."""
        project = self._project(clean_token(_bearer(request.headers.get("authorization", ""))))
        decoded = await self._decode(decode_v1, request)
        results = decoded.results or {}
        if decoded.count and self._quota.is_limited(project.id):
            await self._queue.append(self._drop_record(project, decoded.count))
            return {k: _QUOTA_DROP if v["result"] == "ok" else v for k, v in results.items()}
        if decoded.count:
            await self._queue.append(self._record(project, request, decoded))
        return results

    async def _decode(self, decoder: Decoder, request: WireRequest) -> DecodedBatch:
        now = self._clock.now()
        if self._decoders is None:
            return decoder(request, self._limits, now)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._decoders, decoder, request, self._limits, now)

    def _project(self, token: str) -> Project:
        project = self._tokens.resolve(token)
        if project is None:
            raise IngestKeyUnknown("no project has this api_key")
        return project

    def _drop_record(self, project: Project, count: int) -> bytes:
        # Durable like events, so the dropped count survives a crash too.
        return orjson.dumps(
            {"project_id": project.id, "dropped": count, "received_at": _iso(self._clock.now())}
        )

    def _record(self, project: Project, request: WireRequest, decoded: DecodedBatch) -> bytes:
        head = orjson.dumps(
            {
                "project_id": project.id,
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
