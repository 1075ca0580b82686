"""Migration 0005: properties stored as VARIANT instead of JSON text.

DuckDB shreds a VARIANT column into a typed column per property (per row
group), so reading one property reads that column instead of parsing every
row's JSON text (see docs/benchmarks.md, Typed properties). Events are copied
into a new table a slice of rows at a time, each slice in its own transaction
with the position reached, so the copy never needs the whole table in memory
and resumes after an interruption; the swap of the two tables commits with the
record of the migration. Persons and groups are small enough to convert in
place within that same transaction.
"""

from __future__ import annotations

import logging

import duckdb

from magpie.store.duckdb.transactions import first_row, transaction

log = logging.getLogger(__name__)

# Rows copied per transaction: a few row groups, so a slice's data is written
# out as it is built instead of piling up until its commit.
SLICE_ROWS = 131_072

_TARGET = "events_typed"
_PROGRESS = "events_typed_progress"

# The events table of 0001 with properties as VARIANT. person_properties stays
# JSON text: it is a copy of the person's properties at ingestion that no query
# reads (queries join the persons table).
_EVENTS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    project_id BIGINT NOT NULL,
    uuid UUID NOT NULL,
    event VARCHAR NOT NULL,
    distinct_id VARCHAR NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    properties {properties},
    elements_chain VARCHAR,
    person_id UUID NOT NULL,
    person_mode person_mode NOT NULL,
    person_properties JSON USING COMPRESSION zstd,
    person_created_at TIMESTAMP,
    group_0 VARCHAR,
    group_1 VARCHAR,
    group_2 VARCHAR,
    group_3 VARCHAR,
    group_4 VARCHAR,
    mat_current_url VARCHAR,
    mat_pathname VARCHAR,
    mat_host VARCHAR,
    mat_browser VARCHAR,
    mat_os VARCHAR,
    mat_device_type VARCHAR,
    mat_referring_domain VARCHAR,
    mat_utm_source VARCHAR,
    mat_utm_medium VARCHAR,
    mat_utm_campaign VARCHAR,
    mat_session_id VARCHAR,
    mat_lib VARCHAR,
    mat_lib_version VARCHAR,
    created_at TIMESTAMP NOT NULL
)
"""


def events_table_sql(name: str, properties: str = "VARIANT") -> str:
    """CREATE TABLE for an events table with this type of properties column (the
    query bench also makes one as events were before: ``JSON USING COMPRESSION zstd``)."""
    return _EVENTS_TABLE.format(name=name, properties=properties)


_CREATE_TARGET = events_table_sql(_TARGET)

_COPY_SLICE = f"""
INSERT INTO {_TARGET} BY NAME
SELECT * REPLACE (CAST(properties AS VARIANT) AS properties)
FROM events WHERE rowid >= $start AND rowid < $stop
ORDER BY rowid
"""

_CONVERT_IN_PLACE = (
    "ALTER TABLE persons ALTER COLUMN properties TYPE VARIANT USING CAST(properties AS VARIANT)",
    "ALTER TABLE groups ALTER COLUMN properties TYPE VARIANT USING CAST(properties AS VARIANT)",
)


def copy_events(connection: duckdb.DuckDBPyConnection) -> None:
    """Copy every event into the VARIANT table, resuming after the last slice copied."""
    with transaction(connection):
        connection.execute(_CREATE_TARGET)
        connection.execute(f"CREATE TABLE IF NOT EXISTS {_PROGRESS} (next_rowid BIGINT NOT NULL)")
    row = first_row(connection.execute(f"SELECT max(next_rowid) FROM {_PROGRESS}"))
    start = row[0] if row and row[0] is not None else 0
    last = first_row(connection.execute("SELECT max(rowid) FROM events"))
    end = (last[0] + 1) if last and last[0] is not None else 0
    if start < end:
        log.info("converting event properties to VARIANT: %s rows", f"{end - start:,}")
    while start < end:
        stop = min(start + SLICE_ROWS, end)
        with transaction(connection):
            connection.execute(_COPY_SLICE, {"start": start, "stop": stop})
            connection.execute(f"DELETE FROM {_PROGRESS}")
            connection.execute(f"INSERT INTO {_PROGRESS} VALUES ($next)", {"next": stop})
        start = stop


def swap_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """The VARIANT table becomes ``events`` (in the transaction that records the
    migration); persons and groups are converted in place."""
    connection.execute("DROP TABLE events")
    connection.execute(f"ALTER TABLE {_TARGET} RENAME TO events")
    connection.execute(f"DROP TABLE {_PROGRESS}")
    for statement in _CONVERT_IN_PLACE:
        connection.execute(statement)
