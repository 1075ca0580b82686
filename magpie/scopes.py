"""Personal API key scopes, named as PostHog names them: ``object:read`` or
``object:write``, or ``*`` for everything.

A key's scopes say what it may do; ``write`` implies ``read``. The objects are
PostHog's (so a scope list written for PostHog is accepted, even for objects
Magpie does not serve yet) and Magpie's own: ``event``, ``billing``,
``ingestion`` and ``personal_api_key``.
"""

from __future__ import annotations

from collections.abc import Iterable

ALL = "*"
ACTIONS = ("read", "write")

SCOPE_OBJECTS: frozenset[str] = frozenset(
    {
        # PostHog's API scope objects.
        "action",
        "activity_log",
        "annotation",
        "batch_export",
        "cohort",
        "dashboard",
        "dashboard_template",
        "early_access_feature",
        "event_definition",
        "experiment",
        "export",
        "feature_flag",
        "group",
        "insight",
        "query",
        "notebook",
        "organization",
        "organization_member",
        "person",
        "plugin",
        "project",
        "property_definition",
        "session_recording",
        "session_recording_playlist",
        "sharing_configuration",
        "subscription",
        "survey",
        "user",
        "webhook",
        # Magpie's own.
        "billing",
        "event",
        "ingestion",
        "personal_api_key",
    }
)

# The actions a scope grants: write implies read.
_GRANTS: dict[str, tuple[str, ...]] = {"read": ("read",), "write": ("read", "write")}


def is_scope(name: str) -> bool:
    if name == ALL:
        return True
    obj, sep, action = name.partition(":")
    return bool(sep) and obj in SCOPE_OBJECTS and action in ACTIONS


def normalise(names: Iterable[str]) -> tuple[str, ...]:
    """Sorted without repeats; ``*`` alone when it is among them.

    Raises ``ValueError`` naming the first name that is not a scope.
    """
    unique = sorted(set(names))
    for name in unique:
        if not is_scope(name):
            raise ValueError(f"Invalid scope: {name}")
    return (ALL,) if ALL in unique else tuple(unique)


def allows(granted: Iterable[str], wanted: str) -> bool:
    """Whether scopes ``granted`` include ``wanted`` (itself a scope or ``*``)."""
    have = set(granted)
    if ALL in have:
        return True
    if wanted == ALL:
        return False
    obj, _, action = wanted.partition(":")
    return any(f"{obj}:{a}" in have for a in _GRANTS if action in _GRANTS[a])


def missing(granted: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The scopes of ``wanted`` that ``granted`` does not include."""
    have = tuple(granted)
    return [scope for scope in wanted if not allows(have, scope)]
