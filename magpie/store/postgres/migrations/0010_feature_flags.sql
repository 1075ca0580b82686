-- Feature flags. filters is PostHog's filters JSON. A deleted flag stays (its
-- versions and $feature_flag_called events still name it) but gives up its key.
CREATE TABLE feature_flags (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    filters JSONB NOT NULL,
    active BOOLEAN NOT NULL,
    ensure_experience_continuity BOOLEAN NOT NULL,
    deleted BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    created_by TEXT
);
CREATE INDEX feature_flags_by_project ON feature_flags (project_id);
-- One flag that is not deleted per key and project.
CREATE UNIQUE INDEX feature_flags_live_key ON feature_flags (project_id, key) WHERE NOT deleted;

-- Every saved state of every flag: who changed it, when, to what.
CREATE TABLE feature_flag_versions (
    project_id BIGINT NOT NULL,
    flag_id BIGINT NOT NULL REFERENCES feature_flags (id),
    version BIGINT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    changed_by TEXT,
    state JSONB NOT NULL,
    PRIMARY KEY (flag_id, version)
);

-- Experience continuity: the id a distinct id is bucketed by for a flag (the
-- anonymous distinct id it had before identify). Kept per distinct id, not per
-- person: /flags usually runs right after identify, before ingestion has made
-- the person. /flags stores it for both ids it is sent (the identified id and
-- the anonymous one), and the first hash key an id gets for a flag is kept.
CREATE TABLE feature_flag_hash_keys (
    project_id BIGINT NOT NULL,
    distinct_id TEXT NOT NULL,
    flag_key TEXT NOT NULL,
    hash_key TEXT NOT NULL,
    PRIMARY KEY (project_id, distinct_id, flag_key)
);
