-- What the ingest workers keep beside persons.

CREATE TABLE ingestion_warnings (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL,
    type TEXT NOT NULL,
    details JSONB NOT NULL,
    event_uuid UUID,
    timestamp TIMESTAMP NOT NULL
);
CREATE INDEX ingestion_warnings_by_project ON ingestion_warnings (project_id, timestamp);

-- How far each consumer (a queue partition in cluster mode, e.g. 'ingest:7')
-- has read; committed in the same transaction as the person changes it made.
CREATE TABLE queue_positions (
    consumer TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);

-- Queue records that could not be ingested even one by one, kept whole so
-- they can be replayed.
CREATE TABLE dead_letters (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer TEXT NOT NULL,
    queue_position BIGINT NOT NULL,
    payload BYTEA NOT NULL,
    error TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);

-- One row per committed ingest unit that wrote events. The event store tags
-- each event with its unit's batch; an event whose batch is not here was
-- written by a unit that never committed, so its person changes were undone
-- and a replay must apply them again (see magpie/store/postgres/ingest.py).
CREATE TABLE ingest_batches (
    batch UUID PRIMARY KEY,
    committed_at TIMESTAMP NOT NULL
);
