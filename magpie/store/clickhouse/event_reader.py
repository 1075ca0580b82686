"""Reading events back from ClickHouse, person_id resolved through merge overrides,
as the embedded store's reader returns them (``store/duckdb/event_reader.py``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from sqlglot import exp

from magpie.store.clickhouse.properties import json_text
from magpie.store.model import EventFilter, StoredEvent


class ClickHouseEventReader:
    def __init__(self, client: Client) -> None:
        self._client = client

    def list_events(self, where: EventFilter) -> list[StoredEvent]:
        # An unmatched LEFT JOIN row is NULL, so coalesce falls back to the stored id.
        rows = self._client.query(
            _query(where).sql(dialect="clickhouse"), settings={"join_use_nulls": 1}
        ).result_rows
        return [
            StoredEvent(
                uuid=_uuid(row[0]),
                event=row[1],
                distinct_id=row[2],
                timestamp=_naive(row[3]),
                properties=orjson.loads(row[4]) if row[4] else {},
                elements_chain=row[5] or "",
                person_id=_uuid(row[6]),
                person_mode=row[7],
            )
            for row in rows
        ]


def _query(where: EventFilter) -> exp.Select:
    project = exp.Literal.number(where.project_id)
    overrides = (
        exp.select("distinct_id", "person_uuid")
        .from_(exp.Final(this=exp.table_("person_overrides")))
        .where(exp.column("project_id").eq(project))
    )
    person = exp.func("coalesce", exp.column("person_uuid", "o"), exp.column("person_id", "e"))
    query = (
        exp.select(
            exp.column("uuid", "e"),
            exp.column("event", "e"),
            exp.column("distinct_id", "e"),
            exp.column("timestamp", "e"),
            exp.column("properties", "e"),
            exp.column("elements_chain", "e"),
            exp.alias_(person, "resolved_person"),
            exp.cast(exp.column("person_mode", "e"), "String"),
        )
        .from_(exp.table_("events", alias="e"))
        .join(
            overrides.subquery("o"),
            join_type="left",
            on=exp.column("distinct_id", "o").eq(exp.column("distinct_id", "e")),
        )
        .where(exp.column("project_id", "e").eq(project))
        .order_by(
            exp.Ordered(this=exp.column("timestamp", "e"), desc=True),
            exp.Ordered(this=exp.column("uuid", "e"), desc=True),
        )
        .limit(where.limit)
        .offset(where.offset)
    )
    for condition in _conditions(where, person):
        query = query.where(condition)
    return query


def _conditions(where: EventFilter, person: exp.Expr) -> list[exp.Expr]:
    found: list[exp.Expr] = []
    if where.distinct_id is not None:
        found.append(exp.column("distinct_id", "e").eq(exp.Literal.string(where.distinct_id)))
    if where.event is not None:
        found.append(exp.column("event", "e").eq(exp.Literal.string(where.event)))
    if where.after is not None:
        found.append(exp.GT(this=exp.column("timestamp", "e"), expression=_time(where.after)))
    if where.before is not None:
        found.append(exp.LT(this=exp.column("timestamp", "e"), expression=_time(where.before)))
    if where.person_id is not None:
        found.append(person.copy().eq(exp.func("toUUID", exp.Literal.string(str(where.person_id)))))
    if where.group is not None:
        index, key = where.group
        found.append(exp.column(f"group_{index}", "e").eq(exp.Literal.string(key)))
    if where.property_key is not None:
        value = json_text(exp.column("properties", "e"), [where.property_key])
        found.append(
            exp.Not(this=exp.Is(this=value, expression=exp.Null()))
            if where.property_value is None
            else value.eq(exp.Literal.string(where.property_value))
        )
    return found


def _time(at: datetime) -> exp.Expr:
    naive = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    return exp.func(
        "toDateTime64",
        exp.Literal.string(naive.isoformat(sep=" ")),
        exp.Literal.number(6),
        exp.Literal.string("UTC"),
    )


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
