-- Cohorts (PostHog's shape): filters is the definition JSON; a static cohort has
-- none and is filled from distinct ids. version counts stored memberships and
-- count is the size of the one stored now. A deleted cohort is kept (soft delete).
CREATE TABLE cohorts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    filters JSONB NOT NULL,
    is_static BOOLEAN NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT false,
    version BIGINT NOT NULL DEFAULT 0,
    count BIGINT,
    last_calculation TIMESTAMP,
    errors_calculating INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX cohorts_by_project ON cohorts (project_id, id);

-- The stored membership: one row per member person, tagged with the version of
-- the computation that added it. Each computation replaces it in one
-- transaction; the key is also the index a flag's membership lookup uses.
CREATE TABLE cohort_people (
    project_id BIGINT NOT NULL,
    cohort_id BIGINT NOT NULL,
    person_uuid UUID NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (cohort_id, person_uuid)
);
