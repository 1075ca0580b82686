-- Cohorts (PostHog's shape): filters is the definition JSON; a static cohort has
-- none and is filled from distinct ids. version counts stored memberships and
-- count is the size of the one stored now. A deleted cohort is kept (soft delete).
CREATE SEQUENCE cohort_id_seq START 1;
CREATE TABLE cohorts (
    id BIGINT PRIMARY KEY DEFAULT nextval('cohort_id_seq'),
    project_id BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    filters JSON NOT NULL,
    is_static BOOLEAN NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT false,
    version BIGINT NOT NULL DEFAULT 0,
    count BIGINT,
    last_calculation TIMESTAMP,
    errors_calculating INTEGER NOT NULL DEFAULT 0,
    last_error VARCHAR,
    created_at TIMESTAMP NOT NULL
);

-- The stored membership: one row per member person, tagged with the version of
-- the computation that added it. Each computation replaces it in one
-- transaction. No key: DuckDB would not use one for a member lookup (its index
-- scans take a single column), and maintaining it would triple a write's cost.
CREATE TABLE cohort_people (
    project_id BIGINT NOT NULL,
    cohort_id BIGINT NOT NULL,
    person_uuid UUID NOT NULL,
    version BIGINT NOT NULL
);
