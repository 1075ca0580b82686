"""The event store at scale: ClickHouse through clickhouse-connect (chdb:// in tests)."""
