"""How often a flag was seen: its ``$feature_flag_called`` events, by value.

SDKs send one ``$feature_flag_called`` per flag read and value (compat §6.5);
they are stored like any event, so this is a HogQL query through the query
layer, and gives the same answer on DuckDB and on ClickHouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from magpie.query.hogql.compiler import compile_hogql
from magpie.query.runner import QueryRunner

# The value is read as text: true, false or the variant's key.
_USAGE = """
SELECT properties.$feature_flag_response AS response,
       count() AS calls,
       count(DISTINCT distinct_id) AS distinct_ids
FROM events
WHERE event = '$feature_flag_called'
  AND properties.$feature_flag = {flag_key}
  AND timestamp >= {since} AND timestamp < {until}
GROUP BY response
ORDER BY calls DESC, response
"""


@dataclass(frozen=True)
class UsageRow:
    response: str | None  # "true", "false", a variant key, or None when not sent
    calls: int
    distinct_ids: int


def flag_usage(
    runner: QueryRunner, project_id: int, flag_key: str, since: datetime, until: datetime
) -> list[UsageRow]:
    compiled = compile_hogql(
        _USAGE,
        project_id,
        {"flag_key": flag_key, "since": since, "until": until},
        dialect=runner.dialect,
    )
    result = runner.execute(compiled)
    return [UsageRow(_text(r[0]), int(r[1]), int(r[2])) for r in result.results]


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
