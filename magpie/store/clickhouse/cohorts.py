"""Feeding ClickHouse the cohort membership the person store keeps, for queries'
joins (``cohort_people``, read FINAL without the rows marked deleted)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from clickhouse_connect.driver.client import Client

_COLUMNS = ["project_id", "cohort_id", "person_id", "version", "is_deleted"]


class ClickHouseMembershipCopy:
    def __init__(self, client: Client) -> None:
        self._client = client

    def write(
        self,
        project_id: int,
        cohort_id: int,
        version: int,
        members: Sequence[uuid.UUID],
        removed: Sequence[uuid.UUID],
    ) -> None:
        # One insert, one block: ClickHouse makes it visible all at once.
        rows = [[project_id, cohort_id, p, version, 0] for p in members]
        rows += [[project_id, cohort_id, p, version, 1] for p in removed]
        if rows:
            self._client.insert("cohort_people", rows, column_names=_COLUMNS)
