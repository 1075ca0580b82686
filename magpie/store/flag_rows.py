"""What every backend's feature flag store shares: the editable fields and the
state a version records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from magpie.store.model import FeatureFlag

EDITABLE = (
    "key",
    "name",
    "filters",
    "active",
    "ensure_experience_continuity",
    "is_remote_configuration",
)
COLUMNS = (
    "id, project_id, key, name, filters, active, ensure_experience_continuity, version,"
    " created_at, updated_at, created_by, deleted, is_remote_configuration"
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
        remote_configuration,
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
        # DuckDB cannot add a NOT NULL column: its column may hold NULL.
        is_remote_configuration=bool(remote_configuration),
    )


def state_of(flag: FeatureFlag) -> dict[str, Any]:
    """What a version records: every field a change can touch."""
    return {**{field: getattr(flag, field) for field in EDITABLE}, "deleted": flag.deleted}


def changed(current: FeatureFlag, changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    return {**{field: getattr(current, field) for field in EDITABLE}, **changes}


def pick_hash_keys(rows: Iterable[tuple[str, str, str]], ids: Sequence[str]) -> dict[str, str]:
    """flag key → hash key from (distinct id, flag key, hash key) rows: the first of
    ``ids`` that has one for a flag gives it."""
    rank = {distinct_id: n for n, distinct_id in enumerate(ids)}
    ordered = sorted(rows, key=lambda r: (rank.get(r[0], len(rank)), r[0]))
    picked: dict[str, str] = {}
    for _, flag_key, hash_key in ordered:
        picked.setdefault(flag_key, hash_key)
    return picked
