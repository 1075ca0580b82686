"""Field rules of capture: token, event name, distinct id and uuid (compat §1.3, §1.4, §1.9)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson

from magpie.errors import (
    IngestKeyUnknown,
    MissingDistinctId,
    MissingEventName,
    RequestParsingError,
)

MAX_TOKEN_LENGTH = 64
MAX_DISTINCT_ID_LENGTH = 200
# PostHog cuts distinct ids at 200 characters; event names get the same rule,
# so that a runaway name cannot make every insight's event list unreadable.
MAX_EVENT_NAME_LENGTH = 200


def clean_token(raw: object) -> str:
    """A usable project token, or IngestKeyUnknown saying why it is not one."""
    if not isinstance(raw, str):
        raise IngestKeyUnknown("the api_key must be a string")
    token = raw.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii() or "\0" in token:
        raise IngestKeyUnknown("the api_key is not a valid project token")
    if token.startswith("phx_"):
        raise IngestKeyUnknown(
            "a personal API key (phx_) was sent where the project token (phc_) belongs"
        )
    return token


def event_token(event: dict[str, Any]) -> object | None:
    for key in ("token", "$token", "api_key"):
        if event.get(key) is not None:
            return event[key]
    properties = event.get("properties")
    if isinstance(properties, dict):
        return properties.get("token")
    return None


def distinct_id_of(event: dict[str, Any]) -> str:
    """The event's distinct id as a string: top-level first, then ``properties.distinct_id``."""
    raw = event.get("distinct_id")
    if raw is None:
        raw = event.get("$distinct_id")
    if raw is None:
        properties = event.get("properties")
        raw = properties.get("distinct_id") if isinstance(properties, dict) else None
    if raw is None:
        raise MissingDistinctId("every event needs a distinct_id")
    return clean_distinct_id(raw)


def clean_event_name(raw: object) -> str:
    """The event's name: a non-empty string, NUL made U+FFFD, at most 200 characters."""
    if raw is None or raw == "":
        raise MissingEventName("every event needs an event name", attr="event")
    if not isinstance(raw, str):
        raise RequestParsingError("event must be a string", attr="event")
    return raw[:MAX_EVENT_NAME_LENGTH].replace("\0", "\ufffd")


def clean_distinct_id(raw: object) -> str:
    text = raw if isinstance(raw, str) else stringify(raw)
    if not text.strip():
        raise MissingDistinctId("distinct_id is empty")
    return id_text(text)


def id_text(text: str) -> str:
    """An id as stored (PostHog's rule): NUL made U+FFFD, cut at 200 characters.

    For every value that becomes a distinct id: the event's own, and those an
    ``$identify`` or ``$create_alias`` joins to it.
    """
    return text[:MAX_DISTINCT_ID_LENGTH].replace("\0", "\ufffd")


def stringify(value: object) -> str:
    """JSON text of a non-string value, as PostHog's capture renders it (``23`` → ``"23"``)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        # Only nesting deeper than orjson writes (255) gets here: its Python
        # repr would recurse as deep, so it is refused instead.
        raise RequestParsingError("an id is nested too deeply to be written as text") from None


_CANONICAL_UUID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I
)


def event_uuid(raw: object) -> str | None:
    """The client's uuid in canonical form, if it gave one; an empty string counts as absent."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise RequestParsingError("uuid must be a string", attr="uuid")
    if _CANONICAL_UUID.match(raw):
        return raw.lower()
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise RequestParsingError(f"uuid {raw[:64]!r} is not a valid UUID", attr="uuid") from None
