-- Projects and credentials.
CREATE SEQUENCE project_id_seq START 1;
CREATE TABLE projects (
    id BIGINT PRIMARY KEY DEFAULT nextval('project_id_seq'),
    name VARCHAR NOT NULL,
    api_token VARCHAR NOT NULL UNIQUE,
    timezone VARCHAR NOT NULL DEFAULT 'UTC',
    created_at TIMESTAMP NOT NULL
);

-- Personal API keys are kept as SHA-256 digests only.
CREATE TABLE personal_api_keys (
    id UUID PRIMARY KEY,
    label VARCHAR NOT NULL,
    key_digest VARCHAR NOT NULL UNIQUE,
    mask VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TYPE person_mode AS ENUM ('full', 'propertyless', 'force_upgrade');

-- One row per stored event. Deduplicated by (project_id, uuid) at insert.
-- Hot properties are materialised into columns at ingestion (mat_*).
CREATE TABLE events (
    project_id BIGINT NOT NULL,
    uuid UUID NOT NULL,
    event VARCHAR NOT NULL,
    distinct_id VARCHAR NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    properties JSON USING COMPRESSION zstd,
    elements_chain VARCHAR,
    person_id UUID NOT NULL,
    person_mode person_mode NOT NULL,
    person_properties JSON USING COMPRESSION zstd,
    person_created_at TIMESTAMP,
    group_0 VARCHAR,
    group_1 VARCHAR,
    group_2 VARCHAR,
    group_3 VARCHAR,
    group_4 VARCHAR,
    mat_current_url VARCHAR,
    mat_pathname VARCHAR,
    mat_host VARCHAR,
    mat_browser VARCHAR,
    mat_os VARCHAR,
    mat_device_type VARCHAR,
    mat_referring_domain VARCHAR,
    mat_utm_source VARCHAR,
    mat_utm_medium VARCHAR,
    mat_utm_campaign VARCHAR,
    mat_session_id VARCHAR,
    mat_lib VARCHAR,
    mat_lib_version VARCHAR,
    created_at TIMESTAMP NOT NULL
);

-- Persons exist only for identified users (person-processed events).
CREATE TABLE persons (
    project_id BIGINT NOT NULL,
    uuid UUID NOT NULL,
    properties JSON NOT NULL,
    created_at TIMESTAMP NOT NULL,
    is_identified BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    last_seen_at TIMESTAMP,
    PRIMARY KEY (project_id, uuid)
);

CREATE TABLE person_distinct_ids (
    project_id BIGINT NOT NULL,
    distinct_id VARCHAR NOT NULL,
    person_uuid UUID NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (project_id, distinct_id)
);

-- Distinct ids seen on personless events, and whether they were later merged.
CREATE TABLE personless_distinct_ids (
    project_id BIGINT NOT NULL,
    distinct_id VARCHAR NOT NULL,
    is_merged BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, distinct_id)
);

-- Where a distinct id's events now belong after a merge; reads resolve person_id
-- through this table, so past events never need rewriting.
CREATE TABLE person_overrides (
    project_id BIGINT NOT NULL,
    distinct_id VARCHAR NOT NULL,
    person_uuid UUID NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (project_id, distinct_id)
);

-- Audit trail of identity merges.
-- kind: 'attach' (a new distinct id joined a person), 'create' (two unknown ids
-- became one new person) or 'merge' (two persons became one).
CREATE TABLE person_merges (
    project_id BIGINT NOT NULL,
    event_timestamp TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    event_uuid UUID,
    event VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    source_person_uuid UUID,
    target_person_uuid UUID NOT NULL,
    distinct_ids JSON NOT NULL
);

CREATE TABLE group_type_mapping (
    project_id BIGINT NOT NULL,
    group_type VARCHAR NOT NULL,
    group_type_index INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, group_type)
);

CREATE TABLE groups (
    project_id BIGINT NOT NULL,
    group_type_index INTEGER NOT NULL,
    group_key VARCHAR NOT NULL,
    properties JSON NOT NULL,
    created_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (project_id, group_type_index, group_key)
);

CREATE TABLE ingestion_warnings (
    project_id BIGINT NOT NULL,
    type VARCHAR NOT NULL,
    details JSON NOT NULL,
    event_uuid UUID,
    timestamp TIMESTAMP NOT NULL
);

-- How far each consumer has read the durable queue; committed in the same
-- transaction as the rows it produced.
CREATE TABLE queue_positions (
    consumer VARCHAR PRIMARY KEY,
    position BIGINT NOT NULL
);

-- Queue records the worker could not ingest even one by one (a defect, never
-- bad input: capture validated it). Kept whole so they can be replayed.
CREATE TABLE dead_letters (
    queue_position BIGINT NOT NULL,
    payload BLOB NOT NULL,
    error VARCHAR NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
