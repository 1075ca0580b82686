-- Cluster mode: events arrive through the loader, which inserts the processed
-- events of committed ingest units (magpie/store/clickhouse/loader.py).

-- The unit (batch) that stored each event: a worker asks which batches hold the
-- events it is about to store, to skip SDK retries (store/postgres/ingest.py).
ALTER TABLE events ADD COLUMN IF NOT EXISTS ingest_batch Nullable(UUID);

-- How far each loader has read the processed-event log; the latest row wins.
CREATE TABLE IF NOT EXISTS loader_positions (
    consumer String,
    position Int64,
    saved_at DateTime64(6, 'UTC')
) ENGINE = ReplacingMergeTree(saved_at)
ORDER BY consumer;
