"""Request bodies → validated events (compat §1.2).

Four body shapes are accepted, tried in PostHog's order: an array of events, a
batch object, one event, and an ``/engage`` update (an event without a name,
rewritten to ``$identify``). Each event is then checked field by field and
given its uuid and server-side timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from magpie.capture.rules import (
    clean_event_name,
    clean_token,
    distinct_id_of,
    event_token,
    event_uuid,
)
from magpie.capture.timestamps import parse_client_time, resolve_timestamp
from magpie.clock import uuid7
from magpie.errors import (
    EmptyBatch,
    IngestKeyRequired,
    InvalidCookielessMode,
    RequestDecodingError,
    RequestParsingError,
    UnroutableEvents,
)

FILTERED_EVENTS = frozenset({"$performance_event"})


@dataclass
class RawBatch:
    token: object | None
    events: list[Any]
    sent_at: datetime | None
    historical_migration: bool


def load_json(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestDecodingError("payload is not valid UTF-8") from None
        raise RequestParsingError(f"invalid JSON: {exc}") from None


def parse_body(body: Any, *, engage_path: bool) -> RawBatch:
    if isinstance(body, list):
        return RawBatch(None, body, None, False)
    if not isinstance(body, dict):
        raise RequestParsingError("the body must be a JSON object or array")
    if "batch" in body:
        if not isinstance(body["batch"], list):
            raise RequestParsingError("batch must be an array", attr="batch")
        token = body.get("api_key", body.get("token"))
        sent_at = body.get("sent_at")
        parsed_sent_at = parse_client_time(sent_at, "sent_at") if isinstance(sent_at, str) else None
        historical = body.get("historical_migration") is True
        return RawBatch(token, body["batch"], parsed_sent_at, historical)
    if "event" not in body and engage_path:
        return RawBatch(None, [{**body, "event": "$identify"}], None, False)
    return RawBatch(None, [body], None, False)


def batch_token(batch: RawBatch) -> str:
    """The batch's project token: the body's, or the one every event agrees on."""
    if batch.token is not None:
        return clean_token(batch.token)
    tokens = {_hashable(event_token(e)) for e in batch.events if isinstance(e, dict)}
    tokens.discard(None)
    if not tokens:
        raise IngestKeyRequired("no api_key was sent: set the project token")
    if len(tokens) > 1:
        raise UnroutableEvents("the events of one request carry different tokens")
    return clean_token(tokens.pop())


# Objects and arrays are never valid tokens (clean_token says so): they only
# need a key in the set of tokens, and their repr could be megabytes long or
# recurse too deep.
_NOT_TEXT = ("not", "text")


def _hashable(value: object) -> object:
    return value if value is None or isinstance(value, str | int | float | bool) else _NOT_TEXT


@dataclass(frozen=True)
class EventContext:
    now: datetime
    sent_at: datetime | None


def build_event(raw: object, context: EventContext) -> dict[str, Any]:
    """One validated event in Magpie's queue form, or a capture error saying what is wrong."""
    if not isinstance(raw, dict):
        raise RequestParsingError("each event must be a JSON object")
    name = clean_event_name(raw.get("event"))
    properties = _object_field(raw, "properties")
    _check_cookieless(properties.get("$cookieless_mode"))
    timestamp = resolve_timestamp(
        now=context.now,
        timestamp=_timestamp_text(raw.get("timestamp")),
        offset_ms=_offset(raw.get("offset")),
        sent_at=context.sent_at,
        ignore_sent_at=properties.get("$ignore_sent_at") is True,
    )
    event: dict[str, Any] = {
        "uuid": event_uuid(raw.get("uuid")) or str(uuid7()),
        "event": name,
        "distinct_id": distinct_id_of(raw),
        "timestamp": timestamp.astimezone(UTC).replace(tzinfo=None).isoformat(),
        "properties": properties,
    }
    for key in ("$set", "$set_once"):
        value = _object_field(raw, key, default=None)
        if value is not None:
            event[key] = value
    return event


def drop_filtered(events: list[Any]) -> list[Any]:
    kept = [e for e in events if not _filtered(e)]
    if not events:
        raise EmptyBatch("the batch holds no events")
    if not kept:
        raise EmptyBatch("every event of the batch was filtered out")
    return kept


def _filtered(event: object) -> bool:
    if not isinstance(event, dict):
        return False
    name = event.get("event")
    # Only strings can be in the set: a list or object name is not hashable.
    return isinstance(name, str) and name in FILTERED_EVENTS


def _object_field(raw: dict[str, Any], key: str, default: Any = ...) -> Any:
    value = raw.get(key)
    if value is None:
        return {} if default is ... else default
    if not isinstance(value, dict):
        raise RequestParsingError(f"{key} must be a JSON object", attr=key)
    return value


def _timestamp_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    raise RequestParsingError("timestamp must be a string", attr="timestamp")


def _offset(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestParsingError("offset must be an integer number of milliseconds", attr="offset")
    return value


def _check_cookieless(value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidCookielessMode(
            "$cookieless_mode must be true or false", attr="$cookieless_mode"
        )
