"""The CPU-heavy half of capture: request bytes → validated events, as JSON.

Pure functions of the request and the time, with no access to the store, so
that they can run in a separate process: on a machine with two cores,
decoding beside the ingest worker (rather than under the same interpreter
lock) is what lets capture keep up and answer fast.

Given a ``LightBudget``, a decoder gives up with ``TooHeavy`` as soon as the
request turns out to cost more than the budget allows; capture then decodes
it again in its decode process (lanes.py), where it cannot hold up others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from magpie.capture.decoding import (
    DECODERS,
    Decoder,
    WireRequest,
    decode_payload,
    refuse_large_lz64,
)
from magpie.capture.parsing import (
    EventContext,
    batch_token,
    build_event,
    drop_filtered,
    load_json,
    parse_body,
)
from magpie.capture.timestamps import parse_client_time, sent_at_from_millis
from magpie.clock import utc_naive
from magpie.errors import MagpieError, PayloadTooLarge, RequestParsingError, UnsupportedEncoding

KiB = 1024

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
    # No SDK sends more than a few hundred events at once; the cap bounds what
    # one request costs to validate and to ingest, however small its events.
    events_per_request: int = 20_000

    def for_path(self, path: str) -> int:
        return self.batch_body if path.startswith("/batch") else self.event_body

    def wire_cap(self, path: str) -> int:
        """Most bytes read off the wire for ``path``: base64 bodies are a third larger
        than what they decode to."""
        return self.for_path(path) * 4 // 3 + 4096


@dataclass(frozen=True)
class LightBudget:
    """What a request may cost to be decoded on capture's event loop: a few ms at most.

    posthog-js and posthog-python requests (up to a hundred or so events, tens
    of KiB) fit; larger ones are decoded in the decode process.
    """

    raw_bytes: int = 384 * KiB  # the body (or ?data=) as received
    decoded_bytes: int = 256 * KiB  # after decompression
    events: int = 500


class TooHeavy(Exception):
    """The request costs more than the light budget: decode it in the decode process."""


def _to_decode_process(payload: bytes, limit: int) -> bytes:
    raise TooHeavy("lz64 is decoded in pure Python, in the decode process")


# Within the light budget, lz64 (pure Python, about 1 µs per input byte) is never tried.
_LIGHT_DECODERS: Mapping[str, Decoder] = {**DECODERS, "lz64": _to_decode_process}


@dataclass(frozen=True)
class DecodedBatch:
    token: str | None  # None on v1, where the token comes from the Authorization header
    events_json: bytes  # the validated events as a JSON array
    count: int
    sent_at: str | None
    historical_migration: bool
    # v1 only: per-event results keyed by uuid.
    results: dict[str, dict[str, str]] | None = None


def decode_v0(
    request: WireRequest,
    limits: CaptureLimits,
    now: datetime,
    light: LightBudget | None = None,
) -> DecodedBatch:
    payload = _payload(
        request, limits.for_path(request.path), light, legacy_path=_is_legacy(request.path)
    )
    raw = parse_body(load_json(payload), engage_path=request.path.startswith("/engage"))
    _check_count(len(raw.events), limits, light)
    token = batch_token(raw)
    sent_at = raw.sent_at or sent_at_from_millis(
        request.query.get("_") or request.query.get("sent_at")
    )
    context = EventContext(now, sent_at)
    events = [build_event(event, context) for event in drop_filtered(raw.events)]
    return DecodedBatch(
        token, _events_json(events), len(events), _iso(sent_at), raw.historical_migration
    )


def decode_v1(
    request: WireRequest,
    limits: CaptureLimits,
    now: datetime,
    light: LightBudget | None = None,
) -> DecodedBatch:
    """The strict protocol: each event is judged alone and gets its own result."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in V1_ENCODINGS:
        raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported")
    body = load_json(_payload(request, limits.batch_body, light, legacy_path=False))
    if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
        raise RequestParsingError("the body must be an object with a batch array")
    _check_count(len(body["batch"]), limits, light)
    created_at = body.get("created_at")
    sent_at = parse_client_time(created_at, "created_at") if isinstance(created_at, str) else None
    lib = _sdk_info(request.headers.get("posthog-sdk-info", ""))
    context = EventContext(now, sent_at)
    results: dict[str, dict[str, str]] = {}
    accepted = []
    for raw in body["batch"]:
        uuid = raw.get("uuid") if isinstance(raw, dict) else None
        key = uuid if isinstance(uuid, str) else ""
        try:
            event = build_event(_v1_to_v0(raw, lib), context)
            _events_json([event])
        except MagpieError as exc:
            results[key] = {"result": "drop", "details": f"{exc.code}: {exc.message}"}
            continue
        results[key or event["uuid"]] = {"result": "ok"}
        accepted.append(event)
    return DecodedBatch(
        None,
        _events_json(accepted),
        len(accepted),
        _iso(sent_at),
        body.get("historical_migration") is True,
        results,
    )


def _payload(
    request: WireRequest, limit: int, light: LightBudget | None, *, legacy_path: bool
) -> bytes:
    if light is None:
        return decode_payload(request, limit, legacy_path=legacy_path)
    raw_size = len(request.body) + len(request.query.get("data", ""))
    if raw_size > light.raw_bytes:
        # Rather than ship megabytes to the decode process to be refused there.
        refuse_large_lz64(request.query, request.headers, len(request.body), request.body[:2])
        raise TooHeavy(f"{raw_size} bytes received")
    light_limit = min(limit, light.decoded_bytes)
    try:
        return decode_payload(
            request, light_limit, legacy_path=legacy_path, decoders=_LIGHT_DECODERS
        )
    except PayloadTooLarge:
        if light_limit < limit:
            raise TooHeavy(f"more than {light_limit} bytes decoded") from None
        raise


def _check_count(count: int, limits: CaptureLimits, light: LightBudget | None) -> None:
    if count > limits.events_per_request:
        raise PayloadTooLarge(
            f"a request may carry at most {limits.events_per_request} events; this one has {count}"
        )
    if light is not None and count > light.events:
        raise TooHeavy(f"{count} events")


def _events_json(events: list[dict[str, Any]]) -> bytes:
    try:
        return orjson.dumps(events, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        raise RequestParsingError(f"event properties cannot be stored: {exc}") from None


def _is_legacy(path: str) -> bool:
    return not path.startswith(("/batch", "/i/v0/e"))


def _iso(at: datetime | None) -> str | None:
    return utc_naive(at).isoformat() if at else None


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
