"""What both action stores share: the columns they read, a row → ``Action``, and
which fields a change may touch."""

from __future__ import annotations

from typing import Any

from magpie.store.model import Action

COLUMNS = "id, project_id, name, description, steps, tags, created_at, updated_at, deleted"
EDITABLE = ("name", "description", "steps", "tags", "deleted")


def action_from_row(row: Any, steps: Any, tags: Any) -> Action:
    """``steps`` and ``tags`` as the driver gave them, decoded by the caller."""
    return Action(row[0], row[1], row[2], row[3], list(steps), list(tags), row[6], row[7], row[8])


def merged(current: Action, changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"an action has no editable field {sorted(unknown)}")
    return {**{f: getattr(current, f) for f in EDITABLE}, **changes}
