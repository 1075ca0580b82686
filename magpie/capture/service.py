"""Capture: a decoded, validated request becomes one durable queue record.

The SDK is answered only after the record is fsynced, so a success always
means the events will be ingested. Everything that can be wrong with a
request is found here, before the queue, and reported with a stable code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from magpie.capture.decoding import WireRequest, decode_payload
from magpie.capture.parsing import (
    EventContext,
    batch_token,
    build_event,
    drop_filtered,
    load_json,
    parse_body,
)
from magpie.capture.rules import clean_token
from magpie.capture.timestamps import parse_timestamp, sent_at_from_millis
from magpie.clock import Clock, utc_naive
from magpie.errors import (
    IngestKeyRequired,
    IngestKeyUnknown,
    MagpieError,
    RequestParsingError,
    UnsupportedEncoding,
)
from magpie.queue.local import LocalLog
from magpie.store.duckdb.projects import Project, TokenDirectory

V1_ENCODINGS = frozenset({"", "identity", "gzip", "deflate"})
# v1 carries these as typed options; Magpie stores them as the properties v0 uses.
V1_OPTIONS_TO_PROPERTIES = {
    "process_person_profile": "$process_person_profile",
    "disable_skew_correction": "$ignore_sent_at",
    "cookieless_mode": "$cookieless_mode",
    "product_tour_id": "$product_tour_id",
}
V1_FIELDS_TO_PROPERTIES = {"session_id": "$session_id", "window_id": "$window_id"}


@dataclass(frozen=True)
class CaptureLimits:
    batch_body: int
    event_body: int

    def for_path(self, path: str) -> int:
        return self.batch_body if path.startswith("/batch") else self.event_body


class QuotaCheck(Protocol):
    def is_limited(self, project_id: int) -> bool: ...


@dataclass(frozen=True)
class CaptureOutcome:
    accepted: int
    # The project is over its billing quota: the events were counted as dropped,
    # not stored, and the SDK is told so (PostHog's "quota_limited").
    quota_limited: bool = False


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

    async def capture(self, request: WireRequest) -> CaptureOutcome:
        """Validate a v0 request and store it durably (or count it as dropped over quota)."""
        payload = decode_payload(
            request, self._limits.for_path(request.path), legacy_path=_is_legacy(request.path)
        )
        raw = parse_body(load_json(payload), engage_path=request.path.startswith("/engage"))
        project = self._project(batch_token(raw))
        sent_at = raw.sent_at or sent_at_from_millis(
            request.query.get("_") or request.query.get("sent_at")
        )
        context = EventContext(self._clock.now(), sent_at)
        events = [build_event(event, context) for event in drop_filtered(raw.events)]
        if self._quota.is_limited(project.id):
            await self._queue.append(self._drop_record(project, len(events)))
            return CaptureOutcome(0, quota_limited=True)
        record = self._record(project, request, sent_at, raw.historical_migration, events)
        await self._queue.append(record)
        return CaptureOutcome(len(events))

    async def capture_v1(self, request: WireRequest) -> dict[str, dict[str, str]]:
        """The strict protocol: Bearer token, per-event results keyed by uuid."""
        token = _bearer(request.headers.get("authorization", ""))
        project = self._project(clean_token(token))
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if encoding not in V1_ENCODINGS:
            raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported")
        body = load_json(decode_payload(request, self._limits.batch_body, legacy_path=False))
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            raise RequestParsingError("the body must be an object with a batch array")
        sent_at = (
            parse_timestamp(body["created_at"]) if isinstance(body.get("created_at"), str) else None
        )
        lib = _sdk_info(request.headers.get("posthog-sdk-info", ""))
        context = EventContext(self._clock.now(), sent_at)
        results: dict[str, dict[str, str]] = {}
        accepted = []
        for raw in body["batch"]:
            key = str(raw.get("uuid") or "") if isinstance(raw, dict) else ""
            try:
                event = build_event(_v1_to_v0(raw, lib), context)
            except MagpieError as exc:
                results[key] = {"result": "drop", "details": f"{exc.code}: {exc.message}"}
                continue
            results[key or event["uuid"]] = {"result": "ok"}
            accepted.append(event)
        if accepted and self._quota.is_limited(project.id):
            await self._queue.append(self._drop_record(project, len(accepted)))
            return {
                key: {
                    "result": "drop",
                    "details": "quota_limited: the project is over its billing quota",
                }
                if value["result"] == "ok"
                else value
                for key, value in results.items()
            }
        if accepted:
            historical = body.get("historical_migration") is True
            await self._queue.append(self._record(project, request, sent_at, historical, accepted))
        return results

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

    def _record(
        self,
        project: Project,
        request: WireRequest,
        sent_at: datetime | None,
        historical_migration: bool,
        events: Sequence[dict[str, Any]],
    ) -> bytes:
        record = {
            "project_id": project.id,
            "ip": request.client_ip,
            "sent_at": _iso(sent_at),
            "received_at": _iso(self._clock.now()),
            "historical_migration": historical_migration,
            "events": events,
        }
        try:
            return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError as exc:
            raise RequestParsingError(f"event properties cannot be stored: {exc}") from None


def _is_legacy(path: str) -> bool:
    return not path.startswith(("/batch", "/i/v0/e"))


def _iso(at: datetime | None) -> str | None:
    return utc_naive(at).isoformat() if at else None


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise IngestKeyRequired("send the project token as 'Authorization: Bearer <token>'")
    return token.strip()


def _sdk_info(header: str) -> dict[str, str]:
    name, _, version = header.strip().partition("/")
    info = {"$lib": name} if name else {}
    if version:
        info["$lib_version"] = version
    return info


def _v1_to_v0(raw: object, lib: dict[str, str]) -> object:
    if not isinstance(raw, dict):
        return raw
    properties = raw.get("properties")
    properties = dict(properties) if isinstance(properties, dict) else properties
    if isinstance(properties, dict):
        options = raw.get("options")
        if isinstance(options, dict):
            for option, prop in V1_OPTIONS_TO_PROPERTIES.items():
                if option in options:
                    properties[prop] = options[option]
        for field, prop in V1_FIELDS_TO_PROPERTIES.items():
            if isinstance(raw.get(field), str):
                properties[prop] = raw[field]
        for key, value in lib.items():
            properties.setdefault(key, value)
    return {**raw, "properties": properties}
