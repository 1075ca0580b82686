"""What bench/query.py times: each query as Magpie's API receives it, and the same
written by hand for each engine (the floors).

Floors, by kind:

- ``duckdb``: the DuckDB store as Magpie has it (properties as VARIANT);
- ``duckdb_json``: properties as JSON text, as Magpie stored them before they
  were typed (the bench's copy of the events, ``json_extract_string``);
- ``clickhouse``: the ClickHouse store as Magpie has it (properties as JSON);
- ``clickhouse_string``: properties as a String (the bench's copy, ``JSONExtractString``).

Only queries that read a property have the two text floors.
"""

from __future__ import annotations

from dataclasses import dataclass

FLOORS = ("duckdb", "duckdb_json", "clickhouse", "clickhouse_string")


@dataclass(frozen=True)
class Case:
    name: str
    query: dict[str, object]
    floors: dict[str, str]  # floor kind → hand-written SQL
    target_ms: float | None = None  # Magpie on DuckDB at 10M events
    # Magpie on DuckDB should also be at or under Magpie on ClickHouse.
    at_most_clickhouse: bool = False


@dataclass(frozen=True)
class Tables:
    """Where the text floors read properties as text: DuckDB's is the bench's copy of
    the events; ClickHouse's events keep their String column beside the typed one."""

    duckdb_json: str
    clickhouse_string: str


def _window(project_id: int, column: str = "timestamp") -> str:
    return (
        f"project_id = {project_id} AND {column} >= TIMESTAMP '2026-10-01'"
        f" AND {column} < TIMESTAMP '2026-10-31'"
    )


def _house_window(project_id: int, prefix: str = "") -> str:
    return (
        f"{prefix}project_id = {project_id} AND {prefix}timestamp >= '2026-10-01'"
        f" AND {prefix}timestamp < '2026-10-31'"
    )


