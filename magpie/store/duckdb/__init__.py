"""The embedded backend: every store in one DuckDB file."""

from __future__ import annotations

from magpie.clock import Clock
from magpie.store.base import Stores
from magpie.store.duckdb.accounts import DuckDBSessionStore, DuckDBUserStore
from magpie.store.duckdb.actions import DuckDBActionStore
from magpie.store.duckdb.billing import DuckDBBillingStore
from magpie.store.duckdb.boards import DuckDBDashboardStore, DuckDBInsightStore
from magpie.store.duckdb.cohorts import DuckDBCohortStore
from magpie.store.duckdb.database import Database
from magpie.store.duckdb.event_reader import DuckDBEventReader
from magpie.store.duckdb.flags import DuckDBFeatureFlagStore
from magpie.store.duckdb.group_reader import DuckDBGroupReader
from magpie.store.duckdb.ingest import DuckDBIngestStore
from magpie.store.duckdb.person_reader import DuckDBPersonReader
from magpie.store.duckdb.projects import DuckDBApiKeyStore, DuckDBProjectStore


def duckdb_stores(db: Database, clock: Clock) -> Stores:
    return Stores(
        actions=DuckDBActionStore(db, clock),
        projects=DuckDBProjectStore(db, clock),
        api_keys=DuckDBApiKeyStore(db, clock),
        billing=DuckDBBillingStore(db),
        events=DuckDBEventReader(db),
        persons=DuckDBPersonReader(db),
        groups=DuckDBGroupReader(db),
        ingest=DuckDBIngestStore(db),
        users=DuckDBUserStore(db, clock),
        sessions=DuckDBSessionStore(db, clock),
        insights=DuckDBInsightStore(db, clock),
        feature_flags=DuckDBFeatureFlagStore(db, clock),
        dashboards=DuckDBDashboardStore(db, clock),
        cohorts=DuckDBCohortStore(db, clock),
    )
