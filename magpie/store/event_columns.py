"""The columns of one batch of events, as every event store receives them.

Ingestion hands a store column lists (``ingest/rows.py``); each store turns
them into this one Arrow table and adds what it derives itself (the
materialised property columns).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from magpie.store.columns import GROUP_COLUMNS

EVENT_SCHEMA = pa.schema(
    [
        ("project_id", pa.int64()),
        ("uuid", pa.string()),
        ("event", pa.string()),
        ("distinct_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("properties", pa.string()),
        ("elements_chain", pa.string()),
        ("person_id", pa.string()),
        ("person_mode", pa.string()),
        ("person_properties", pa.string()),
        ("person_created_at", pa.timestamp("us")),
        *[(column, pa.string()) for column in GROUP_COLUMNS],
        ("created_at", pa.timestamp("us")),
    ]
)


# Rows converted to Arrow per call. Converting Python objects holds the
# interpreter lock; in small slices, capture's threads get it back in between
# instead of waiting out a whole batch.
ARROW_SLICE = 2048


def arrow_table(columns: dict[str, list[Any]]) -> pa.Table:
    rows = len(columns["uuid"])
    arrays = []
    for field in EVENT_SCHEMA:
        values = columns[field.name]
        arrays.append(
            pa.chunked_array(
                [
                    pa.array(values[start : start + ARROW_SLICE], type=field.type)
                    for start in range(0, rows, ARROW_SLICE)
                ]
                or [pa.array([], type=field.type)],
                type=field.type,
            )
        )
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)
