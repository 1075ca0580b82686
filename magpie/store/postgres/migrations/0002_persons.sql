-- Persons, their distinct ids and groups. Events live elsewhere (ClickHouse);
-- these tables are what ingest workers lock and change.
CREATE TABLE persons (
    project_id BIGINT NOT NULL,
    uuid UUID NOT NULL,
    properties JSONB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    is_identified BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    last_seen_at TIMESTAMP,
    PRIMARY KEY (project_id, uuid)
);

-- Every distinct id belongs to a person that exists: a merge moves a person's
-- ids before it deletes the person, and the key refuses the other order.
CREATE TABLE person_distinct_ids (
    project_id BIGINT NOT NULL,
    distinct_id TEXT NOT NULL,
    person_uuid UUID NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (project_id, distinct_id),
    FOREIGN KEY (project_id, person_uuid) REFERENCES persons (project_id, uuid)
);
-- Loading a batch reads all ids of each person it touches.
CREATE INDEX person_distinct_ids_by_person ON person_distinct_ids (project_id, person_uuid);

-- Distinct ids seen on personless events, and whether they were merged since.
-- A merge also inserts a row for each id it gives a person (as PostHog does):
-- the unique key is where an anonymous event and a merge of the same new id
-- on another worker meet, so one of them waits and the other retries.
CREATE TABLE personless_distinct_ids (
    project_id BIGINT NOT NULL,
    distinct_id TEXT NOT NULL,
    is_merged BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, distinct_id)
);

-- Where a distinct id's events belong after a merge; event readers resolve
-- person_id through it, so past events never need rewriting.
CREATE TABLE person_overrides (
    project_id BIGINT NOT NULL,
    distinct_id TEXT NOT NULL,
    person_uuid UUID NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (project_id, distinct_id)
);

-- Audit trail of identity merges. kind: 'attach' (a new distinct id joined a
-- person), 'create' (two unknown ids became one new person) or 'merge' (two
-- persons became one). id orders merges recorded at the same instant.
CREATE TABLE person_merges (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL,
    event_timestamp TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    event_uuid UUID,
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_person_uuid UUID,
    target_person_uuid UUID NOT NULL,
    distinct_ids TEXT[] NOT NULL
);
CREATE INDEX person_merges_by_target ON person_merges (project_id, target_person_uuid);
CREATE INDEX person_merges_by_source ON person_merges (project_id, source_person_uuid);
CREATE INDEX person_merges_by_distinct_id ON person_merges USING GIN (distinct_ids);

-- A project's group types, numbered 0-4 in order of first use. Two workers
-- naming new types at once must not both take the same number.
CREATE TABLE group_type_mapping (
    project_id BIGINT NOT NULL,
    group_type TEXT NOT NULL,
    group_type_index INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, group_type),
    UNIQUE (project_id, group_type_index)
);

CREATE TABLE groups (
    project_id BIGINT NOT NULL,
    group_type_index INTEGER NOT NULL,
    group_key TEXT NOT NULL,
    properties JSONB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (project_id, group_type_index, group_key)
);
