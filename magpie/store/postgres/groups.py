"""Loading a batch's group types and groups, and writing back what changed.

Groups are not locked when read: ``$groupidentify`` events for one group come
from any distinct id, so from any worker, but seldom at the same moment. The
write-back is a compare-and-set instead: a changed group is written only if its
version is still the one read, a new group or group type only if nobody
inserted it meanwhile (the (project, index) key also keeps two workers from
numbering two new types alike), and a short count sends the unit round again.
"""

from __future__ import annotations

from collections.abc import Iterable

from magpie.store.postgres.conflicts import expect_rows
from magpie.store.postgres.database import Connection
from magpie.store.postgres.text import jsonb_text, pg_text
from magpie.store.state import Group, GroupKey, GroupState

_GROUP_TYPES = """
SELECT m.project_id, m.group_type, m.group_type_index
FROM group_type_mapping AS m
WHERE m.project_id = ANY(%s::bigint[])
"""

_GROUPS = """
SELECT g.project_id, m.group_type, g.group_type_index, g.group_key, g.properties,
       g.created_at, g.version
FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS k (project_id, group_type, group_key)
JOIN group_type_mapping AS m
  ON m.project_id = k.project_id AND m.group_type = k.group_type
JOIN groups AS g
  ON g.project_id = m.project_id AND g.group_type_index = m.group_type_index
 AND g.group_key = k.group_key
"""

_INSERT_GROUP_TYPES = """
INSERT INTO group_type_mapping (project_id, group_type, group_type_index, created_at)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::timestamp[])
ON CONFLICT DO NOTHING
"""

_INSERT_GROUPS = """
INSERT INTO groups (project_id, group_type_index, group_key, properties, created_at, version)
SELECT project_id, group_type_index, group_key, properties::jsonb, created_at, version
FROM unnest(%s::bigint[], %s::integer[], %s::text[], %s::text[], %s::timestamp[],
            %s::bigint[])
     AS k (project_id, group_type_index, group_key, properties, created_at, version)
ON CONFLICT DO NOTHING
"""

_UPDATE_GROUPS = """
UPDATE groups AS g SET properties = k.properties::jsonb, version = k.version
FROM unnest(%s::bigint[], %s::integer[], %s::text[], %s::text[], %s::bigint[], %s::bigint[])
     AS k (project_id, group_type_index, group_key, properties, version, read_version)
WHERE g.project_id = k.project_id AND g.group_type_index = k.group_type_index
  AND g.group_key = k.group_key AND g.version = k.read_version
"""


def load_group_state(
    connection: Connection,
    project_ids: Iterable[int],
    group_keys: Iterable[tuple[int, str, str]],
    read_versions: dict[GroupKey, int],
) -> GroupState:
    """``read_versions`` gets the version of every group read, for the write-back."""
    state = GroupState()
    projects = sorted(set(project_ids))
    if not projects:
        return state
    for project_id, group_type, index in connection.execute(_GROUP_TYPES, (projects,)):
        state.type_index[(project_id, group_type)] = index
    # Keys as stored (see text.py) → as the rules will look them up.
    as_sent = {(p, pg_text(t), pg_text(k)): k for p, t, k in group_keys}
    keys = sorted(as_sent)
    if keys:
        rows = connection.execute(
            _GROUPS, ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])
        )
        for project_id, group_type, index, key, properties, created_at, version in rows:
            sent = as_sent[(project_id, group_type, key)]
            group = Group(project_id, index, sent, properties, created_at, version)
            state.groups[(project_id, index, sent)] = group
            read_versions[(project_id, index, key)] = version
    return state


def save_group_state(
    connection: Connection, state: GroupState, read_versions: dict[GroupKey, int]
) -> None:
    types = sorted(state.new_types)
    if types:
        cursor = connection.execute(
            _INSERT_GROUP_TYPES,
            (
                [t[0] for t in types],
                [pg_text(t[1]) for t in types],
                [t[2] for t in types],
                [t[3] for t in types],
            ),
        )
        expect_rows(cursor, len(types), "new group types")
    groups = [state.groups[key] for key in sorted(state.dirty_groups)]
    created = [g for g in groups if _key(g) not in read_versions]
    changed = [g for g in groups if _key(g) in read_versions]
    if created:
        cursor = connection.execute(
            _INSERT_GROUPS,
            (
                [g.project_id for g in created],
                [g.type_index for g in created],
                [pg_text(g.key) for g in created],
                [jsonb_text(g.properties) for g in created],
                [g.created_at for g in created],
                [g.version for g in created],
            ),
        )
        expect_rows(cursor, len(created), "new groups")
    if changed:
        cursor = connection.execute(
            _UPDATE_GROUPS,
            (
                [g.project_id for g in changed],
                [g.type_index for g in changed],
                [pg_text(g.key) for g in changed],
                [jsonb_text(g.properties) for g in changed],
                [g.version for g in changed],
                [read_versions[_key(g)] for g in changed],
            ),
        )
        expect_rows(cursor, len(changed), "changed groups")
    for group in groups:
        read_versions[_key(group)] = group.version


def _key(group: Group) -> GroupKey:
    return (group.project_id, group.type_index, pg_text(group.key))
