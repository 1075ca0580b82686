"""The typed copy of event properties the ClickHouse writer stores beside the text.

ClickHouse's JSON type splits a key at its dots (``{"a.b": 1}`` would be the
path of ``{"a": {"b": 1}}``, and both in one event fail the insert), and its
setting that escapes dots is not applied to every conversion (an Arrow insert,
a background mutation). So the writer hands it properties whose keys are
escaped already (``properties.escaped_key``), and reads escape keys the same
way.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

from magpie.store.clickhouse.properties import escaped_key

TYPED_COLUMN = "properties_json"


def _escaped(value: Any) -> Any:
    if isinstance(value, dict):
        return {escaped_key(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def typed_text(properties: str | None) -> str:
    """The JSON text for the typed column: the same properties, keys escaped."""
    if not properties:
        return "{}"
    return orjson.dumps(_escaped(orjson.loads(properties))).decode()


def with_typed_column(table: pa.Table) -> pa.Table:
    """``table`` (event columns) with the typed copy of its properties added."""
    typed = pa.array([typed_text(p) for p in table["properties"].to_pylist()], pa.string())
    return table.append_column(TYPED_COLUMN, typed)
