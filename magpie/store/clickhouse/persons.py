"""Feeding ClickHouse the person store's state, for the joins queries make.

Each write appends rows with their versions; the tables are
ReplacingMergeTrees read with FINAL, so the latest version of a person,
distinct id, override or group wins and writing the same state twice changes
no answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from magpie.store.person_rows import DistinctIdRow, GroupRow, GroupTypeRow, PersonRow

_PERSON_COLUMNS = [
    "project_id",
    "uuid",
    "properties",
    "created_at",
    "is_identified",
    "last_seen_at",
    "is_deleted",
    "version",
]
_DISTINCT_ID_COLUMNS = ["project_id", "distinct_id", "person_uuid", "version"]
_GROUP_TYPE_COLUMNS = ["project_id", "group_type", "group_type_index", "created_at"]
_GROUP_COLUMNS = [
    "project_id",
    "group_type_index",
    "group_key",
    "properties",
    "created_at",
    "version",
]


class ClickHousePersonWriter:
    def __init__(self, client: Client) -> None:
        self._client = client

    def write_persons(self, rows: Sequence[PersonRow]) -> None:
        self._insert(
            "persons",
            _PERSON_COLUMNS,
            [
                [
                    r.project_id,
                    r.uuid,
                    _json(r.properties),
                    r.created_at,
                    r.is_identified,
                    r.last_seen_at,
                    int(r.is_deleted),
                    r.version,
                ]
                for r in rows
            ],
        )

    def write_distinct_ids(self, rows: Sequence[DistinctIdRow]) -> None:
        self._insert("person_distinct_ids", _DISTINCT_ID_COLUMNS, _distinct_id_data(rows))

    def write_overrides(self, rows: Sequence[DistinctIdRow]) -> None:
        self._insert("person_overrides", _DISTINCT_ID_COLUMNS, _distinct_id_data(rows))

    def write_group_types(self, rows: Sequence[GroupTypeRow]) -> None:
        self._insert(
            "group_type_mapping",
            _GROUP_TYPE_COLUMNS,
            [[r.project_id, r.group_type, r.group_type_index, r.created_at] for r in rows],
        )

    def write_groups(self, rows: Sequence[GroupRow]) -> None:
        self._insert(
            "groups",
            _GROUP_COLUMNS,
            [
                [
                    r.project_id,
                    r.group_type_index,
                    r.group_key,
                    _json(r.properties),
                    r.created_at,
                    r.version,
                ]
                for r in rows
            ],
        )

    def _insert(self, table: str, columns: list[str], data: list[list[Any]]) -> None:
        if data:
            self._client.insert(table, data, column_names=columns)


def _distinct_id_data(rows: Sequence[DistinctIdRow]) -> list[list[Any]]:
    return [[r.project_id, r.distinct_id, r.person_uuid, r.version] for r in rows]


def _json(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
