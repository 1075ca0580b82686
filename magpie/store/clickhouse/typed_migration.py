"""Migration 3: event properties also in ClickHouse's JSON type.

The typed column is filled by the writer (``typed.py``), so events stored
before it are rewritten: part by part, block by block, through the same
conversion, into a copy of the table that then replaces it. Memory stays
within one block; an interrupted rewrite starts over, since the events table is
untouched until the rename, and a rename that happened is never repeated.
"""

from __future__ import annotations

import logging

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from magpie.store.clickhouse.typed import TYPED_COLUMN, with_typed_column
from magpie.store.event_columns import EVENT_SCHEMA

log = logging.getLogger(__name__)

_COPY, _OLD = "events_typed", "events_untyped"


def _has_typed_column(client: Client) -> bool:
    rows = client.query(
        "SELECT count() FROM system.columns WHERE database = currentDatabase()"
        " AND table = 'events' AND name = {name:String}",
        parameters={"name": TYPED_COLUMN},
    ).result_rows
    return bool(rows[0][0])


def add_typed_properties(client: Client) -> None:
    client.command(f"DROP TABLE IF EXISTS {_OLD}")
    if _has_typed_column(client):
        return
    if not client.query("SELECT count() FROM events").result_rows[0][0]:
        client.command(f"ALTER TABLE events ADD COLUMN {TYPED_COLUMN} JSON")
        return
    client.command(f"DROP TABLE IF EXISTS {_COPY}")
    client.command(f"CREATE TABLE {_COPY} AS events")
    client.command(f"ALTER TABLE {_COPY} ADD COLUMN {TYPED_COLUMN} JSON")
    parts = client.query(
        "SELECT name FROM system.parts WHERE database = currentDatabase()"
        " AND table = 'events' AND active ORDER BY name"
    ).result_rows
    columns = ", ".join(f.name for f in EVENT_SCHEMA)
    for (part,) in parts:
        log.info("typing the properties of events part %s", part)
        with client.query_arrow_stream(
            f"SELECT {columns} FROM events WHERE _part = {{part:String}}",
            parameters={"part": part},
        ) as blocks:
            for block in blocks:
                client.insert_arrow(_COPY, with_typed_column(pa.Table.from_batches([block])))
    client.command(f"RENAME TABLE events TO {_OLD}, {_COPY} TO events")
    client.command(f"DROP TABLE {_OLD}")
