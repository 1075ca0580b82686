-- A cohort's size at each stored membership (a computation, or ids added to a
-- static cohort): the count over time the cohort page draws. One row per
-- version; the cohorts computed before this table get their current count.
CREATE TABLE cohort_counts (
    project_id BIGINT NOT NULL,
    cohort_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    count BIGINT NOT NULL,
    calculated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (cohort_id, version)
);
INSERT INTO cohort_counts
SELECT project_id, id, version, count, last_calculation FROM cohorts
WHERE count IS NOT NULL AND last_calculation IS NOT NULL;
