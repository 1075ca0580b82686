"""Checking the ids an app passes to ``identify()`` and ``alias()``.

Magpie (like PostHog) refuses to merge persons on ids too generic to mean one
human (compat §3.3), and posthog-js refuses a few more client-side (§4.5).
Refusing them here keeps the local state from switching to an id the server
would never join to the anonymous user.
"""

from __future__ import annotations

# Compared case-insensitively.
_GENERIC_IDS = frozenset(
    {
        "anonymous",
        "guest",
        "distinctid",
        "distinct_id",
        "id",
        "not_authenticated",
        "email",
        "undefined",
        "true",
        "false",
        "null",
    }
)
# Compared exactly.
_EXACT_IDS = frozenset(
    {"[object Object]", "NaN", "None", "none", "null", "0", "undefined", "$posthog_cookieless"}
)
MAX_ID_LENGTH = 200  # the server cuts longer ids, which would then no longer match ours


def clean_person_id(value: object) -> tuple[str | None, str]:
    """``(id, "")`` for a usable id (ints are turned into strings, as posthog-js
    does with numbers), else ``(None, reason)``."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None, f"must be a string, not {type(value).__name__}"
    text = str(value)
    if not text.strip():
        return None, "must not be empty"
    if len(text) > MAX_ID_LENGTH:
        return None, f"must be at most {MAX_ID_LENGTH} characters"
    bare = text.strip()
    if len(bare) >= 2 and bare[0] == bare[-1] and bare[0] in "'\"":
        bare = bare[1:-1]
    if bare.lower() in _GENERIC_IDS or bare in _EXACT_IDS:
        return None, f"{text!r} is too generic to identify one person"
    return text, ""
