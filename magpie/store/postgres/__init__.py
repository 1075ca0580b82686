"""The cluster backend's PostgreSQL part: projects, keys, billing, persons, groups,
accounts, insights and dashboards.

Events are not here: ClickHouse holds them, so the event reader and the sink
that ingest units write events to come from that backend.
"""

from __future__ import annotations

from magpie.clock import Clock
from magpie.store.base import EventReader, MembershipCopy, Stores
from magpie.store.postgres.accounts import PostgresSessionStore, PostgresUserStore
from magpie.store.postgres.actions import PostgresActionStore
from magpie.store.postgres.billing import PostgresBillingStore
from magpie.store.postgres.boards import PostgresDashboardStore, PostgresInsightStore
from magpie.store.postgres.cohorts import PostgresCohortStore
from magpie.store.postgres.database import PostgresDatabase
from magpie.store.postgres.flags import PostgresFeatureFlagStore
from magpie.store.postgres.group_reader import PostgresGroupReader
from magpie.store.postgres.ingest import PostgresIngestStore
from magpie.store.postgres.keys import PostgresApiKeyStore
from magpie.store.postgres.person_reader import PostgresPersonReader
from magpie.store.postgres.projects import PostgresProjectStore
from magpie.store.postgres.sink import EventSink

__all__ = ["EventSink", "PostgresDatabase", "PostgresIngestStore", "postgres_stores"]


def postgres_stores(
    database: str | PostgresDatabase,
    clock: Clock,
    events: EventReader,
    sink: EventSink,
    membership_copy: MembershipCopy | None = None,
) -> Stores:
    """Every store on PostgreSQL but the events, which ``events`` reads and ``sink`` writes.

    Given a URL (``postgresql://user@host:5432/database``), this opens a pool to
    it (migrating the schema first) that lives as long as the process; given a
    ``PostgresDatabase``, the caller keeps it and closes it. ``membership_copy``
    is where the event engine keeps its copy of cohort membership for queries.
    """
    db = PostgresDatabase(database) if isinstance(database, str) else database
    return Stores(
        actions=PostgresActionStore(db, clock),
        projects=PostgresProjectStore(db, clock),
        api_keys=PostgresApiKeyStore(db, clock),
        billing=PostgresBillingStore(db),
        events=events,
        persons=PostgresPersonReader(db),
        groups=PostgresGroupReader(db),
        ingest=PostgresIngestStore(db, sink),
        users=PostgresUserStore(db, clock),
        sessions=PostgresSessionStore(db, clock),
        insights=PostgresInsightStore(db, clock),
        feature_flags=PostgresFeatureFlagStore(db, clock),
        dashboards=PostgresDashboardStore(db, clock),
        cohorts=PostgresCohortStore(db, clock, membership_copy),
    )
