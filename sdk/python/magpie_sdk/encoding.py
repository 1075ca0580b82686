"""Turning events into JSON bytes the server will accept.

Events are encoded once, on the caller's thread, when they are captured: the
caller's properties may be mutated right after ``capture()`` returns, the
encoded size is needed to bound batches, and an unencodable value is best
reported where it was captured. Capture refuses a whole request if one event
is invalid JSON, so anything JSON cannot carry is converted here.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

# Per event and per request, the limits posthog-python uses to stay clear of
# the server's caps (1 MB per event in PostHog, 20 MiB per /batch/ body).
MAX_EVENT_BYTES = 900 * 1024
MAX_BATCH_BYTES = 5 * 1024 * 1024

_MAX_DEPTH = 100  # far below the server parser's nesting limit


def _default(value: object) -> object:
    """JSON for the values apps commonly put in properties."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _sanitize(value: object, depth: int, path: frozenset[int]) -> object:
    """A copy of ``value`` that strict JSON can carry: NaN and infinities become
    null, non-string keys become strings, cycles and very deep nesting are cut."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str | int | bool) or value is None:
        return value
    if depth >= _MAX_DEPTH or id(value) in path:
        return None
    inner = path | {id(value)}
    if isinstance(value, Mapping):
        return {_key(k): _sanitize(v, depth + 1, inner) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes):
        return [_sanitize(v, depth + 1, inner) for v in value]
    return _sanitize(_default(value), depth + 1, inner)


def _key(key: object) -> str:
    # Match what json.dumps does for the key types it accepts.
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, int | float):
        return str(key)
    return str(_default(key))


def encode_event(message: Mapping[str, Any]) -> tuple[bytes, bool]:
    """The event as compact JSON bytes, and whether it had to be sanitised."""
    try:
        text = json.dumps(message, default=_default, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8"), False
    except (ValueError, TypeError, RecursionError):
        cleaned = _sanitize(message, 0, frozenset())
        text = json.dumps(cleaned, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8"), True


def encode_batch(api_key: str, events: Sequence[bytes], sent_at: dt.datetime) -> bytes:
    """The ``/batch/`` body: ``{"api_key", "batch": [...], "sent_at"}`` (compat §1.2).

    Joined from the pre-encoded events rather than re-serialised, since a retry
    only changes ``sent_at``.
    """
    head = b'{"api_key":' + json.dumps(api_key).encode() + b',"batch":['
    tail = b'],"sent_at":' + json.dumps(sent_at.isoformat()).encode() + b"}"
    return head + b",".join(events) + tail
