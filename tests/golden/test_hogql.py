"""Golden: every HogQL query gives the same answer on DuckDB and on ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.golden.compare import rows
from tests.golden.conftest import Engines, engines_over
from tests.harness import Ingest

NOW = datetime(2026, 3, 2, tzinfo=UTC)

SPECIAL = {
    "$browser": "Safari",
    "prix": 12.5,
    "count": 30,
    "whole": 30.0,
    "flag": True,
    "off": False,
    "nothing": None,
    "nested": {"a": {"b": "deep"}, "n": 1, "list": [1, "x"]},
    "list": [1, "x", None],
    "clé": "valeur",
    "emoji 🎉": "oui",
    "a.b": "dotted",
    "$weird key": "w",
    "quote": 'it\'s "q"',
    "big": 1e20,
    "tiny": 2.5e-10,
    "neg": -0.0,
    "texte": "Ünïcödé ÉCOLE",
    "price": "7",
}


# One key, a value of another type on each event: what a typed store keeps apart
# (VARIANT and ClickHouse's JSON type hold a type per value) and must still read
# as the same text and numbers JSON text gave.
MIXED: list[object] = [
    30,
    "30",
    30.5,
    30.0,
    True,
    False,
    None,
    -5,
    "text",
    {"a": 1, "b": [1, "x"]},
    [1, 2.5, "x"],
    [],
    1e20,
    1e16,
    0.0001,
    2.5e-10,
    12345678.9,
    "1e+20",
    "{not json",
    "",
]


def _typed_events(ingest: Ingest) -> None:
    """Events whose properties vary in type, shape and presence (some keys on a few
    events only, one very long string)."""
    for i, value in enumerate(MIXED):
        props: dict[str, object] = {"mixed": value, "i": i}
        if i % 5 == 0:
            props["sometimes"] = f"s{i % 3}"
        if i == 3:
            props["long"] = "é" * 20_000
            props["deep"] = {"x": {"y": {"z": i}}, "n": None}
        ingest.send(
            ingest.event("typed", f"t-{i}", anonymous=True, after=timedelta(minutes=1), **props)
        )
    # What ClickHouse reads otherwise (test_what_clickhouse_reads_otherwise).
    ingest.send(ingest.event("differs", "d", anonymous=True, empty={}, spaced=" 7 "))


def fill(ingest: Ingest) -> None:
    """test_query_hogql's visitors, buyers and group, an event with awkward properties,
    and another project whose rows no query may see."""
    ingest.send(
        ingest.event(
            "$pageview",
            "anon-1",
            anonymous=True,
            **{"$browser": "Chrome", "$current_url": "https://a.example/x", "plan": "x"},
        ),
        ingest.event("$pageview", "anon-2", anonymous=True, **{"$browser": "Firefox"}),
        ingest.event(
            "$identify",
            "ada",
            **{"$anon_distinct_id": "anon-1", "$set": {"email": "ada@example.com", "n": 3}},
        ),
        ingest.event(
            "purchase", "ada", price=30, **{"$browser": "Chrome", "$groups": {"company": "acme"}}
        ),
        ingest.event(
            "$groupidentify",
            "ada",
            **{
                "$group_type": "company",
                "$group_key": "acme",
                "$group_set": {"name": "Acme", "seats": 12.0},
            },
        ),
        ingest.event("purchase", "bob", price=12.5, **{"$set": {"email": "bob@example.com"}}),
        ingest.event("special", "anon-3", anonymous=True, after=timedelta(hours=30), **SPECIAL),
        ingest.event(
            "$pageview",
            "ada",
            after=timedelta(days=3, minutes=7),
            **{"$browser": "Chrome", "$session_id": "s1", "utm_source": "news"},
        ),
    )
    _typed_events(ingest)
    mine = ingest.project_id
    ingest.new_project()
    ingest.send(ingest.event("other-project-event", "stranger", **{"$set": {"email": "x@y"}}))
    ingest.project_id = mine


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Engines]:
    yield from engines_over(tmp_path_factory, chdb_dsn, fill)


QUERIES: list[str | tuple[str, dict[str, object]]] = [
    # test_query_hogql.py
    "SELECT event, properties.$browser, properties['plan'], person.properties.email, "
    "person_mode FROM events ORDER BY timestamp",
    "SELECT distinct_id, person_id FROM events WHERE distinct_id IN ('anon-1', 'ada') "
    "GROUP BY 1, 2 ORDER BY 1",
    "SELECT count(DISTINCT person_id) FROM events",
    "SELECT properties.email, is_identified FROM persons ORDER BY 1",
    "SELECT distinct_id FROM person_distinct_ids ORDER BY 1",
    "SELECT p.properties.email, count() FROM events e JOIN persons p "
    "ON p.id = e.person_id GROUP BY 1 ORDER BY 1",
    "SELECT group_type, group_key, properties.name FROM groups",
    "SELECT group_0.properties.name, count() FROM events WHERE $group_0 = 'acme' GROUP BY 1",
    """WITH buyers AS (SELECT distinct_id, sum(toFloat(properties.price)) AS spent
                    FROM events WHERE event = 'purchase' GROUP BY distinct_id)
       SELECT distinct_id, spent, countIf(spent > 20) OVER () FROM buyers ORDER BY spent DESC""",
    "SELECT uniq(distinct_id), uniqExact(event), toDate(min(timestamp)) FROM events",
    # The hash's values are the engine's own: only what does not depend on them.
    "SELECT count(), countIf(cityHash64(uuid) = cityHash64(uuid)) FROM events",
    "SELECT count(DISTINCT cityHash64(distinct_id)) FROM events",
    ("SELECT count() FROM events WHERE event = {name}", {"name": "purchase"}),
    ("SELECT count() FROM events WHERE event = {name}", {"name": "purchase' OR 1=1 --"}),
    "SELECT count() FROM events WHERE event = 'other-project-event'",
    "SELECT count() FROM persons WHERE properties.email = 'x@y'",
    "SELECT count() FROM person_distinct_ids WHERE distinct_id = 'stranger'",
    "SELECT count() FROM (SELECT * FROM events) WHERE event = 'other-project-event'",
    "SELECT uuid FROM events",
    "SELECT uuid FROM events ORDER BY timestamp LIMIT 3",
    "SELECT nope FROM events",
    "SELECT person.nope FROM events",
    "SELECT * FROM users",
    "SELECT * FROM read_csv('/etc/passwd')",
    "DELETE FROM events",
    "SELECT 1 SETTINGS readonly = 0",
    # test_hogql_isolation.py
    "WITH events AS (SELECT * FROM events WHERE event = 'purchase') SELECT count() FROM events",
    "WITH EVENTS AS (SELECT event FROM Events) SELECT count() FROM events",
    "WITH a AS (SELECT 1 AS n) "
    "SELECT (SELECT n FROM (WITH a AS (SELECT 2 AS n) SELECT n FROM a)), n FROM a",
    "WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 4) "
    "SELECT sum(n) FROM t",
    "SELECT (SELECT max(event) FROM (SELECT event FROM events) AS x) FROM events LIMIT 1",
    "SELECT count() FROM events AS e WHERE EXISTS "
    "(SELECT 1 FROM persons AS p WHERE p.id = e.person_id)",
    "SELECT event + 1 FROM events",
    # ClickHouse has no & operator: its dialect spells it bitAnd.
    "SELECT toInt(properties.count) & 7, 6 & 3 FROM events WHERE event = 'special'",
    "SELECT toInt(event) + [1] FROM events",
    "SELECT CAST(event AS INT) FROM events",
    "WITH RECURSIVE X AS (SELECT * FROM events UNION ALL SELECT * FROM events WHERE 1=0) "
    "SELECT * FROM X",
    "WITH RECURSIVE person_overrides AS (SELECT * FROM persons UNION ALL "
    "SELECT * FROM persons WHERE 1=0) SELECT * FROM person_overrides",
    "WITH e AS (SELECT 1 AS project_id, 'anon-1' AS distinct_id) "
    "SELECT person_id, person.properties FROM events",
    # properties: $ and unicode keys, numbers, booleans, nested paths, missing
    "SELECT properties.prix, properties.count, properties.whole, properties.flag, "
    "properties.off, properties.nothing, properties.missing, properties.big, properties.tiny, "
    "properties.neg FROM events WHERE event = 'special'",
    "SELECT properties.nested.a.b, properties.nested.n, properties.nested.a, "
    "properties.nested.list, properties.list, properties.nested.missing.deeper "
    "FROM events WHERE event = 'special'",
    "SELECT properties['clé'], properties['emoji 🎉'], properties['a.b'], "
    "properties['$weird key'], properties.quote, properties.texte, properties.$browser "
    "FROM events WHERE event = 'special'",
    "SELECT toFloat(properties.prix) * 2, toFloat(properties.count) + 1, "
    "toFloat(properties.flag), toInt(properties.count), toFloat(properties.missing) "
    "FROM events WHERE event = 'special'",
    "SELECT sum(toFloat(properties.price)), avg(toFloat(properties.price)), "
    "min(toFloat(properties.price)), max(toFloat(properties.price)), "
    "count(toFloat(properties.price)) FROM events",
    "SELECT event, properties.plan IS NULL, isNull(properties.plan), "
    "isNotNull(properties.$browser), coalesce(properties.plan, 'none'), "
    "empty(properties.plan), notEmpty(properties.$browser) FROM events ORDER BY timestamp",
    "SELECT count() FROM events WHERE properties.missing IS NULL",
    "SELECT properties.$browser, count() FROM events GROUP BY 1 ORDER BY 2 DESC, 1",
    "SELECT properties.$current_url, properties.utm_source, properties.$session_id, "
    "$session_id FROM events ORDER BY timestamp",
    # persons, groups, merges
    "SELECT person.properties.email, person.properties.n, person.is_identified, "
    "person.created_at IS NOT NULL, count() FROM events GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
    "SELECT distinct_id, person.id = person_id, person.properties.email FROM events "
    "ORDER BY timestamp",
    "SELECT e.distinct_id, p.properties.email FROM events e LEFT JOIN persons p "
    "ON p.id = e.person_id ORDER BY e.timestamp",
    "SELECT d.distinct_id, p.properties.email FROM person_distinct_ids d "
    "JOIN persons p ON p.id = d.person_id ORDER BY 1",
    "SELECT group_0.properties.name, group_0.properties.seats, group_0.key, "
    "group_0.created_at IS NOT NULL, group_1.properties.name FROM events ORDER BY timestamp",
    "SELECT * FROM persons ORDER BY created_at",
    "SELECT * FROM groups",
    "SELECT * FROM person_distinct_ids ORDER BY distinct_id",
    "SELECT * FROM events ORDER BY timestamp",
    "SELECT count() FROM events WHERE person_id IN (SELECT id FROM persons)",
    "SELECT count() FROM events WHERE person_id NOT IN (SELECT person_id FROM person_distinct_ids)",
    # CTEs, joins, set operations, windows
    "WITH firsts AS (SELECT person_id, min(timestamp) AS first FROM events GROUP BY person_id) "
    "SELECT count(), count(DISTINCT person_id) FROM firsts",
    "WITH a AS (SELECT distinct_id, count() AS n FROM events GROUP BY 1), "
    "b AS (SELECT distinct_id, n * 2 AS m FROM a) "
    "SELECT a.distinct_id, n, m FROM a JOIN b ON a.distinct_id = b.distinct_id ORDER BY 1",
    "SELECT event FROM events WHERE event = 'purchase' UNION ALL "
    "SELECT distinct_id FROM person_distinct_ids",
    "SELECT event FROM events UNION SELECT event FROM events",
    "SELECT distinct_id, event, row_number() OVER (PARTITION BY distinct_id ORDER BY timestamp) "
    "FROM events ORDER BY distinct_id, timestamp",
    "SELECT distinct_id, count() OVER (PARTITION BY distinct_id), "
    "rank() OVER (ORDER BY distinct_id) FROM events ORDER BY distinct_id, timestamp",
    "SELECT distinct_id, timestamp, lag(event) OVER (PARTITION BY distinct_id ORDER BY timestamp), "
    "lead(event) OVER (PARTITION BY distinct_id ORDER BY timestamp) FROM events "
    "ORDER BY distinct_id, timestamp",
    "SELECT distinct_id, count() AS n FROM events GROUP BY distinct_id HAVING n > 1 ORDER BY n",
    # aggregates
    "SELECT countIf(event = 'purchase'), sumIf(toFloat(properties.price), event = 'purchase'), "
    "avgIf(toFloat(properties.price), event = 'purchase'), "
    "uniqIf(distinct_id, event = '$pageview'), "
    "minIf(timestamp, event = 'purchase'), maxIf(timestamp, event = 'purchase') FROM events",
    "SELECT quantile(0.5)(toFloat(properties.price)), quantile(0.9)(toFloat(properties.price)), "
    "median(toFloat(properties.price)) FROM events",
    "SELECT sum(toFloat(properties.price)) FROM events WHERE event = 'nothing-here'",
    # dates in UTC
    "SELECT timestamp, toStartOfDay(timestamp), toStartOfWeek(timestamp), "
    "toStartOfMonth(timestamp), toStartOfHour(timestamp), toDate(timestamp) FROM events "
    "ORDER BY timestamp",
    "SELECT toYear(timestamp), toMonth(timestamp), toHour(timestamp), "
    "formatDateTime(timestamp, '%Y-%m-%d %H:%M') FROM events ORDER BY timestamp",
    "SELECT dateDiff('day', toDateTime('2026-03-01 00:00:00'), timestamp), "
    "dateDiff('hour', toDateTime('2026-03-01 00:00:00'), timestamp) FROM events ORDER BY timestamp",
    "SELECT toStartOfDay(timestamp) AS day, count() FROM events "
    "WHERE timestamp >= '2026-03-01' GROUP BY day ORDER BY day",
    "SELECT count() FROM events WHERE timestamp >= toDateTime('2026-03-02 00:00:00') "
    "AND timestamp < toDateTime('2026-03-06 00:00:00')",
    "SELECT timestamp + INTERVAL 1 DAY, timestamp - INTERVAL 2 HOUR FROM events "
    "ORDER BY timestamp LIMIT 2",
    # strings and logic
    "SELECT lower(event), upper(event), length(event), concat(event, '-', distinct_id), "
    "substring(event, 2, 4), replaceAll(event, '$', ''), startsWith(event, '$') "
    "FROM events ORDER BY timestamp",
    "SELECT lower(properties.texte), upper(properties.texte), length(properties.texte), "
    "substring(properties.texte, 1, 3) FROM events WHERE event = 'special'",
    "SELECT count() FROM events WHERE match(distinct_id, '^anon')",
    "SELECT count() FROM events WHERE distinct_id ILIKE 'ANON%'",
    "SELECT event, multiIf(event = 'purchase', 'buy', event = '$pageview', 'view', 'other'), "
    "if(distinct_id = 'ada', 1, 0) FROM events ORDER BY timestamp",
    "SELECT 1 + 2, 7 / 2, 7 % 3, round(2.345, 2), abs(-3), greatest(1, 5, 3), least(4, 2)",
    # typed properties: one key of every type, as text, as a number, grouped, filtered
    "SELECT properties.i, properties.mixed, toFloat(properties.mixed), properties.mixed IS NULL "
    "FROM events WHERE event = 'typed' ORDER BY timestamp",
    "SELECT properties.mixed, count() FROM events WHERE event = 'typed' GROUP BY 1",
    "SELECT count() FROM events WHERE event = 'typed' AND toFloat(properties.mixed) > 10",
    "SELECT properties.i FROM events WHERE properties.mixed = '30' ORDER BY timestamp",
    "SELECT properties.i FROM events WHERE match(properties.mixed, '^[0-9]') ORDER BY timestamp",
    "SELECT properties.i FROM events WHERE properties.mixed ILIKE '%E%' ORDER BY timestamp",
    "SELECT sum(toFloat(properties.mixed)), min(toFloat(properties.mixed)), "
    "max(toFloat(properties.mixed)), count(toFloat(properties.mixed)) "
    "FROM events WHERE event = 'typed'",
    "SELECT properties.mixed.a, properties.mixed.b, properties.mixed.missing "
    "FROM events WHERE event = 'typed' ORDER BY timestamp",
    "SELECT properties.sometimes, count() FROM events GROUP BY 1",
    "SELECT count() FROM events WHERE properties.sometimes IS NOT NULL",
    "SELECT length(properties.long), substring(properties.long, 1, 3) "
    "FROM events WHERE properties.long IS NOT NULL",
    "SELECT properties.deep.x.y.z, properties.deep.x.y, properties.deep.n, properties.deep "
    "FROM events WHERE properties.deep IS NOT NULL",
    "SELECT properties FROM events WHERE event = 'typed' ORDER BY timestamp",
]


def _ids(query: str | tuple[str, dict[str, object]]) -> str:
    text = query if isinstance(query, str) else query[0]
    return " ".join(text.split())[:70]


@pytest.mark.parametrize("query", QUERIES, ids=[_ids(q) for q in QUERIES])
def test_same_answer_on_both_engines(
    engines: Engines, query: str | tuple[str, dict[str, object]]
) -> None:
    sql, values = (query, {}) if isinstance(query, str) else query
    payload = {"kind": "HogQLQuery", "query": sql, "values": values}
    pid = engines.ingest.project_id
    duck = engines.run("duckdb", payload, NOW, pid)
    house = engines.run("clickhouse", payload, NOW, pid)
    assert duck.error == house.error, (duck.error, house.error)
    if duck.value is None or house.value is None:
        return
    assert duck.value["columns"] == house.value["columns"]
    ordered = "ORDER BY" in sql.upper().split(") ")[-1] or "LIMIT 1" in sql
    assert rows(duck.value["results"], ordered=ordered) == rows(
        house.value["results"], ordered=ordered
    )


def test_what_clickhouse_reads_otherwise(engines: Engines) -> None:
    """The documented differences (docs/querying.md): an empty object is no value in
    ClickHouse's JSON type, and its toFloat does not trim spaces."""
    sql = "SELECT properties.empty, toFloat(properties.spaced) FROM events WHERE event = 'differs'"
    payload = {"kind": "HogQLQuery", "query": sql}
    pid = engines.ingest.project_id
    duck = engines.run("duckdb", payload, NOW, pid).value
    house = engines.run("clickhouse", payload, NOW, pid).value
    assert duck is not None and house is not None
    assert duck["results"] == [["{}", 7.0]]
    assert house["results"] == [[None, None]]
