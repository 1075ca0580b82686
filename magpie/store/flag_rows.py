"""What every backend's feature flag store shares: the editable fields and the
state a version records."""

from __future__ import annotations

from typing import Any

from magpie.store.model import FeatureFlag

EDITABLE = ("key", "name", "filters", "active", "ensure_experience_continuity")
COLUMNS = (
    "id, project_id, key, name, filters, active, ensure_experience_continuity, version,"
    " created_at, updated_at, created_by, deleted"
)


def flag_from_row(row: Any, filters: dict[str, Any]) -> FeatureFlag:
    (
        flag_id,
        project_id,
        key,
        name,
        _,
        active,
        continuity,
        version,
        created,
        updated,
        by,
        deleted,
    ) = row
    return FeatureFlag(
        id=flag_id,
        project_id=project_id,
        key=key,
        name=name,
        filters=filters,
        active=active,
        ensure_experience_continuity=continuity,
        version=version,
        created_at=created,
        updated_at=updated,
        created_by=by,
        deleted=deleted,
    )


def state_of(flag: FeatureFlag) -> dict[str, Any]:
    """What a version records: every field a change can touch."""
    return {**{field: getattr(flag, field) for field in EDITABLE}, "deleted": flag.deleted}


def changed(current: FeatureFlag, changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    return {**{field: getattr(current, field) for field in EDITABLE}, **changes}
