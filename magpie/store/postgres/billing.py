"""Usage counters, dropped events, quotas and the price list in PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from magpie.store.model import QuotaLimits, UsageCount, UsageRow
from magpie.store.postgres.database import Connection, PostgresDatabase
from magpie.store.postgres.text import jsonb_text, pg_text

# Within a day, rows come in key order (the embedded store promises day order
# only, which this refines).
_USAGE_ROWS = """
SELECT day, lib, lib_version, event_class, excluded_event, events FROM usage_counters
WHERE project_id = %s AND day >= %s AND day < %s
ORDER BY day, lib, lib_version, event_class, excluded_event
"""

_DROPPED = """
SELECT coalesce(sum(events), 0) FROM usage_dropped
WHERE project_id = %s AND day >= %s AND day < %s
"""

# Workers add to the same counters at once: the upsert adds to the row as the
# other committed it, and rows go in key order so two upserts cannot deadlock.
_ADD_USAGE = """
INSERT INTO usage_counters AS u
    (project_id, day, lib, lib_version, event_class, excluded_event, events)
SELECT * FROM unnest(%s::bigint[], %s::date[], %s::text[], %s::text[], %s::text[], %s::text[],
                     %s::bigint[])
ON CONFLICT (project_id, day, lib, lib_version, event_class, excluded_event)
DO UPDATE SET events = u.events + excluded.events
"""

_ADD_DROPPED = """
INSERT INTO usage_dropped AS u (project_id, day, events) VALUES (%s, %s, %s)
ON CONFLICT (project_id, day) DO UPDATE SET events = u.events + excluded.events
"""

_QUOTAS = "SELECT project_id, max_events, max_amount FROM billing_quotas"

_SET_QUOTA = """
INSERT INTO billing_quotas (project_id, max_events, max_amount) VALUES (%s, %s, %s)
ON CONFLICT (project_id) DO UPDATE SET
    max_events = excluded.max_events, max_amount = excluded.max_amount
"""

_PRICING = "SELECT pricing FROM billing_pricing WHERE id = 1"

_STORE_PRICING = """
INSERT INTO billing_pricing (id, pricing, updated_at) VALUES (1, %s::jsonb, %s)
ON CONFLICT (id) DO UPDATE SET pricing = excluded.pricing, updated_at = excluded.updated_at
"""

UsageKey = tuple[int, date, str, str, str, str]


def add_usage(connection: Connection, counts: Sequence[UsageCount]) -> None:
    # One statement may not change a row twice, so repeats are summed first.
    totals: Counter[UsageKey] = Counter()
    for c in counts:
        key = (
            c.project_id,
            c.day,
            pg_text(c.lib),
            pg_text(c.lib_version),
            c.event_class,
            pg_text(c.excluded_event),
        )
        totals[key] += c.events
    if not totals:
        return
    keys = sorted(totals)
    connection.execute(
        _ADD_USAGE,
        (
            *([k[i] for k in keys] for i in range(6)),
            [totals[k] for k in keys],
        ),
    )


def add_dropped(connection: Connection, project_id: int, day: date, events: int) -> None:
    connection.execute(_ADD_DROPPED, (project_id, day, events))


class PostgresBillingStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def usage_rows(self, project_id: int, start: date, end: date) -> list[UsageRow]:
        with self._db.connection() as connection:
            rows = connection.execute(_USAGE_ROWS, (project_id, start, end)).fetchall()
        return [UsageRow(*row) for row in rows]

    def dropped_events(self, project_id: int, start: date, end: date) -> int:
        with self._db.connection() as connection:
            row = connection.execute(_DROPPED, (project_id, start, end)).fetchone()
        return int(row[0]) if row else 0

    def quota_limits(self) -> dict[int, QuotaLimits]:
        with self._db.connection() as connection:
            rows = connection.execute(_QUOTAS).fetchall()
        return {row[0]: QuotaLimits(row[1], row[2]) for row in rows}

    def set_quota_limits(self, project_id: int, limits: QuotaLimits) -> None:
        with self._db.connection() as connection:
            connection.execute(_SET_QUOTA, (project_id, limits.max_events, limits.max_amount))

    def stored_pricing(self) -> Any | None:
        with self._db.connection() as connection:
            row = connection.execute(_PRICING).fetchone()
        return row[0] if row else None

    def store_pricing(self, pricing: dict[str, Any], at: datetime) -> None:
        with self._db.connection() as connection:
            connection.execute(_STORE_PRICING, (jsonb_text(pricing), at))
