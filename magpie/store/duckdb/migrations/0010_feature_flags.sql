-- Feature flags. filters is PostHog's filters JSON. A deleted flag stays (its
-- versions and $feature_flag_called events still name it) but gives up its key.
CREATE SEQUENCE feature_flag_id_seq START 1;
CREATE TABLE feature_flags (
    id BIGINT PRIMARY KEY DEFAULT nextval('feature_flag_id_seq'),
    project_id BIGINT NOT NULL,
    key VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    filters JSON NOT NULL,
    active BOOLEAN NOT NULL,
    ensure_experience_continuity BOOLEAN NOT NULL,
    deleted BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    created_by VARCHAR
);

-- The keys of flags that are not deleted: one flag per key and project.
CREATE TABLE feature_flag_keys (
    project_id BIGINT NOT NULL,
    key VARCHAR NOT NULL,
    flag_id BIGINT NOT NULL,
    PRIMARY KEY (project_id, key)
);

-- Every saved state of every flag: who changed it, when, to what.
CREATE TABLE feature_flag_versions (
    project_id BIGINT NOT NULL,
    flag_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    changed_by VARCHAR,
    state JSON NOT NULL,
    PRIMARY KEY (flag_id, version)
);

-- Experience continuity: the id a distinct id is bucketed by for a flag (the
-- anonymous distinct id it had before identify). Kept per distinct id, not per
-- person: /flags usually runs right after identify, before ingestion has made
-- the person. /flags stores it for both ids it is sent (the identified id and
-- the anonymous one), and the first hash key an id gets for a flag is kept.
CREATE TABLE feature_flag_hash_keys (
    project_id BIGINT NOT NULL,
    distinct_id VARCHAR NOT NULL,
    flag_key VARCHAR NOT NULL,
    hash_key VARCHAR NOT NULL,
    PRIMARY KEY (project_id, distinct_id, flag_key)
);
