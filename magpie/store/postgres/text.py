"""Values as PostgreSQL can hold them.

PostgreSQL text (and so jsonb) cannot contain the NUL character, which JSON
and DuckDB allow. Capture already writes U+FFFD for it in distinct ids, as
PostHog does before its own PostgreSQL; the same replacement here keeps every
other string (a merge's alias id, properties, warning details) storable
instead of failing its whole batch.
"""

from __future__ import annotations

from typing import Any

import orjson

_NUL = "\0"
_REPLACEMENT = "\ufffd"
_ESCAPED_NUL = b"\\u0000"


def pg_text(value: str) -> str:
    return value.replace(_NUL, _REPLACEMENT) if _NUL in value else value


def jsonb_text(value: Any, *, default: Any = None) -> str:
    """JSON text for a jsonb parameter (compact, keys of any type as strings)."""
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=default)
    # Only a string holding NUL is escaped so; checking the bytes is far
    # cheaper than walking every document.
    if _ESCAPED_NUL in text:
        text = orjson.dumps(_without_nul(value), option=orjson.OPT_NON_STR_KEYS, default=default)
    return text.decode()


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return pg_text(value)
    if isinstance(value, dict):
        return {pg_text(k) if isinstance(k, str) else k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value
