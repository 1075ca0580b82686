"""What may differ between engines' answers, and nothing more.

Only representation is normalised: floats to about 1e-9, instants as naive
UTC datetimes (a date is midnight of that day), numeric types (Decimal, int
or float for the same number), the order of rows where the query does not
fix it, and the spelling of an object or array read as JSON text: it is
compared as the JSON value it spells (member order, ``30`` or ``30.0``), and
a member whose value is null counts as absent, since ClickHouse's JSON type
stores no nulls (docs/querying.md, Typed properties).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson


def plain(value: Any) -> Any:
    if isinstance(value, bool):
        return ("bool", value)  # never equal to 1 or 0: JSON tells them apart
    if value is None:
        return value
    if isinstance(value, Decimal | float | int):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return str(number)
        return round(number, 9) if not number.is_integer() else int(number)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, str) and value[:1] in ("{", "["):
        return _json_text(value)
    return value


def _json_text(text: str) -> Any:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return ("json", _without_nulls(plain(parsed))) if isinstance(parsed, dict | list) else text


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def rows(result: list[list[Any]], *, ordered: bool) -> list[Any]:
    normalised = [plain(row) for row in result]
    return normalised if ordered else sorted(normalised, key=repr)
