"""What the identified workload left behind: persons, merges and event modes, counted.

Counted once every event of phase C is stored, so none of it is timed. Event
modes, persons, distinct ids and groups come from HogQL over the query API, as a
user would count them (and as a check that the data is queryable); merges,
overrides and ingestion warnings have no HogQL table, so they are read from the
data folder's DuckDB file after the server has stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from _http import Connection, post_request, run_async
from _server import MagpieServer

from magpie.settings import Settings

_HOGQL = {
    "modes": "SELECT person_mode, count() FROM events GROUP BY person_mode",
    "persons": "SELECT count() FROM persons",
    "identified_persons": "SELECT count() FROM persons WHERE is_identified",
    "distinct_ids": "SELECT count() FROM person_distinct_ids",
    # posthog-python's group_identify sends from `$<group type>_<key>` by default.
    "group_identify_persons": (
        "SELECT count(DISTINCT person_id) FROM person_distinct_ids"
        " WHERE startsWith(distinct_id, '$company_')"
    ),
    "groups": "SELECT count() FROM groups",
}
_STORE = {
    "merges": "SELECT kind, count(*) FROM person_merges GROUP BY kind",
    "overrides": "SELECT 'overrides', count(*) FROM person_overrides",
    "warnings": "SELECT type, count(*) FROM ingestion_warnings GROUP BY type",
}


@dataclass(frozen=True)
class StoredIdentities:
    events_by_mode: dict[str, int]  # full, propertyless, force_upgrade
    persons: int
    identified_persons: int
    distinct_ids: int
    group_identify_persons: int  # persons of `$company_…`, posthog-python's group_identify id
    groups: int
    merges_by_kind: dict[str, int]  # create, attach, merge
    overrides: int
    warnings_by_type: dict[str, int]

    @property
    def events(self) -> int:
        return sum(self.events_by_mode.values())

    def share(self, mode: str) -> float:
        return self.events_by_mode.get(mode, 0) / max(1, self.events)


def count_over_api(server: MagpieServer) -> dict[str, Any]:
    """HogQL counts through ``POST /api/projects/{id}/query/`` on a running server."""
    return run_async(_count_over_api(server))


async def _count_over_api(server: MagpieServer) -> dict[str, Any]:
    assert server.credentials is not None
    credentials = server.credentials
    path = f"/api/projects/{credentials.project_id}/query/"
    headers = {
        "Authorization": f"Bearer {credentials.personal_api_key}",
        "Content-Type": "application/json",
    }
    connection = await Connection.open(server.host, server.port)
    counts: dict[str, Any] = {}
    try:
        for name, hogql in _HOGQL.items():
            body = json.dumps({"query": {"kind": "HogQLQuery", "query": hogql}}).encode()
            response = await connection.request(post_request(path, server.address, body, headers))
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}: {response.body[:300]!r}")
            rows = json.loads(response.body)["results"]
            counts[name] = {row[0]: row[1] for row in rows} if name == "modes" else rows[0][0]
    finally:
        await connection.close()
    return counts


def count_in_store(data_dir: Path) -> dict[str, dict[str, int]]:
    """Counts read from a stopped server's DuckDB file."""
    path = Settings.load(data_dir=data_dir).database_path
    with duckdb.connect(str(path), read_only=True) as con:
        return {name: dict(con.execute(sql).fetchall()) for name, sql in _STORE.items()}


def stored_identities(api: dict[str, Any], store: dict[str, dict[str, int]]) -> StoredIdentities:
    return StoredIdentities(
        events_by_mode=dict(sorted(api["modes"].items())),
        persons=api["persons"],
        identified_persons=api["identified_persons"],
        distinct_ids=api["distinct_ids"],
        group_identify_persons=api["group_identify_persons"],
        groups=api["groups"],
        merges_by_kind=dict(sorted(store["merges"].items())),
        overrides=store["overrides"].get("overrides", 0),
        warnings_by_type=dict(sorted(store["warnings"].items())),
    )
