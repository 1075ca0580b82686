"""Reading groups, their types and what properties they have, for the groups API,
in the order and with the matches of the embedded store's reader
(``store/duckdb/group_reader.py``)."""

from __future__ import annotations

from typing import Any

from magpie.store.model import GroupRecord, PropertyCount, property_names_by_type
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.postgres.text import pg_text

_COLUMNS = "g.group_type_index, g.group_key, g.properties, g.created_at"

# Keys sort by bytes (COLLATE "C"), as DuckDB sorts them. Searching matches the
# properties as jsonb prints them ({"a": 1}, with spaces) where DuckDB matches
# the JSON as stored ({"a":1}); a word or a value matches alike.
_LIST_GROUPS = f"""
SELECT {_COLUMNS}
FROM groups AS g
WHERE g.project_id = %(project_id)s AND g.group_type_index = %(index)s
  AND (%(key_contains)s::text IS NULL OR g.group_key ILIKE '%%' || %(key_contains)s::text || '%%')
  AND (%(search)s::text IS NULL
       OR g.group_key ILIKE '%%' || %(search)s::text || '%%'
       OR g.properties::text ILIKE '%%' || %(search)s::text || '%%')
ORDER BY g.created_at DESC, g.group_key COLLATE "C"
LIMIT %(limit)s OFFSET %(offset)s
"""

_GET_GROUP = f"""
SELECT {_COLUMNS} FROM groups AS g
WHERE g.project_id = %s AND g.group_type_index = %s AND g.group_key = %s
"""

_TYPES = """
SELECT group_type_index, group_type FROM group_type_mapping
WHERE project_id = %s ORDER BY group_type_index
"""

_PROPERTY_NAMES = """
SELECT group_type_index, name, count(*) AS groups
FROM groups, jsonb_object_keys(properties) AS name
WHERE project_id = %s
GROUP BY group_type_index, name
ORDER BY group_type_index, groups DESC, name COLLATE "C"
"""

# Values are grouped as jsonb (1 and "1" stay apart) and sorted by their JSON text.
_PROPERTY_VALUES = """
SELECT value, groups FROM (
    SELECT properties -> %(key)s AS value, count(*) AS groups
    FROM groups
    WHERE project_id = %(project_id)s AND group_type_index = %(index)s
      AND properties ? %(key)s AND jsonb_typeof(properties -> %(key)s) <> 'null'
      AND (%(value_contains)s::text IS NULL
           OR properties ->> %(key)s ILIKE '%%' || %(value_contains)s::text || '%%')
    GROUP BY 1
) AS counted
ORDER BY groups DESC, value::text COLLATE "C"
LIMIT %(limit)s
"""


def _opt_text(value: str | None) -> str | None:
    return None if value is None else pg_text(value)


def _group(row: Any) -> GroupRecord:
    return GroupRecord(row[0], row[1], row[2] or {}, row[3])


class PostgresGroupReader:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def group_types(self, project_id: int) -> dict[int, str]:
        with self._db.connection() as connection:
            rows = connection.execute(_TYPES, (project_id,)).fetchall()
        return {index: name for index, name in rows}

    def list_groups(
        self,
        project_id: int,
        group_type_index: int,
        *,
        search: str | None = None,
        key_contains: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[GroupRecord]:
        params = {
            "project_id": project_id,
            "index": group_type_index,
            "search": _opt_text(search),
            "key_contains": _opt_text(key_contains),
            "limit": limit,
            "offset": offset,
        }
        with self._db.connection() as connection:
            rows = connection.execute(_LIST_GROUPS, params).fetchall()
        return [_group(row) for row in rows]

    def get_group(
        self, project_id: int, group_type_index: int, group_key: str
    ) -> GroupRecord | None:
        with self._db.connection() as connection:
            row = connection.execute(
                _GET_GROUP, (project_id, group_type_index, pg_text(group_key))
            ).fetchone()
        return None if row is None else _group(row)

    def property_names(self, project_id: int) -> dict[int, list[PropertyCount]]:
        with self._db.connection() as connection:
            rows = connection.execute(_PROPERTY_NAMES, (project_id,)).fetchall()
        return property_names_by_type(rows)

    def property_values(
        self,
        project_id: int,
        group_type_index: int,
        key: str,
        *,
        value_contains: str | None = None,
        limit: int = 20,
    ) -> list[PropertyCount]:
        params = {
            "project_id": project_id,
            "index": group_type_index,
            "key": pg_text(key),
            "value_contains": _opt_text(value_contains),
            "limit": limit,
        }
        with self._db.connection() as connection:
            rows = connection.execute(_PROPERTY_VALUES, params).fetchall()
        return [PropertyCount(value, count) for value, count in rows]