def cases(project_id: int, tables: Tables) -> list[Case]:
    window, house = _window(project_id), _house_window(project_id)
    e_window = _window(project_id, "e.timestamp").replace("project_id", "e.project_id", 1)
    e_house = _house_window(project_id, "e.")
    date_range = {"date_from": "2026-10-01", "date_to": "2026-10-30"}
    trend = {"kind": "TrendsQuery", "series": [{"event": "$pageview"}], "dateRange": date_range}
    overrides = (
        f"(SELECT distinct_id, person_uuid FROM person_overrides FINAL"
        f" WHERE project_id = {project_id})"
    )
    persons = (
        f"(SELECT uuid, properties FROM persons FINAL"
        f" WHERE project_id = {project_id} AND is_deleted = 0)"
    )
    pageviews = "event = '$pageview'"
    return [
        Case(
            "daily trend, 30 days",
            trend,
            {
                "duckdb": f"SELECT date_trunc('day', timestamp) d, count(*) FROM events"
                f" WHERE {window} AND {pageviews} GROUP BY 1",
                "clickhouse": f"SELECT toStartOfDay(timestamp) d, count() FROM events"
                f" WHERE {house} AND {pageviews} GROUP BY d",
            },
            300,
        ),
        Case(
            "breakdown by $browser (materialised)",
            {**trend, "breakdownFilter": {"breakdown": "$browser"}},
            {
                "duckdb": f"SELECT date_trunc('day', timestamp) d, mat_browser, count(*)"
                f" FROM events WHERE {window} AND {pageviews} GROUP BY 1, 2",
                "clickhouse": f"SELECT toStartOfDay(timestamp) d, mat_browser, count()"
                f" FROM events WHERE {house} AND {pageviews} GROUP BY d, mat_browser",
            },
            500,
        ),
        Case(
            "breakdown by category (not materialised)",
            {**trend, "breakdownFilter": {"breakdown": "category"}},
            {
                "duckdb": f"SELECT date_trunc('day', timestamp) d,"
                f" variant_extract(properties, 'category')::VARCHAR c, count(*)"
                f" FROM events WHERE {window} AND {pageviews} GROUP BY 1, 2",
                "duckdb_json": f"SELECT date_trunc('day', timestamp) d,"
                f" json_extract_string(properties, '/category') c, count(*)"
                f" FROM {tables.duckdb_json} WHERE {window} AND {pageviews} GROUP BY 1, 2",
                "clickhouse": f"SELECT toStartOfDay(timestamp) d,"
                f" properties_json.category.:String c, count() FROM events"
                f" WHERE {house} AND {pageviews} GROUP BY d, c",
                "clickhouse_string": f"SELECT toStartOfDay(timestamp) d,"
                f" JSONExtractString(properties, 'category') c, count()"
                f" FROM {tables.clickhouse_string} WHERE {house} AND {pageviews} GROUP BY d, c",
            },
            300,
            at_most_clickhouse=True,
        ),
        Case(
            "breakdown by person property (plan)",
            {**trend, "breakdownFilter": {"breakdown": "plan", "breakdown_type": "person"}},
            {
                "duckdb": f"SELECT date_trunc('day', e.timestamp) d,"
                f" variant_extract(p.properties, 'plan')::VARCHAR plan, count(*)"
                f" FROM events e LEFT JOIN person_overrides o ON o.project_id = e.project_id"
                f" AND o.distinct_id = e.distinct_id LEFT JOIN persons p ON p.project_id ="
                f" e.project_id AND p.uuid = coalesce(o.person_uuid, e.person_id)"
                f" WHERE {e_window} AND e.{pageviews} GROUP BY 1, 2",
                "clickhouse": f"SELECT toStartOfDay(e.timestamp) d,"
                f" JSONExtractString(p.properties, 'plan') plan, count() FROM events e"
                f" LEFT JOIN {overrides} o ON o.distinct_id = e.distinct_id"
                f" LEFT JOIN {persons} p ON p.uuid = coalesce(o.person_uuid, e.person_id)"
                f" WHERE {e_house} AND e.{pageviews} GROUP BY d, plan",
            },
            1000,
        ),
        Case(
            "daily active users",
            {**trend, "series": [{"event": "$pageview", "math": "dau"}]},
            {
                "duckdb": f"SELECT date_trunc('day', e.timestamp) d,"
                f" count(DISTINCT coalesce(o.person_uuid, e.person_id)) FROM events e"
                f" LEFT JOIN person_overrides o ON o.project_id = e.project_id"
                f" AND o.distinct_id = e.distinct_id"
                f" WHERE {e_window} AND e.{pageviews} GROUP BY 1",
                "clickhouse": f"SELECT toStartOfDay(e.timestamp) d,"
                f" count(DISTINCT coalesce(o.person_uuid, e.person_id)) FROM events e"
                f" LEFT JOIN {overrides} o ON o.distinct_id = e.distinct_id"
                f" WHERE {e_house} AND e.{pageviews} GROUP BY d",
            },
        ),
        Case(
            "SQL: count per day",
            {
                "kind": "HogQLQuery",
                "query": "SELECT toStartOfDay(timestamp) AS day, count()"
                " FROM events WHERE timestamp >= '2026-10-01' GROUP BY day ORDER BY day",
            },
            {
                "duckdb": f"SELECT date_trunc('day', timestamp) d, count(*) FROM events"
                f" WHERE project_id = {project_id} AND timestamp >= '2026-10-01'"
                f" GROUP BY 1 ORDER BY 1",
                "clickhouse": f"SELECT toStartOfDay(timestamp) d, count() FROM events"
                f" WHERE project_id = {project_id} AND timestamp >= '2026-10-01'"
                f" GROUP BY d ORDER BY d",
            },
        ),
        Case(
            "SQL: properties.category, count()",
            {
                "kind": "HogQLQuery",
                "query": "SELECT properties.category, count() FROM events GROUP BY 1"
                " ORDER BY 2 DESC",
            },
            {
                "duckdb": f"SELECT variant_extract(properties, 'category')::VARCHAR c, count(*)"
                f" FROM events WHERE project_id = {project_id} GROUP BY 1 ORDER BY 2 DESC",
                "duckdb_json": f"SELECT json_extract_string(properties, '/category') c,"
                f" count(*) FROM {tables.duckdb_json} WHERE project_id = {project_id}"
                f" GROUP BY 1 ORDER BY 2 DESC",
                "clickhouse": f"SELECT properties_json.category.:String c, count() FROM events"
                f" WHERE project_id = {project_id} GROUP BY c ORDER BY 2 DESC",
                "clickhouse_string": f"SELECT JSONExtractString(properties, 'category') c,"
                f" count() FROM {tables.clickhouse_string} WHERE project_id = {project_id}"
                f" GROUP BY c ORDER BY 2 DESC",
            },
            at_most_clickhouse=True,
        ),
    ]
