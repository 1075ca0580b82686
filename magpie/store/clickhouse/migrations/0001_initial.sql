-- Events in PostHog's shape: one partition a month, sorted for the scans insights
-- make (a project's days, by event), deduplicated by uuid when parts merge. The
-- writer skips uuids already stored, so merges are only a backstop.
CREATE TABLE IF NOT EXISTS events (
    project_id Int64,
    uuid UUID,
    event String,
    distinct_id String,
    timestamp DateTime64(6, 'UTC'),
    properties String CODEC(ZSTD(3)),
    elements_chain Nullable(String),
    person_id UUID,
    person_mode Enum8('full' = 1, 'propertyless' = 2, 'force_upgrade' = 3),
    person_properties Nullable(String) CODEC(ZSTD(3)),
    person_created_at Nullable(DateTime64(6, 'UTC')),
    group_0 Nullable(String),
    group_1 Nullable(String),
    group_2 Nullable(String),
    group_3 Nullable(String),
    group_4 Nullable(String),
    created_at DateTime64(6, 'UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (project_id, toDate(timestamp), event, cityHash64(distinct_id), uuid)
-- A retried insert of the very same block is dropped.
SETTINGS non_replicated_deduplication_window = 1000;

-- Persons, distinct ids, overrides and groups are copies of the person store's
-- state for the joins: every write is a new version of a row, and reads take
-- the latest (FINAL), so writing the same state twice changes nothing.
CREATE TABLE IF NOT EXISTS persons (
    project_id Int64,
    uuid UUID,
    properties String CODEC(ZSTD(3)),
    created_at DateTime64(6, 'UTC'),
    is_identified Bool,
    last_seen_at Nullable(DateTime64(6, 'UTC')),
    is_deleted UInt8 DEFAULT 0,
    version Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, uuid);

CREATE TABLE IF NOT EXISTS person_distinct_ids (
    project_id Int64,
    distinct_id String,
    person_uuid UUID,
    version Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, distinct_id);

-- Where a distinct id's events belong after a merge (reads resolve person_id
-- through it, so past events are never rewritten).
CREATE TABLE IF NOT EXISTS person_overrides (
    project_id Int64,
    distinct_id String,
    person_uuid UUID,
    version Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, distinct_id);

CREATE TABLE IF NOT EXISTS group_type_mapping (
    project_id Int64,
    group_type String,
    group_type_index Int32,
    created_at DateTime64(6, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, group_type);

CREATE TABLE IF NOT EXISTS groups (
    project_id Int64,
    group_type_index Int32,
    group_key String,
    properties String CODEC(ZSTD(3)),
    created_at DateTime64(6, 'UTC'),
    version Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, group_type_index, group_key);
