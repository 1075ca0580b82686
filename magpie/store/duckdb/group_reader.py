"""Reading groups, their types and what properties they have, for the groups API."""

from __future__ import annotations

from typing import Any

import orjson

from magpie.store.duckdb.database import Database, first_row
from magpie.store.model import GroupRecord, PropertyCount, property_names_by_type

_COLUMNS = "g.group_type_index, g.group_key, CAST(g.properties AS JSON), g.created_at"

_LIST_GROUPS = f"""
SELECT {_COLUMNS}
FROM groups AS g
WHERE g.project_id = $project_id AND g.group_type_index = $index
  AND ($key_contains IS NULL OR g.group_key ILIKE '%' || $key_contains || '%')
  AND ($search IS NULL
       OR g.group_key ILIKE '%' || $search || '%'
       OR CAST(CAST(g.properties AS JSON) AS VARCHAR) ILIKE '%' || $search || '%')
ORDER BY g.created_at DESC, g.group_key
LIMIT $limit OFFSET $offset
"""

_GET_GROUP = f"""
SELECT {_COLUMNS} FROM groups AS g
WHERE g.project_id = ? AND g.group_type_index = ? AND g.group_key = ?
"""

_TYPES = """
SELECT group_type_index, group_type FROM group_type_mapping
WHERE project_id = ? ORDER BY group_type_index
"""

# Sorting names by bytes (COLLATE "C" on PostgreSQL) keeps both stores' order alike.
_PROPERTY_NAMES = """
SELECT group_type_index, name, count(*) AS groups
FROM (SELECT group_type_index, unnest(json_keys(CAST(properties AS JSON))) AS name
      FROM groups WHERE project_id = ?)
GROUP BY group_type_index, name
ORDER BY group_type_index, groups DESC, name
"""

# A value is compared, grouped and sorted as its JSON text, so 1 and "1" stay apart.
_PROPERTY_VALUES = """
SELECT value, count(*) AS groups
FROM (SELECT json_extract(CAST(properties AS JSON), $pointer) AS value,
             json_extract_string(CAST(properties AS JSON), $pointer) AS text
      FROM groups WHERE project_id = $project_id AND group_type_index = $index)
WHERE value IS NOT NULL AND CAST(value AS VARCHAR) <> 'null'
  AND ($value_contains IS NULL OR text ILIKE '%' || $value_contains || '%')
GROUP BY value
ORDER BY groups DESC, CAST(value AS VARCHAR)
LIMIT $limit
"""


def json_pointer(key: str) -> str:
    """A property name as a JSON Pointer (RFC 6901): any name is one top-level key."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _group(row: tuple[Any, ...]) -> GroupRecord:
    return GroupRecord(row[0], row[1], orjson.loads(row[2]) if row[2] else {}, row[3])


class DuckDBGroupReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    def group_types(self, project_id: int) -> dict[int, str]:
        rows = self._db.cursor().execute(_TYPES, [project_id]).fetchall()
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
        rows = (
            self._db.cursor()
            .execute(
                _LIST_GROUPS,
                {
                    "project_id": project_id,
                    "index": group_type_index,
                    "search": search,
                    "key_contains": key_contains,
                    "limit": limit,
                    "offset": offset,
                },
            )
            .fetchall()
        )
        return [_group(row) for row in rows]

    def get_group(
        self, project_id: int, group_type_index: int, group_key: str
    ) -> GroupRecord | None:
        cursor = self._db.cursor().execute(_GET_GROUP, [project_id, group_type_index, group_key])
        row = first_row(cursor)
        return None if row is None else _group(row)

    def property_names(self, project_id: int) -> dict[int, list[PropertyCount]]:
        rows = self._db.cursor().execute(_PROPERTY_NAMES, [project_id]).fetchall()
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
        rows = (
            self._db.cursor()
            .execute(
                _PROPERTY_VALUES,
                {
                    "project_id": project_id,
                    "index": group_type_index,
                    "pointer": json_pointer(key),
                    "value_contains": value_contains,
                    "limit": limit,
                },
            )
            .fetchall()
        )
        return [PropertyCount(orjson.loads(value), count) for value, count in rows]
