"""Processed events on their way from the ingest workers to the event store.

In cluster mode a worker applies persons in PostgreSQL and publishes what the
event store must hold (the events, and the person rows it keeps a copy of for
joins) as records of a second log; a loader, the one process that writes the
event store, inserts them (``store/clickhouse/loader.py``). Each record names
the ingest unit (*batch*) that wrote it, so the loader can keep to the units
that committed.

A record is ``[header length u32][header JSON][Arrow IPC stream]``: events
travel as the Arrow table every store is given (``event_columns.py``), typed
and cheap to decode; person rows as JSON in the header.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from magpie.store.person_rows import (
    DistinctIdRow,
    GroupRow,
    GroupTypeRow,
    PersonRow,
    PersonRows,
)

_LENGTH = struct.Struct("<I")


@dataclass
class ProcessedRecord:
    batch: uuid.UUID
    events: pa.Table | None = None
    rows: PersonRows | None = None


def encode(record: ProcessedRecord) -> bytes:
    header = orjson.dumps(
        {"batch": str(record.batch), "rows": _rows_json(record.rows) if record.rows else None}
    )
    body = b""
    if record.events is not None:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, record.events.schema) as writer:
            writer.write_table(record.events)
        body = sink.getvalue().to_pybytes()
    return _LENGTH.pack(len(header)) + header + body


def decode(payload: bytes) -> ProcessedRecord:
    (length,) = _LENGTH.unpack_from(payload)
    header = orjson.loads(payload[_LENGTH.size : _LENGTH.size + length])
    body = payload[_LENGTH.size + length :]
    events = pa.ipc.open_stream(body).read_all() if body else None
    rows = _rows_of(header["rows"]) if header["rows"] else None
    return ProcessedRecord(uuid.UUID(header["batch"]), events, rows)


def _rows_json(rows: PersonRows) -> dict[str, Any]:
    return {
        "persons": [
            [
                r.project_id,
                str(r.uuid),
                r.properties,
                _time(r.created_at),
                r.is_identified,
                r.version,
                _time(r.last_seen_at),
                r.is_deleted,
            ]
            for r in rows.persons
        ],
        "distinct_ids": [_id_json(r) for r in rows.distinct_ids],
        "overrides": [_id_json(r) for r in rows.overrides],
        "group_types": [
            [r.project_id, r.group_type, r.group_type_index, _time(r.created_at)]
            for r in rows.group_types
        ],
        "groups": [
            [
                r.project_id,
                r.group_type_index,
                r.group_key,
                r.properties,
                _time(r.created_at),
                r.version,
            ]
            for r in rows.groups
        ],
    }


def _rows_of(data: dict[str, Any]) -> PersonRows:
    return PersonRows(
        persons=[
            PersonRow(p, uuid.UUID(u), props, _at(created), identified, version, _at(seen), deleted)
            for p, u, props, created, identified, version, seen, deleted in data["persons"]
        ],
        distinct_ids=[_id_row(r) for r in data["distinct_ids"]],
        overrides=[_id_row(r) for r in data["overrides"]],
        group_types=[
            GroupTypeRow(p, t, i, _at(created)) for p, t, i, created in data["group_types"]
        ],
        groups=[
            GroupRow(p, i, k, props, _at(created), version)
            for p, i, k, props, created, version in data["groups"]
        ],
    )


def _id_json(row: DistinctIdRow) -> list[Any]:
    return [row.project_id, row.distinct_id, str(row.person_uuid), row.version]


def _id_row(data: list[Any]) -> DistinctIdRow:
    return DistinctIdRow(data[0], data[1], uuid.UUID(data[2]), data[3])


# Times are naive UTC everywhere in the stores; ISO text keeps their microseconds.
def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _at(value: str | None) -> Any:
    return None if value is None else datetime.fromisoformat(value)
